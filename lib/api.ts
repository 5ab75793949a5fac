import { runFlushHooks } from './flush-hooks';
import type { NoteOptions, Span } from './span';
import { type SpanOptions, Tracer, type TracerStats } from './tracer';
import type { TracedDecorator } from './traced';
import type { TracerOptions } from './options';
import type { HeaderCarrier, TagValue, TraceContext } from './types';

/** The tracer behind the module functions. Integrations default to it. */
export const defaultTracer = new Tracer();

/** Sets up the default tracer. Throws a TypeError on a wrong option; nothing else throws. */
export function configure(options?: TracerOptions): void {
  defaultTracer.configure(options);
}

/** Opens a child of the current span and makes it current for the rest of this async flow. */
export function start(name: string, options?: SpanOptions): Span {
  return defaultTracer.start(name, options);
}

/** Ends the span `start` made current; a wrong name is reported, never thrown. */
export function stop(name?: string): void {
  defaultTracer.stop(name);
}

/** Adds a note to the current span (`options.duration` in microseconds). */
export function annotate(value: string, options?: NoteOptions): void {
  defaultTracer.annotate(value, options);
}

/** Sets a tag on the current span. */
export function tag(key: string, value: TagValue): void {
  defaultTracer.tag(key, value);
}

/** Runs `fn` inside a new child span, sync or async; errors pass through unchanged. */
export function trace<R>(name: string, fn: (span: Span) => R, options?: SpanOptions): R {
  return defaultTracer.trace(name, fn, options);
}

/** Wrapper and method decorator (standard and `experimentalDecorators`). */
export function traced(name?: string, options?: SpanOptions): TracedDecorator {
  return defaultTracer.traced(name, options);
}

/** The current span, if any. */
export function currentSpan(): Span | undefined {
  return defaultTracer.currentSpan();
}

/** The current trace token, `X-Trace-Info` format. */
export function getTraceInfo(): string | undefined {
  return defaultTracer.getTraceInfo();
}

/** Runs `fn` in a child of the span that `token` names (workers, queue consumers). */
export function continueTrace<R>(token: string | undefined, name: string, fn: (span: Span) => R, options?: SpanOptions): R {
  return defaultTracer.continueTrace(token, name, fn, options);
}

/** Writes the current trace's headers into `headers` and returns it. */
export function inject<H extends HeaderCarrier>(headers: H): H {
  return defaultTracer.inject(headers);
}

/** Alias of `inject`. */
export function addTraceInfoHeader<H extends HeaderCarrier>(headers: H): H {
  return defaultTracer.inject(headers);
}

/** The incoming trace token in `headers`, normalised to `X-Trace-Info`; undefined if none is valid. */
export function extract(headers: HeaderCarrier | undefined | null): string | undefined {
  return defaultTracer.extract(headers);
}

/** Reads a trace token into `{ traceId, spanId, sampled }`. */
export function parseToken(token: string): TraceContext | undefined {
  return defaultTracer.parseToken(token);
}

/** Makes a span without making it current (for integrations). */
export function startSpan(name: string, options?: SpanOptions): Span {
  return defaultTracer.startSpan(name, options);
}

/** Runs `fn` with `span` current. */
export function withSpan<R>(span: Span | undefined, fn: () => R): R {
  return defaultTracer.withSpan(span, fn);
}

/** Exports everything finished so far (and the metrics' changes, when metrics exporters are set). Never rejects. */
export function flush(): Promise<void> {
  return Promise.all([defaultTracer.flush(), runFlushHooks('flush')]).then(() => undefined);
}

/** Flushes, then closes the exporters (the metrics' ones too). Safe to call twice. */
export function shutdown(): Promise<void> {
  return Promise.all([defaultTracer.shutdown(), runFlushHooks('shutdown')]).then(() => undefined);
}

/** The default tracer's counts. */
export function stats(): TracerStats {
  return defaultTracer.stats();
}
