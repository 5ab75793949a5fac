import { networkInterfaces } from 'node:os';
import { Baggage, type BaggageEntry, type BaggageValue, baggageValues } from './baggage';
import { BatchQueue, type DropCounts, type ExporterStats } from './batch-queue';
import { BaggageScope, type Carried, carried, CARRIED_NONE, CARRIED_RANDOM } from './carried';
import { type Clock, monotonicClock } from './clock';
import { clsHookedStore } from './cls-context';
import { codes } from './codes';
import { asyncLocalStorageStore, type ContextStore } from './context';
import { Diagnostics } from './diagnostics';
import { type IdGenerator, randomIdGenerator } from './ids';
import { describeValue, type ResolvedOptions, type TracerOptions, resolveOptions } from './options';
import { extractBaggage, extractContext, formatToken, injectBaggage, injectContext, ParsedContext, parseToken } from './propagation';
import { parseTraceState } from './tracestate';
import { rootSampler, type SamplerFunction, TraceRateLimiter } from './sampling';
import { flushAtExit } from './exit-flush';
import {
  carriedOf, hasCheckedIds, NOOP_SPAN, NonRecordingSpan, type NoteOptions, RecordingSpan, setCarried, setStartFrame, type Span,
  SpanOrigin, type SpanSink, spanOf, startFrameOf, SUPPRESSED,
} from './span';
import { tracedDecorator, type TracedDecorator } from './traced';
import { isThenable } from './thenable';
import type { Endpoint, HeaderCarrier, PropagationFormat, SpanKind, TagValue, TraceContext } from './types';

/** Options for a new span. */
export interface SpanOptions {
  /** The service recorded on the span. Default: the tracer's `serviceName`. */
  service?: string;
  kind?: SpanKind;
  /** Where the span ran. Default: the tracer's host. */
  host?: { address?: string; port?: number };
  /** The peer, for CLIENT spans. */
  remote?: Endpoint;
  /** Tags set at start. */
  tags?: Record<string, TagValue>;
  /** When the span started, epoch microseconds. Default: now. */
  timestamp?: number;
  /**
   * The parent: a trace token (any format `parseToken` reads), a span, or `null` for a new root.
   * Default: the current span.
   */
  parent?: string | Span | TraceContext | null;
  /**
   * The span's W3C baggage (what `extractBaggage` read, say). Default: its parent's: the current
   * scope's (see `withBaggage`) for the current span, what came with a `TraceContext` parent, none
   * for a new root (`parent: null`).
   */
  baggage?: Baggage;
}

/** What `stats()` returns. Every finished sampled span is exported, queued or dropped. */
export interface TracerStats {
  /** Recording (sampled) spans started. */
  spansStarted: number;
  /** Recording spans ended. Equals exported + queued + all drops. */
  spansFinished: number;
  /**
   * Recording spans started and not ended yet: `spansStarted - spansFinished`. In a quiet
   * process it is 0; a number that only grows means spans that are never ended (a `start()`
   * without `stop()`, reported as `TOMOGRAPH_SPAN_NOT_ENDED`).
   */
  spansOpen: number;
  spansExported: number;
  spansQueued: number;
  spansDropped: DropCounts;
  /** Export calls that threw, rejected or timed out. */
  exportErrors: number;
  /** Incoming trace headers (or tokens) that were malformed and ignored. */
  malformedHeaders: number;
  /** Traces not recorded because `maxTracesPerSecond` was reached (sampled roots and sampled incoming tokens). */
  tracesRateLimited: number;
  /** `annotate`/`tag` calls made with no current span. */
  noCurrentSpan: number;
  /** Per-exporter counts. */
  exporters: ExporterStats[];
}

const MAX_REPORTED_VALUE = 128;

/**
 * A tracer: a service name, a context store, a sampler and an export queue. The module
 * functions of `tomograph` use one default tracer; make more for more than one service in a
 * process. Until `configure` is called, every method is a cheap no-op. After it, no method
 * throws: faults go to `onDiagnostic`.
 */
