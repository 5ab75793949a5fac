import { inspect } from 'node:util';
import { BaggageScope, type Carried, CARRIED_NONE } from './carried';
import type { Clock } from './clock';
import { codes } from './codes';
import type { ContextValue } from './context';
import { errorMessage } from './diagnostics';
import type { Endpoint, FinishedSpan, Note, SpanKind, TagValue } from './types';

/** Options for `Span.annotate`. */
export interface NoteOptions {
  /** How long the noted event took, in microseconds. */
  duration?: number;
  /** When it happened, epoch microseconds. Default: now. */
  timestamp?: number;
}

/** A span as user code holds it: what `start`, `trace` and `currentSpan` give. */
export interface Span {
  /** 32 lower-case hex. */
  readonly traceId: string;
  /** 16 lower-case hex. */
  readonly id: string;
  readonly parentId?: string;
  readonly name: string;
  /** Whether this span's trace is being recorded and exported. */
  readonly sampled: boolean;
  /** False for the shared no-op span (tracing off, or an unsampled trace). */
  readonly recording: boolean;
  /** Adds a note (a timestamped event). */
  annotate(value: string, options?: NoteOptions): this;
  /**
   * Sets a tag. A value of another type than string, number or boolean (an object, an array,
   * null) is reported (`TOMOGRAPH_INVALID_TAG_VALUE`) and stored as its JSON text, cut at 4096
   * characters; `undefined` leaves the tag as it was.
   */
  tag(key: string, value: TagValue): this;
  /** Marks the span failed: sets `error` to the error's message and adds a note `error`. */
  fail(error: unknown): this;
  /** Renames the span (a server span learns its route only when the request is routed). */
  updateName(name: string): this;
  /**
   * Ends the span, now or at `endTimeUs` (epoch microseconds). Later calls are ignored:
   * integrations may race an abort against a finish.
   */
  end(endTimeUs?: number): void;
}

/** What a recording span needs from its tracer: a clock, somewhere to go when it ends, a way to report. */
export interface SpanSink {
  readonly clock: Clock;
  /** `frame`: set when `start()` made the span current (the tracer tracks those until they end). */
  spanEnded(span: RecordingSpan, frame: StartFrame | undefined): void;
  /** Reports a misuse (a tag value of the wrong type) through the tracer's diagnostics. */
  report(code: string, message: string, detail?: unknown): void;
  /** A caller handed in a time that is not epoch microseconds (`what`: which one); now is used instead. */
  invalidTime(what: string, value: unknown): void;
}

// Shared empty values: most spans carry no notes or few tags, so each span allocates its
// array/object only on first write.
const NO_NOTES: readonly Note[] = Object.freeze([]) as readonly Note[];
// A loop that annotates or tags without end must not grow a span without bound.
const MAX_NOTES = 1000;
const MAX_TAGS = 256;
const NO_TAGS: Readonly<Record<string, TagValue>> = Object.freeze({});
/** Longest JSON text stored for a tag value that is not a string, number or boolean. */
export const MAX_TAG_JSON_LENGTH = 4096;
// The largest time (µs) taken from a caller: past 2^53 µs (year 2255), µs are no longer whole.
const MAX_TIME_US = Number.MAX_SAFE_INTEGER;

/**
 * A caller's time in whole epoch µs, or now (reported) when it is not a number in [0, 2^53):
 * NaN and ±Infinity fail the comparisons, so one check covers every bad value.
 */
function checkedTime(sink: SpanSink, value: number, what: string): number {
  if (typeof value === 'number' && value >= 0 && value <= MAX_TIME_US) return Math.floor(value);
  sink.invalidTime(what, value);
  return sink.clock.nowUs();
}

/**
 * What `start()` needs to undo on `stop()`: the span that was current before. Kept in a private
 * field, so it is never part of what exporters and users see of a span.
 */
export interface StartFrame {
  previous: ContextValue | undefined;
}

/**
 * What the spans of one tracer share, per trace context: the tracer (its clock, where spans go
 * when they end), what they carry to the next service, and whether their ids need no checking.
 * One object for all of them (the tracer keeps one per common case; a child takes its parent's),
 * so each span pays one field for the three.
 */
