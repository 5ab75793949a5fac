/**
 * What a span passes on to the next service besides its ids: the W3C `random` trace-id flag,
 * the `tracestate` it continued, and the baggage in its scope. Immutable and shared: every span
 * of a trace in this process points at the same object (a child copies its parent's pointer),
 * and the common cases, no `tracestate` and no baggage, use one of two shared constants, so
 * carrying them costs no allocation per request.
 */
import type { Baggage } from './baggage';
import type { Span } from './span';

/** The W3C context a span carries beside its ids. */
export class Carried {
  /**
   * @param random the trace id's right-most 7 bytes are random (W3C Trace Context Level 2,
   *   trace-flags bit 1): set on ids tomograph generated randomly, kept from what it continues.
   * @param traceState the `tracestate` to pass on, normalised (`parseTraceState`); absent when none.
   * @param baggage the baggage in scope; absent when none.
   */
  constructor(
    readonly random: boolean,
    readonly traceState: string | undefined,
    readonly baggage: Baggage | undefined,
  ) {}

  /** This context with other baggage (itself when the baggage is the same). */
  withBaggage(baggage: Baggage | undefined): Carried {
    if (baggage === this.baggage) return this;
    return carried(this.random, this.traceState, baggage);
  }
}

/** A random trace id, nothing else: what a new trace from tomograph's own ids carries. */
export const CARRIED_RANDOM = new Carried(true, undefined, undefined);
/** Nothing at all: a trace id of unknown making (a custom id generator, B3, a legacy token). */
export const CARRIED_NONE = new Carried(false, undefined, undefined);

/** The shared constant when there is no `tracestate` and no baggage, else a new `Carried`. */
export function carried(random: boolean, traceState: string | undefined, baggage: Baggage | undefined): Carried {
  if (traceState === undefined && baggage === undefined) return random ? CARRIED_RANDOM : CARRIED_NONE;
  return new Carried(random, traceState, baggage);
}

/**
 * A context value that is not a span: the current span (if any) under other baggage, as
 * `withBaggage` makes it current. The tracer unwraps it wherever it looks for the current span.
 */
export class BaggageScope {
  constructor(
    readonly span: Span | undefined,
    readonly carried: Carried,
  ) {}
}