export class Tracer {
  private enabled = false;
  private options: ResolvedOptions | undefined;
  private store: ContextStore = asyncLocalStorageStore();
  private queue: BatchQueue | undefined;
  private diagnostics = new Diagnostics();
  private sampleRoot: SamplerFunction = () => false;
  /** `maxTracesPerSecond`, when set. */
  private traceLimit: TraceRateLimiter | undefined;
  private ids: IdGenerator = randomIdGenerator();
  /** Whether `ids` is our own generator, whose ids need no checking downstream (`RecordingSpan.checkedIds`). */
  private ownIds = true;
  /** Whether new trace ids are random (W3C `random` flag): ours are, a custom generator's only if it says so. */
  private randomTraceIds = true;
  /** Baggage keys copied onto recording spans as `baggage.<key>` tags: all, some, or none (undefined). */
  private baggageTags: true | ReadonlySet<string> | undefined;
  private serviceName = 'unknown_service';
  private host: { address?: string; port?: number } | undefined;
  private shutdownPromise: Promise<void> | undefined;
  private counts = { spansStarted: 0, spansFinished: 0, malformedHeaders: 0, noCurrentSpan: 0, tracesRateLimited: 0 };
  private readonly sink: SpanSink & { clock: Clock };
  /** The shared `SpanOrigin`s of the common cases: no `tracestate` nor baggage; random flag or not; ids checked or not. */
  private readonly origins: readonly SpanOrigin[];
  private invalidTimeReported = false;
  /** Spans that `start()` opened and nothing has ended yet. */
  private openedByStart = 0;
  /** Reports a span from `start()` that was garbage-collected without ever ending. */
  private readonly lostSpans: FinalizationRegistry<string>;
  /** Undoes the `beforeExit` flush registration; undefined when not registered. */
  private forgetAtExit: (() => void) | undefined;
  /** `spansFinished` when `beforeExit` last flushed, so an exit flush runs once per new work. */
  private exitFlushedAt = -1;
  private exitReportedOpen = 0;
  private unconfiguredReported = false;

  constructor(options?: TracerOptions) {
    const tracer = this;
    this.sink = {
      clock: monotonicClock(),
      spanEnded(span, frame) {
        tracer.counts.spansFinished++;
        if (frame !== undefined) {
          tracer.openedByStart--;
          tracer.lostSpans.unregister(frame);
        }
        if (tracer.queue !== undefined) tracer.queue.add(span);
      },
      invalidTime(what, value) {
        // Once per configure: a caller that passes a bad time usually does so on every span.
        if (tracer.invalidTimeReported) return;
        tracer.invalidTimeReported = true;
        tracer.diagnostics.report(
          codes.INVALID_TIME,
          `tomograph: a span's ${what} was not a time in epoch microseconds (${describeValue(value)}); used the current time`,
          { what, value: describeValue(value) },
        );
      },
      report(code, message, detail) {
        tracer.diagnostics.report(code, message, detail);
      },
    };
    this.origins = [
      new SpanOrigin(this.sink, CARRIED_NONE, false),
      new SpanOrigin(this.sink, CARRIED_NONE, true),
      new SpanOrigin(this.sink, CARRIED_RANDOM, false),
      new SpanOrigin(this.sink, CARRIED_RANDOM, true),
    ];
    this.lostSpans = new FinalizationRegistry((name) => {
      this.openedByStart--;
      this.diagnostics.report(
        codes.SPAN_NOT_ENDED,
        `tomograph: span ${JSON.stringify(name)} was opened with start() and never stopped; it is lost`,
        { name },
      );
    });
    if (options !== undefined) this.configure(options);
  }

  /**
   * Sets the tracer up, or sets it up anew (counts restart, and the previous exporters are
   * flushed and shut down in the background). Throws a TypeError (code
   * `TOMOGRAPH_ERR_INVALID_OPTION`) on a wrong option: the only time tomograph throws.
   */
  configure(options: TracerOptions = {}): void {
    const resolved = resolveOptions(options);
    const previous = this.queue;
    // The same store again when it is asked for again: neither an AsyncLocalStorage nor a
    // cls-hooked namespace is ever let go by Node once used, and spans in flight keep their context.
    const sameStore =
      this.options !== undefined &&
      this.options.context === resolved.context &&
      this.options.clsNamespace === resolved.clsNamespace;
    this.options = resolved;
    this.diagnostics = new Diagnostics(resolved.onDiagnostic);
    if (!sameStore) {
      this.store =
        resolved.context === 'cls-hooked' ? clsHookedStore(resolved.clsNamespace) : asyncLocalStorageStore();
    }
    this.sink.clock = options.clock ?? monotonicClock();
    this.ids = options.idGenerator ?? randomIdGenerator();
    this.ownIds = options.idGenerator === undefined;
    this.randomTraceIds = options.idGenerator === undefined || options.idGenerator.random === true;
    this.baggageTags = resolved.baggageTags;
    this.sampleRoot = rootSampler(resolved.sampler, options.random ?? Math.random);
    this.traceLimit =
      resolved.maxTracesPerSecond === undefined ? undefined : new TraceRateLimiter(resolved.maxTracesPerSecond, this.sink.clock.nowUs());
    this.serviceName = resolved.serviceName;
    this.host = resolved.host ?? defaultHost();
    this.counts = { spansStarted: 0, spansFinished: 0, malformedHeaders: 0, noCurrentSpan: 0, tracesRateLimited: 0 };
    this.invalidTimeReported = false;
    this.openedByStart = 0;
    this.exitFlushedAt = -1;
    this.exitReportedOpen = 0;
    this.queue = new BatchQueue(resolved, resolved.exporters, this.diagnostics, (fn) =>
      this.store.run(SUPPRESSED, fn),
    );
    this.shutdownPromise = undefined;
    this.enabled = !resolved.disabled;
    this.forgetAtExit?.();
    this.forgetAtExit = this.enabled && resolved.flushOnExit ? flushAtExit(this) : undefined;
    if (previous !== undefined) void previous.shutdown();
  }