export class SpanOrigin {
  constructor(
    readonly sink: SpanSink,
    /** The W3C random flag, `tracestate` and baggage passed on with the span. */
    readonly carried: Carried,
    /**
     * True when every id of the span was made by this SDK's id generator or read by its header
     * parser, so it is known to be lower-case hex of the right length, never all zeros: an
     * exporter need not check it again (`hasCheckedIds`). False when an id came from a caller.
     */
    readonly checkedIds: boolean,
  ) {}
}

// `RecordingSpan.#state`: the number of tag keys (at most MAX_TAGS) and two flags, in one small
// integer field rather than three.
const TAG_COUNT = 0x3ff;
const ENDED = 0x400;
/** `start()` made the span current: its frame is in `START_FRAMES`. */
const HAS_START_FRAME = 0x800;
/** `start()`'s frames of recording spans; only spans with `HAS_START_FRAME` have one. */
const START_FRAMES = new WeakMap<RecordingSpan, StartFrame>();

/**
 * A sampled span that records its notes and tags and is exported when it ends.
 *
 * Its own enumerable fields are exactly those of `FinishedSpan`, in the contract's order (one
 * hidden class for every span): what an exporter receives is what `JSON.stringify`, a spread or
 * `console.log` shows. The tracer's bookkeeping lives in `#private` fields, which are as fast as
 * ordinary ones and invisible to all of those; `localParent` is a getter on the prototype.
 */
export class RecordingSpan implements Span, FinishedSpan {
  readonly traceId: string;
  readonly id: string;
  readonly parentId: string | undefined;
  name: string;
  readonly service: string;
  kind: SpanKind | undefined;
  host: { address?: string; port?: number } | undefined;
  remote: Endpoint | undefined;
  /** Start, epoch microseconds. */
  readonly timestamp: number;
  /** Microseconds; 0 until the span ends, then at least 1. */
  duration: number;
  notes: Note[];
  tags: Record<string, TagValue>;
  error: string | undefined;
  readonly sampled: true;
  #localParent: RecordingSpan | undefined;
  /** The tracer, what the span carries, whether its ids are checked: shared (see `SpanOrigin`). */
  #origin: SpanOrigin;
  /**
   * Keys in `tags` (kept so the bound check costs nothing per tag), `ENDED`, `HAS_START_FRAME`.
   * A queued span keeps every field it has, so the tracer's bookkeeping is packed: three private
   * fields where there were six, 24 bytes less per queued span.
   */
  #state: number;

  constructor(
    origin: SpanOrigin,
    traceId: string,
    id: string,
    parentId: string | undefined,
    name: string,
    service: string,
    kind: SpanKind | undefined,
    host: { address?: string; port?: number } | undefined,
    remote: Endpoint | undefined,
    localParent: RecordingSpan | undefined,
    timestamp: number | undefined,
  ) {
    this.traceId = traceId;
    this.id = id;
    this.parentId = parentId;
    this.name = name;
    this.service = service;
    this.kind = kind;
    this.host = host;
    this.remote = remote;
    // Given times may be fractional (from performance.now, say); exported ones are whole µs.
    const sink = origin.sink;
    this.timestamp = timestamp === undefined ? sink.clock.nowUs() : checkedTime(sink, timestamp, 'start timestamp');
    this.duration = 0;
    this.notes = NO_NOTES as Note[];
    this.tags = NO_TAGS as Record<string, TagValue>;
    this.error = undefined;
    this.sampled = true;
    this.#localParent = localParent;
    this.#origin = origin;
    this.#state = 0;
  }

  /**
   * The span that was current in this process when this one started (undefined on the local
   * root): exporters that name things by their place in the local tree (StatsD) walk it.
   */
  get localParent(): RecordingSpan | undefined {
    return this.#localParent;
  }

  get recording(): boolean {
    return true;
  }

