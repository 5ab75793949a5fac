import { networkInterfaces } from 'node:os';
import { BatchQueue, type DropCounts, type ExporterStats } from './batch-queue';
import { type Clock, monotonicClock } from './clock';
import { clsHookedStore } from './cls-context';
import { codes } from './codes';
import { asyncLocalStorageStore, type ContextStore } from './context';
import { Diagnostics } from './diagnostics';
import { type IdGenerator, randomIdGenerator } from './ids';
import { type ResolvedOptions, type TracerOptions, resolveOptions } from './options';
import { extractContext, formatToken, injectContext, ParsedContext, parseToken } from './propagation';
import { rootSampler, type SamplerFunction } from './sampling';
import { flushAtExit } from './exit-flush';
import {
  hasCheckedIds, NOOP_SPAN, NonRecordingSpan, type NoteOptions, RecordingSpan, setStartFrame, type Span, type SpanSink,
  startFrameOf, SUPPRESSED,
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
  private ids: IdGenerator = randomIdGenerator();
  /** Whether `ids` is our own generator, whose ids need no checking downstream (`RecordingSpan.checkedIds`). */
  private ownIds = true;
  private serviceName = 'unknown_service';
  private host: { address?: string; port?: number } | undefined;
  private shutdownPromise: Promise<void> | undefined;
  private counts = { spansStarted: 0, spansFinished: 0, malformedHeaders: 0, noCurrentSpan: 0 };
  private readonly sink: SpanSink & { clock: Clock };
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
      report(code, message, detail) {
        tracer.diagnostics.report(code, message, detail);
      },
    };
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
    this.sampleRoot = rootSampler(resolved.sampler, options.random ?? Math.random);
    this.serviceName = resolved.serviceName;
    this.host = resolved.host ?? defaultHost();
    this.counts = { spansStarted: 0, spansFinished: 0, malformedHeaders: 0, noCurrentSpan: 0 };
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
    if (parentOption === undefined) return this.childOf(this.store.active(), name, options);
    if (parentOption === null) return this.childOf(undefined, name, options);
    if (typeof parentOption === 'string') return this.childOf(undefined, name, options, this.parseIncoming(parentOption));
    if (typeof (parentOption as TraceContext).spanId === 'string') {
      return this.childOf(undefined, name, options, parentOption as TraceContext);
    }
    return this.childOf(parentOption as Span, name, options);
  }

  /** A new span under a local `parent`, else under `remote`, else a new root. */
  private childOf(
    parent: Span | undefined,
    name: string,
    options: SpanOptions | undefined,
    remote?: TraceContext,
  ): Span {
    // Under the no-op span (which `trace` makes current while exporting), children are no-ops
    // too: otherwise a span started there would begin a new, sampled root trace.
    if (parent === SUPPRESSED || parent === NOOP_SPAN) return NOOP_SPAN;
    if (parent !== undefined) {
      if (!parent.sampled) return new NonRecordingSpan(parent.traceId, parent.id, name, parent, parent.parentId);
      return this.recordingSpan(parent.traceId, parent.id, name, options, parent, hasCheckedIds(parent));
    }
    if (remote !== undefined) {
      if (!remote.sampled) return new NonRecordingSpan(remote.traceId, remote.spanId, name, undefined, remote.spanId);
      return this.recordingSpan(remote.traceId, remote.spanId, name, options, undefined, remote instanceof ParsedContext && remote.unchanged());
    }
    let sampled: boolean;
    try {
      sampled = this.sampleRoot(name) === true;
    } catch (error) {
      sampled = false;
      this.diagnostics.report(codes.SAMPLER_FAILED, 'tomograph: the sampler threw; trace not sampled', error);
    }
    if (!sampled) return new NonRecordingSpan(this.ids.traceId(), this.ids.spanId(), name, undefined);
    return this.recordingSpan(this.ids.traceId(), undefined, name, options, undefined, true);
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
      const current = this.store.active();
      // Inside an unsampled trace a child would carry the very same ids and record nothing, so
      // the current span serves as it is: no allocation, no context switch.
      if (current !== undefined && !current.sampled && current !== SUPPRESSED) return fn(current);
      span = this.childOf(current, name, options);
    } else {
      span = this.startSpan(name, options);
    }
    return this.store.run(span, () => runAndEnd(span, fn));
  }

  /**
   * Continues a trace from a token that crossed a boundary (a worker message, a queue item):
   * `fn` runs in a child of the token's span. An absent or malformed token starts a new trace.
   */
  continueTrace<R>(token: string | undefined, name: string, fn: (span: Span) => R, options?: SpanOptions): R {
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
    const current = this.store.active();
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
    const span = this.store.active();
    return span === SUPPRESSED ? undefined : span;
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
    return formatToken({ traceId: span.traceId, spanId: span.id, sampled: span.sampled });
  }

  /**
   * Writes the current trace's headers (the `propagation` formats) into `headers` and returns
   * it: a plain object, Node's outgoing headers, a WHATWG `Headers`, or a request with `setHeader`.
   */
  inject<H extends HeaderCarrier>(headers: H, span: Span | undefined = this.currentSpan()): H {
    if (span === undefined || span === NOOP_SPAN || this.options === undefined) return headers;
    const ok = injectContext(
      headers,
      { traceId: span.traceId, spanId: span.id, sampled: span.sampled },
      this.options.propagation,
      span.parentId,
    );
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
        : { queueFull: 0, exportFailed: 0, exporterBusy: 0, noExporter: 0, shutdown: 0 },
      exportErrors: queue?.exportErrors ?? 0,
      malformedHeaders: this.counts.malformedHeaders,
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

  private parseIncoming(token: string): TraceContext | undefined {
    const context = parseToken(token);
    if (context === undefined) this.onMalformed('token', token);
    return context;
  }

  private recordingSpan(
    traceId: string,
    parentId: string | undefined,
    name: string,
    options: SpanOptions | undefined,
    localParent: Span | undefined,
    checkedIds: boolean,
  ): RecordingSpan {
    // A sampled parent made here is a RecordingSpan; one handed in by the caller may be any span.
    const recordingParent = localParent instanceof RecordingSpan ? localParent : undefined;
    this.counts.spansStarted++;
    const span = new RecordingSpan(
      this.sink,
      traceId,
      this.ids.spanId(),
      parentId,
      typeof name === 'string' ? name : String(name),
      options?.service ?? this.serviceName,
      options?.kind,
      options?.host ?? this.host,
      options?.remote,
      recordingParent,
      options?.timestamp,
      checkedIds && this.ownIds,
    );
    const tags = options?.tags;
    if (tags !== undefined) for (const key of Object.keys(tags)) span.tag(key, tags[key]);
    return span;
  }

  private noCurrentSpan(what: string): void {
    if (!this.enabled) return;
    this.counts.noCurrentSpan++;
    this.diagnostics.report(codes.NO_CURRENT_SPAN, `tomograph: ${what}() with no current span; ignored`);
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