  /** Now, in epoch microseconds, on this tracer's clock: for integrations that time things. */
  now(): number {
    return this.sink.clock.nowUs();
  }

  /** The configured `serviceName` (`'unknown_service'` before `configure`); exporters name metrics with it. */
  get service(): string {
    return this.serviceName;
  }

  /** The `propagation` formats `inject` writes. */
  get propagation(): readonly PropagationFormat[] {
    return this.options?.propagation ?? [];
  }

  /** Whether spans are being made (configured, not disabled, not shut down). */
  get isEnabled(): boolean {
    return this.enabled;
  }

  /**
   * Makes a span without making it current: for integrations that hold the span themselves and
   * end it from a callback. Most code wants `trace` or `start`.
   */
  startSpan(name: string, options?: SpanOptions): Span {
    if (!this.enabled) return NOOP_SPAN;
    const parentOption = options?.parent;
    if (parentOption === undefined) {
      const active = this.store.active();
      return this.childOf(spanOf(active), name, options, undefined, carriedOf(active));
    }
    // A new root or a remote parent starts from what came with it, never from the ambient scope:
    // a server's request must not inherit baggage from wherever the server was started.
    if (parentOption === null) return this.childOf(undefined, name, options, undefined, undefined);
    if (typeof parentOption === 'string') return this.childOf(undefined, name, options, this.parseIncoming(parentOption), undefined);
    if (typeof (parentOption as TraceContext).spanId === 'string') {
      return this.childOf(undefined, name, options, parentOption as TraceContext, undefined);
    }
    return this.childOf(parentOption as Span, name, options, undefined, carriedOf(parentOption as Span));
  }

  /**
   * A new span under a local `parent`, else under `remote`, else a new root. `scope` is what the
   * current context carries (the local parent's, or the current `withBaggage` scope's): a local
   * child continues it whole; a root made under it (a `withBaggage` scope with no span) takes its
   * baggage; a remote child takes the remote's.
   */
  private childOf(
    parent: Span | undefined,
    name: string,
    options: SpanOptions | undefined,
    remote: TraceContext | undefined,
    scope: Carried | undefined,
  ): Span {
    // Under the no-op span (which `trace` makes current while exporting), children are no-ops
    // too: otherwise a span started there would begin a new, sampled root trace.
    if (parent === SUPPRESSED || parent === NOOP_SPAN) return NOOP_SPAN;
    // The commonest root: no options, outside any span and baggage scope.
    if (parent === undefined && remote === undefined && options === undefined && scope === undefined) return this.localRoot(name);
    const givenBaggage = options?.baggage;
    if (parent !== undefined) {
      let context = scope ?? CARRIED_NONE;
      if (givenBaggage !== undefined) context = context.withBaggage(givenBaggage);
      if (!parent.sampled) return carrying(new NonRecordingSpan(parent.traceId, parent.id, name, parent, parent.parentId), context);
      return this.recordingSpan(parent.traceId, this.ids.spanId(), parent.id, name, options, parent, hasCheckedIds(parent), context);
    }
    if (remote !== undefined) {
      const context = this.remoteCarried(remote, givenBaggage ?? remote.baggage);
      if (!remote.sampled || !this.underTraceLimit()) {
        return carrying(new NonRecordingSpan(remote.traceId, remote.spanId, name, undefined, remote.spanId), context);
      }
      return this.recordingSpan(remote.traceId, this.ids.spanId(), remote.spanId, name, options, undefined, remote instanceof ParsedContext && remote.unchanged(), context);
    }
    const context = carried(this.randomTraceIds, undefined, givenBaggage ?? scope?.baggage);
    const traceId = this.ids.traceId();
    if (!this.sampleNewTrace(name)) return carrying(new NonRecordingSpan(traceId, this.rootSpanId(traceId), name, undefined), context);
    return this.recordingSpan(traceId, this.rootSpanId(traceId), undefined, name, options, undefined, true, context);
  }