  /** True once `end()` has run. */
  get ended(): boolean {
    return (this.#state & ENDED) !== 0;
  }

  annotate(value: string, options?: NoteOptions): this {
    if ((this.#state & ENDED) !== 0) return this;
    const sink = this.#origin.sink;
    const given = options?.timestamp;
    const timestamp = given === undefined ? sink.clock.nowUs() : checkedTime(sink, given, 'note timestamp');
    let duration = options?.duration;
    if (duration !== undefined) {
      if (typeof duration === 'number' && duration > -MAX_TIME_US && duration <= MAX_TIME_US) {
        duration = Math.max(0, Math.floor(duration));
      } else {
        sink.invalidTime('note duration', duration);
        duration = undefined;
      }
    }
    const note: Note =
      duration === undefined ? { timestamp, value: String(value) } : { timestamp, value: String(value), duration };
    if (this.notes === NO_NOTES) this.notes = [note];
    else if (this.notes.length < MAX_NOTES) this.notes.push(note);
    return this;
  }

  tag(key: string, value: TagValue): this {
    const state = this.#state;
    if ((state & ENDED) !== 0) return this;
    const type = typeof value;
    if (type !== 'string' && type !== 'number' && type !== 'boolean') {
      // `undefined` means "no value": the tag is left as it is, the way an optional field reads.
      if (value === undefined) return this;
      this.#origin.sink.report(
        codes.INVALID_TAG_VALUE,
        `tomograph: tag ${JSON.stringify(String(key))} got ${describeType(value)}, not a string, number or boolean; stored as JSON text`,
        { key: String(key) },
      );
      value = tagValueText(value);
    }
    if (this.tags === NO_TAGS) this.tags = {};
    if (this.tags[key] === undefined) {
      if ((state & TAG_COUNT) >= MAX_TAGS) return this;
      this.#state = state + 1;
    }
    this.tags[key] = value;
    return this;
  }

  fail(error: unknown): this {
    if ((this.#state & ENDED) !== 0) return this;
    this.error = errorMessage(error);
    return this.annotate('error');
  }

  updateName(name: string): this {
    if ((this.#state & ENDED) === 0) this.name = String(name);
    return this;
  }

  end(endTimeUs?: number): void {
    const state = this.#state;
    if ((state & ENDED) !== 0) return;
    const sink = this.#origin.sink;
    const endUs = endTimeUs === undefined ? sink.clock.nowUs() : checkedTime(sink, endTimeUs, 'end time');
    this.duration = Math.max(1, Math.floor(endUs - this.timestamp));
    // Marked ended first, so late annotate/tag calls (and a second end) are no-ops.
    this.#state = state | ENDED;
    sink.spanEnded(this, (state & HAS_START_FRAME) === 0 ? undefined : START_FRAMES.get(this));
  }

  /** Whether the ids of `span` need no checking by an exporter (see `SpanOrigin.checkedIds`). */
  static checkedIds(span: unknown): boolean {
    return span instanceof RecordingSpan && span.#origin.checkedIds;
  }

  /** `start()`'s frame of `span`, if `start()` made it current and it is still open. */
  static startFrame(span: RecordingSpan): StartFrame | undefined {
    return (span.#state & HAS_START_FRAME) === 0 ? undefined : START_FRAMES.get(span);
  }

  static setStartFrame(span: RecordingSpan, frame: StartFrame | undefined): void {
    if (frame === undefined) {
      if ((span.#state & HAS_START_FRAME) === 0) return;
      START_FRAMES.delete(span);
      span.#state &= ~HAS_START_FRAME;
    } else {
      START_FRAMES.set(span, frame);
      span.#state |= HAS_START_FRAME;
    }
  }

  static origin(span: RecordingSpan): SpanOrigin {
    return span.#origin;
  }

  static carried(span: RecordingSpan): Carried {
    return span.#origin.carried;
  }

  static setCarried(span: RecordingSpan, carried: Carried): void {
    const origin = span.#origin;
    if (origin.carried !== carried) span.#origin = new SpanOrigin(origin.sink, carried, origin.checkedIds);
  }
}

/**
 * Whether an exporter may take `span`'s ids as they are: true for spans this SDK made with its
 * own id generator or continued from a header it parsed. Anything else (a plain object, a span
 * built by another library) must be checked.
 */
export function hasCheckedIds(span: unknown): boolean {
  return RecordingSpan.checkedIds(span);
}

/** What `start()` recorded on `span` (the span current before it), or undefined if `start()` did not make it current. */
export function startFrameOf(span: Span | undefined): StartFrame | undefined {
  if (span instanceof RecordingSpan) return RecordingSpan.startFrame(span);
  if (span instanceof NonRecordingSpan) return NonRecordingSpan.startFrame(span);
  return undefined;
}

/**
 * What a context value carries beside its span's ids (the W3C random flag, `tracestate`,
 * baggage): a span's own, or a `withBaggage` scope's. `CARRIED_NONE` for a span made elsewhere.
 */
export function carriedOf(value: ContextValue | undefined): Carried | undefined {
  if (value === undefined) return undefined;
  if (value instanceof RecordingSpan) return RecordingSpan.carried(value);
  if (value instanceof NonRecordingSpan) return NonRecordingSpan.carried(value);
  if (value instanceof BaggageScope) return value.carried;
  return CARRIED_NONE;
}

/** Sets what a span made by the tracer carries. */
export function setCarried(span: Span, carried: Carried): void {
  if (span instanceof RecordingSpan) RecordingSpan.setCarried(span, carried);
  else if (span instanceof NonRecordingSpan) NonRecordingSpan.setCarried(span, carried);
}

/** The span of a context value (a `withBaggage` scope holds the span current around it). */
export function spanOf(value: ContextValue | undefined): Span | undefined {
  return value instanceof BaggageScope ? value.span : value;
}

/** Records (or, with undefined, clears) what `start()` needs for `stop()`. */
export function setStartFrame(span: Span, frame: StartFrame | undefined): void {
  if (span instanceof RecordingSpan) RecordingSpan.setStartFrame(span, frame);
  else if (span instanceof NonRecordingSpan) NonRecordingSpan.setStartFrame(span, frame);
}

/**
 * A tag value of a type the contract does not allow (an object, an array, null, a bigint…) as
 * text: JSON (bigints as their digits), cut at `MAX_TAG_JSON_LENGTH` characters; what JSON cannot
 * write (a cycle, a function, a symbol) as `util.inspect` shows it. Never `[object Object]`,
 * never throws.
 */
export function tagValueText(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    text = undefined;
  }
  if (typeof text !== 'string') {
    try {
      text = inspect(value, { depth: 2, breakLength: Infinity });
    } catch {
      text = typeof value;
    }
  }
  return text.length > MAX_TAG_JSON_LENGTH ? text.slice(0, MAX_TAG_JSON_LENGTH - 1) + '…' : text;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return type === 'object' ? 'an object' : `a ${type}`;
}

/**
 * A span that records nothing: the span of an unsampled trace. It still carries the trace's ids,
 * so downstream services hear "not sampled" and the whole trace stays unrecorded.
 */
export class NonRecordingSpan implements Span {
  readonly recording = false;
  readonly sampled = false;
  #startFrame: StartFrame | undefined = undefined;
  /** The W3C random flag, `tracestate` and baggage passed on with this span (set by the tracer). */
  #carried: Carried = CARRIED_NONE;

  constructor(
    readonly traceId: string,
    readonly id: string,
    readonly name: string,
    readonly localParent: Span | undefined,
    readonly parentId?: string,
  ) {}

  annotate(): this {
    return this;
  }
  tag(): this {
    return this;
  }
  fail(): this {
    return this;
  }
  updateName(): this {
    return this;
  }
  end(): void {}

  static startFrame(span: NonRecordingSpan): StartFrame | undefined {
    return span.#startFrame;
  }

  static setStartFrame(span: NonRecordingSpan, frame: StartFrame | undefined): void {
    span.#startFrame = frame;
  }

  static carried(span: NonRecordingSpan): Carried {
    return span.#carried;
  }

  static setCarried(span: NonRecordingSpan, carried: Carried): void {
    span.#carried = carried;
  }
}

/** The one span of a disabled tracer: every call on it does nothing. */
export const NOOP_SPAN: Span = Object.freeze(new NonRecordingSpan('', '', '', undefined)) as Span;

/**
 * The context value under which exporters run. A span started under it is the no-op span, so
 * the SDK's own uploads (HTTP to a collector, say) are never traced.
 */
export const SUPPRESSED: Span = Object.freeze(new NonRecordingSpan('', '', 'suppressed', undefined)) as Span;
