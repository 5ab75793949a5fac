export {
  addTraceInfoHeader, annotate, configure, continueTrace, currentSpan, defaultTracer, extract, flush,
  getBaggage, getBaggageEntries, getTraceInfo, inject, parseToken, shutdown, start, startSpan, stats, stop, tag,
  trace, traced, withBaggage, withSpan,
} from './api';
export { Baggage, type BaggageEntry, type BaggageValue, MAX_BAGGAGE_BYTES, MAX_BAGGAGE_MEMBERS } from './baggage';
export { MAX_TRACESTATE_CHARS, MAX_TRACESTATE_MEMBERS } from './tracestate';
export { Tracer, type SpanOptions, type TracerStats } from './tracer';
export type { Span, NoteOptions } from './span';
export type { TracerOptions } from './options';
export type { TracedDecorator } from './traced';
export type { Sampler, SamplerFunction } from './sampling';
export type { ContextStoreName } from './context';
export type { Clock } from './clock';
export { ManualClock } from './clock';
export type { IdGenerator } from './ids';
export { sequentialIdGenerator } from './ids';
export type { DropCounts, ExporterStats } from './batch-queue';
export { codes, type DiagnosticCode } from './codes';
export { MemoryExporter, type MemoryExporterOptions } from './memory-exporter';
export { ConsoleExporter, type ConsoleExporterOptions } from './console-exporter';
export { renderTraceTree, type TreeOptions } from './trace-tree';
export { formatToken } from './propagation';
export type {
  DiagnosticEvent, Endpoint, Exporter, ExporterHost, FinishedSpan, HeaderCarrier, Note, PropagationFormat, SpanKind,
  TagValue, TraceContext,
} from './types';