  /** Whether a new root trace named `name` is recorded: the sampler, then `maxTracesPerSecond`. */
  private sampleNewTrace(name: string): boolean {
    let sampled: boolean;
    try {
      sampled = this.sampleRoot(name) === true;
    } catch (error) {
      sampled = false;
      this.diagnostics.report(codes.SAMPLER_FAILED, 'tomograph: the sampler threw; trace not sampled', error);
    }
    return sampled && this.underTraceLimit();
  }

  /** What a span continuing `remote` carries: its flag and `tracestate`, and `baggage`. */
  private remoteCarried(remote: TraceContext, baggage: Baggage | undefined): Carried {
    if (remote instanceof ParsedContext) return remote.carried.withBaggage(baggage);
    // A context from user code: its tracestate is checked like a header's.
    const traceState = typeof remote.traceState === 'string' ? parseTraceState(remote.traceState) ?? undefined : undefined;
    return carried(remote.random === true, traceState, baggage instanceof Baggage ? baggage : undefined);
  }

  /** Whether `maxTracesPerSecond` lets one more trace be recorded now (always, without a cap). */
  private underTraceLimit(): boolean {
    const limit = this.traceLimit;
    if (limit === undefined || limit.take(this.sink.clock.nowUs())) return true;
    this.counts.tracesRateLimited++;
    return false;
  }

  /** Runs `fn` with `span` current, restoring the previous span when it returns. */
  withSpan<R>(span: Span | undefined, fn: () => R): R {
    if (!this.enabled) return fn();
    return this.store.run(span, fn);
  }

  /**
   * Runs `fn` inside a new child span (sync or async) and ends the span when `fn` returns or
   * settles. A thrown or rejected error marks the span failed and reaches the caller unchanged.
   */
  trace<R>(name: string, fn: (span: Span) => R, options?: SpanOptions): R {
    if (!this.enabled) return fn(NOOP_SPAN);
    let span: Span;
    if (options?.parent === undefined) {
      const active = this.store.active();
      if (options === undefined && active instanceof RecordingSpan) {
        // The commonest span: a child of the current recording span, without options.
        span = this.localChild(active, name);
      } else {
        const current = spanOf(active);
        // Inside an unsampled trace a child would carry the very same ids and record nothing, so
        // the current span serves as it is: no allocation, no context switch.
        if (current !== undefined && !current.sampled && current !== SUPPRESSED && options?.baggage === undefined) return fn(current);
        span = this.childOf(current, name, options, undefined, carriedOf(active));
      }
      const runFrom = this.store.runFrom;
      if (runFrom !== undefined) return runFrom(active, span, runAndEnd, span, fn);
    } else {
      span = this.startSpan(name, options);
    }
    return this.store.run(span, () => runAndEnd(span, fn));
  }

  /**
   * Continues a trace from a token that crossed a boundary (a worker message, a queue item):
   * `fn` runs in a child of the token's span. An absent or malformed token starts a new trace.
   * The token is a string (`getTraceInfo()`: ids and flags only) or headers (`inject({})`: with
   * `tracestate` and baggage too), read as `extractContext` and `extractBaggage` read them.
   */
  continueTrace<R>(
    token: string | HeaderCarrier | undefined,
    name: string,
    fn: (span: Span) => R,
    options?: SpanOptions,
  ): R {
    if (this.options === undefined && !this.unconfiguredReported) {
      // The usual cause: a worker thread or child process, whose tomograph is a fresh copy.
      this.unconfiguredReported = true;
      this.diagnostics.report(
        codes.NOT_CONFIGURED,
        'tomograph: continueTrace() before configure() in this process or thread: nothing is recorded ' +
          '(a worker thread or child process must call configure() itself)',
        { name },
      );
    }
    if (token !== null && typeof token === 'object') {
      const parent = this.extractContext(token);
      const baggage = options?.baggage ?? (parent === undefined ? this.extractBaggage(token) : undefined);
      return this.trace(name, fn, { ...options, parent: parent ?? null, baggage });
    }
    return this.trace(name, fn, { ...options, parent: token ?? null });
  }

  /**
   * A wrapper and method decorator: `traced('load')(fn)`, `@traced()` (standard decorators) and
   * `@traced()` under `experimentalDecorators`. The name defaults to the function's.
   */
  traced(name?: string, options?: SpanOptions): TracedDecorator {
    return tracedDecorator((spanName, fn) => this.trace(spanName, fn, options), name);
  }

  /**
   * Opens a child of the current span and makes it current for the rest of this async flow, the
   * Python tomograph's stack model. Prefer `trace`: `start` cannot know where an async caller
   * resumes (see README, "start/stop or trace?").
   */
  start(name: string, options?: SpanOptions): Span {
    if (!this.enabled) return NOOP_SPAN;
    const span = this.startSpan(name, options);
    if (span === NOOP_SPAN) return span;
    // stop() goes back to what was current, which is not the parent when `options.parent` was given.
    const frame = { previous: this.store.active() };
    setStartFrame(span, frame);
    if (span instanceof RecordingSpan) {
      // A span start() opened and nothing ends is lost without a trace: say so when it is
      // collected. The frame is the unregister token (V8 keeps a target that is its own token alive).
      this.openedByStart++;
      this.lostSpans.register(span, span.name, frame);
    }
    this.store.enter(span);
    return span;
  }

  /**
   * Ends the span that `start` made current and makes its parent current again. A name that
   * does not match, or no span from `start`, is reported through `onDiagnostic` and changes nothing.
   */
  stop(name?: string): void {
    if (!this.enabled) return;
    const current = spanOf(this.store.active());
    const frame = startFrameOf(current);
    if (current === undefined || current === SUPPRESSED || frame === undefined) {
      this.diagnostics.report(
        codes.STOP_WITHOUT_START,
        `tomograph: stop(${name === undefined ? '' : JSON.stringify(name)}) found no span opened by start()`,
      );
      return;
    }
    if (name !== undefined && current.name !== name) {
      this.diagnostics.report(
        codes.STOP_MISMATCH,
        `tomograph: stop(${JSON.stringify(name)}) but the current span is "${current.name}"; nothing stopped`,
        { expected: current.name, got: name },
      );
      return;
    }
    current.end();
    setStartFrame(current, undefined);
    this.store.enter(frame.previous);
  }

  /** The span current in this async flow, if any. */
  currentSpan(): Span | undefined {
    if (!this.enabled) return undefined;
    const span = spanOf(this.store.active());
    return span === SUPPRESSED ? undefined : span;
  }

  /**
   * The W3C baggage in scope: every key's value (percent-decoded), as a frozen object; empty
   * when there is none. Baggage comes from the incoming request's `baggage` header and from
   * `withBaggage` scopes.
   */
  getBaggage(): Readonly<Record<string, string>> {
    return baggageValues(this.baggageInScope());
  }

  /** The W3C baggage in scope as entries, in order, with their properties. Empty when there is none. */
  getBaggageEntries(): readonly BaggageEntry[] {
    return this.baggageInScope()?.entries ?? [];
  }

  /**
   * Runs `fn` with `entries` added to the baggage in scope (a `null` or `undefined` value removes
   * that key), and returns what `fn` returns. The change is seen by `fn` and everything it starts,
   * sync or async, and sent on with its outgoing requests; it never leaks past `fn`. Invalid keys,
   * invalid properties and entries past the limits (180 members, 8192 bytes) are left out and
   * reported (`TOMOGRAPH_BAGGAGE_DROPPED`). Errors from `fn` pass through unchanged.
   */
  withBaggage<R>(entries: Readonly<Record<string, BaggageValue>>, fn: () => R): R {
    if (!this.enabled || entries === null || typeof entries !== 'object') return fn();
    const active = this.store.active();
    const span = spanOf(active);
    if (span === SUPPRESSED) return fn();
    const context = carriedOf(active) ?? carried(false, undefined, undefined);
    const baggage = (context.baggage ?? Baggage.EMPTY).withEntries(entries, this.onBaggageDropped);
    return this.store.run(new BaggageScope(span, context.withBaggage(baggage)), fn);
  }

  /**
   * Reads the `baggage` header alone, for a request without trace headers (`extractContext`
   * reads it when there are); pass it as `SpanOptions.baggage`. Invalid members are dropped and
   * reported. Undefined when absent or when the tracer is disabled.
   */
  extractBaggage(headers: HeaderCarrier | undefined | null): Baggage | undefined {
    if (!this.enabled) return undefined;
    return extractBaggage(headers, this.onMalformed);
  }

  private baggageInScope(): Baggage | undefined {
    if (!this.enabled) return undefined;
    return carriedOf(this.store.active())?.baggage;
  }

  /** Adds a note to the current span (`options.duration` in microseconds). */
  annotate(value: string, options?: NoteOptions): void {
    const span = this.currentSpan();
    if (span === undefined) this.noCurrentSpan('annotate');
    else span.annotate(value, options);
  }

  /** Sets a tag on the current span. */
  tag(key: string, value: TagValue): void {
    const span = this.currentSpan();
    if (span === undefined) this.noCurrentSpan('tag');
    else span.tag(key, value);
  }

  /** The current trace token in the `X-Trace-Info` format, or undefined outside a trace. */
  getTraceInfo(span: Span | undefined = this.currentSpan()): string | undefined {
    if (span === undefined || span === NOOP_SPAN) return undefined;
    return formatToken({ traceId: span.traceId, spanId: span.id, sampled: span.sampled, random: carriedOf(span)?.random });
  }

  /**
   * Writes the current trace's headers (the `propagation` formats, with `tracestate` beside the
   * W3C ones) and the baggage in scope (`baggage`) into `headers` and returns it: a plain
   * object, Node's outgoing headers, a WHATWG `Headers`, or a request with `setHeader`. With
   * `span` given, its trace and the baggage it was started under are written instead.
   */
  inject<H extends HeaderCarrier>(headers: H, span?: Span): H {
    if (this.options === undefined) return headers;
    let context: Carried | undefined;
    if (span === undefined) {
      if (!this.enabled) return headers;
      const active = this.store.active();
      span = spanOf(active);
      if (span === SUPPRESSED) return headers;
      context = carriedOf(active);
    } else {
      context = carriedOf(span);
    }
    let ok: boolean;
    if (span === undefined || span === NOOP_SPAN) {
      // No trace, but baggage set outside one (withBaggage) still goes on.
      const baggage = context?.baggage;
      if (baggage === undefined) return headers;
      ok = injectBaggage(headers, baggage);
    } else {
      ok = injectContext(
        headers,
        {
          traceId: span.traceId,
          spanId: span.id,
          sampled: span.sampled,
          random: context?.random,
          traceState: context?.traceState,
          baggage: context?.baggage,
        },
        this.options.propagation,
        span.parentId,
      );
    }
    if (!ok) this.diagnostics.report(codes.INJECT_FAILED, 'tomograph: could not write trace headers to the carrier');
    return headers;
  }

  /** Alias of `inject`, the Python tomograph's name. */
  addTraceInfoHeader<H extends HeaderCarrier>(headers: H, span?: Span): H {
    return this.inject(headers, span);
  }

  /**
   * The incoming trace token in `headers` (X-Trace-Info, traceparent, b3, X-B3-*, in that
   * order), normalised to the `X-Trace-Info` format; undefined when none is valid. Malformed
   * headers are counted and reported, never thrown.
   */
  extract(headers: HeaderCarrier | undefined | null): string | undefined {
    const context = this.extractContext(headers);
    return context === undefined ? undefined : formatToken(context);
  }

  /**
   * What `extract` reads, as ids rather than a token: pass it as `parent` to `startSpan`,
   * which then has no token to parse (server integrations, once per request). Undefined when
   * no header is valid or the tracer is disabled; malformed headers are counted and reported,
   * never thrown.
   */
  extractContext(headers: HeaderCarrier | undefined | null): TraceContext | undefined {
    if (!this.enabled) return undefined;
    return extractContext(headers, this.onMalformed);
  }

  /** Reads a trace token (any format `extract` accepts as a value) into its ids. */
  parseToken(token: string): TraceContext | undefined {
    return parseToken(token);
  }

  /** Exports everything finished so far; resolves when it is exported or dropped. Never rejects. */
  async flush(): Promise<void> {
    try {
      await this.queue?.flush();
    } catch {
      // The queue reports its own faults; flush() only has to settle.
    }
  }

  /** Flushes, then shuts the exporters down. Safe to call twice; later spans are no-ops. */
  shutdown(): Promise<void> {
    if (this.shutdownPromise === undefined) {
      const queue = this.queue;
      this.enabled = false;
      this.forgetAtExit?.();
      this.forgetAtExit = undefined;
      this.shutdownPromise = queue === undefined ? Promise.resolve() : queue.shutdown().catch(() => undefined);
    }
    return this.shutdownPromise;
  }

  /** Counts since the last `configure`. */
  stats(): TracerStats {
    const queue = this.queue;
    return {
      spansStarted: this.counts.spansStarted,
      spansFinished: this.counts.spansFinished,
      spansOpen: this.counts.spansStarted - this.counts.spansFinished,
      spansExported: queue?.exported ?? 0,
      spansQueued: queue?.queued ?? 0,
      spansDropped: queue !== undefined
        ? { ...queue.drops }
        : { queueFull: 0, exportFailed: 0, exporterBusy: 0, noExporter: 0, shutdown: 0, shutdownTimeout: 0 },
      exportErrors: queue?.exportErrors ?? 0,
      malformedHeaders: this.counts.malformedHeaders,
      tracesRateLimited: this.counts.tracesRateLimited,
      noCurrentSpan: this.counts.noCurrentSpan,
      exporters: queue?.exporterStats() ?? [],
    };
  }

  /**
   * Called when the event loop empties (`beforeExit`), unless `flushOnExit: false`: flushes what
   * finished since the last such flush (once: the flush's own work empties the loop again), and
   * reports spans that `start()` opened and nothing stopped.
   */
  beforeExit(): void {
    if (!this.enabled) return;
    const open = this.openedByStart;
    if (open > 0 && open !== this.exitReportedOpen) {
      this.exitReportedOpen = open;
      this.diagnostics.report(
        codes.SPAN_NOT_ENDED,
        `tomograph: ${open} span${open === 1 ? '' : 's'} opened with start() never stopped; not exported`,
        { open },
      );
    }
    if (this.counts.spansFinished === this.exitFlushedAt) return;
    this.exitFlushedAt = this.counts.spansFinished;
    void this.flush();
  }

  /** Reports an SDK-side fault through this tracer's `onDiagnostic`: for integrations. */
  report(code: string, message: string, detail?: unknown): void {
    this.diagnostics.report(code, message, detail);
  }

  /** Counts and reports one malformed header. Bound once, so `extract` allocates no closure. */
  private readonly onMalformed = (header: string, value: unknown): void => {
    this.counts.malformedHeaders++;
    this.diagnostics.report(codes.MALFORMED_HEADER, `tomograph: ignored a malformed ${header} header`, {
      header,
      value: typeof value === 'string' ? value.slice(0, MAX_REPORTED_VALUE) : typeof value,
    });
  };

  /** Reports baggage entries `withBaggage` left out. Bound once, like `onMalformed`. */
  private readonly onBaggageDropped = (reason: string, key?: string): void => {
    this.diagnostics.report(codes.BAGGAGE_DROPPED, `tomograph: baggage ${key === undefined ? '' : JSON.stringify(key) + ' '}${reason}`, { key });
  };

  private parseIncoming(token: string): TraceContext | undefined {
    const context = parseToken(token);
    if (context === undefined) this.onMalformed('token', token);
    return context;
  }

  private recordingSpan(
    traceId: string,
    id: string,
    parentId: string | undefined,
    name: string,
    options: SpanOptions | undefined,
    localParent: Span | undefined,
    checkedIds: boolean,
    context: Carried,
  ): RecordingSpan {
    // A sampled parent made here is a RecordingSpan; one handed in by the caller may be any span.
    const recordingParent = localParent instanceof RecordingSpan ? localParent : undefined;
    this.counts.spansStarted++;
    const parentOrigin = recordingParent === undefined ? undefined : RecordingSpan.origin(recordingParent);
    const origin = this.originFor(context, checkedIds && this.ownIds, parentOrigin);
    const span = new RecordingSpan(
      origin,
      traceId,
      id,
      parentId,
      typeof name === 'string' ? name : String(name),
      options?.service ?? this.serviceName,
      options?.kind,
      options?.host ?? this.host,
      options?.remote,
      recordingParent,
      options?.timestamp,
    );
    const tags = options?.tags;
    if (tags !== undefined) for (const key of Object.keys(tags)) span.tag(key, tags[key]);
    if (this.baggageTags !== undefined && context.baggage !== undefined) tagBaggage(span, context.baggage, this.baggageTags);
    return span;
  }

  /**
   * `recordingSpan` for a child of the current recording span, without options: the same span,
   * made without the checks that only options, remote parents and other context values need.
   */
  private localChild(parent: RecordingSpan, name: string): RecordingSpan {
    this.counts.spansStarted++;
    // The parent's origin serves, unless the parent came from another tracer or an earlier
    // configure with our own id generator (`withSpan` can make any span current).
    const parentOrigin = RecordingSpan.origin(parent);
    const origin = this.originFor(parentOrigin.carried, parentOrigin.checkedIds && this.ownIds, parentOrigin);
    const span = new RecordingSpan(
      origin,
      parent.traceId,
      this.ids.spanId(),
      parent.id,
      typeof name === 'string' ? name : String(name),
      this.serviceName,
      undefined,
      this.host,
      undefined,
      parent,
      undefined,
    );
    const baggage = origin.carried.baggage;
    if (this.baggageTags !== undefined && baggage !== undefined) tagBaggage(span, baggage, this.baggageTags);
    return span;
  }

  /**
   * `childOf` for a new root without options, outside any span and baggage scope: the same
   * span, made without the checks that only options, parents and baggage need.
   */
  private localRoot(name: string): Span {
    const context = this.randomTraceIds ? CARRIED_RANDOM : CARRIED_NONE;
    const traceId = this.ids.traceId();
    if (!this.sampleNewTrace(name)) return carrying(new NonRecordingSpan(traceId, this.rootSpanId(traceId), name, undefined), context);
    this.counts.spansStarted++;
    return new RecordingSpan(
      this.originFor(context, this.ownIds),
      traceId,
      this.rootSpanId(traceId),
      undefined,
      typeof name === 'string' ? name : String(name),
      this.serviceName,
      undefined,
      this.host,
      undefined,
      undefined,
      undefined,
    );
  }

  /**
   * The span id of a new trace's root: with our own ids, the right half of the trace id (as
   * Brave and B3 do for 128-bit ids): random, never all zeros (no 8-byte word of the id pool is),
   * and a slice of the same pool text, so it costs no hex conversion of its own (a fifth of an
   * id's cost) and no memory. A custom generator's `spanId()` otherwise.
   */
  private rootSpanId(traceId: string): string {
    return this.ownIds ? traceId.substring(16) : this.ids.spanId();
  }

  /**
   * A `SpanOrigin` of this tracer for `carried`: the parent's when it is the same, else a shared
   * one in the common cases, else a new one.
   */
  private originFor(carried: Carried, checkedIds: boolean, parent?: SpanOrigin): SpanOrigin {
    if (parent !== undefined && parent.carried === carried && parent.checkedIds === checkedIds && parent.sink === this.sink) return parent;
    if (carried === CARRIED_NONE || carried === CARRIED_RANDOM) {
      return this.origins[(carried === CARRIED_RANDOM ? 2 : 0) + (checkedIds ? 1 : 0)];
    }
    return new SpanOrigin(this.sink, carried, checkedIds);
  }

  private noCurrentSpan(what: string): void {
    if (!this.enabled) return;
    this.counts.noCurrentSpan++;
    this.diagnostics.report(codes.NO_CURRENT_SPAN, `tomograph: ${what}() with no current span; ignored`);
  }
}

/** Sets what a span carries; returns it. */
function carrying(span: NonRecordingSpan, context: Carried): Span {
  setCarried(span, context);
  return span;
}

/** Copies baggage entries (all, or the keys listed) onto a span as `baggage.<key>` tags. */
function tagBaggage(span: Span, baggage: Baggage, keys: true | ReadonlySet<string>): void {
  for (const entry of baggage.entries) {
    if (keys === true || keys.has(entry.key)) span.tag('baggage.' + entry.key, entry.value);
  }
}

function runAndEnd<R>(span: Span, fn: (span: Span) => R): R {
  let result: R;
  try {
    result = fn(span);
  } catch (error) {
    span.fail(error);
    span.end();
    throw error;
  }
  if (isThenable(result)) {
    // Promise.resolve adopts a custom thenable, whose own then() may return nothing (or throw).
    return Promise.resolve(result).then(
      (value) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        span.fail(error);
        span.end();
        throw error;
      },
    ) as R;
  }
  span.end();
  return result;
}

function defaultHost(): { address?: string } | undefined {
  try {
    for (const addresses of Object.values(networkInterfaces())) {
      for (const address of addresses ?? []) {
        if (address.family === 'IPv4' && !address.internal) return Object.freeze({ address: address.address });
      }
    }
  } catch {
    // Some sandboxes deny the interface list; spans then carry no host address.
  }
  return undefined;
}
