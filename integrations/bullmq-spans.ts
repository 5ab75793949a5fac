/**
 * BullMQ jobs and their trace token. The token travels in the job's options, at
 * `opts.telemetry.metadata`: the field BullMQ reserves for trace propagation (its own
 * `telemetry` option writes there too). BullMQ stores a job's options in Redis with the job, so
 * the token is there for every attempt (retries re-run the same job), after a delay or a
 * backoff, for each job of a flow, and it is copied from a job scheduler's template into every
 * job the scheduler makes. Job `data` is the app's: a field added there would reach the
 * processor, validators and anything that serialises the data, and data need not be an object.
 *
 * The metadata is a JSON object of trace headers, the tracer's `propagation` formats (what
 * `inject` writes), which is also the shape `bullmq-otel` writes and reads: each side continues
 * the other's traces.
 */
import { NOOP_SPAN, type Span } from '../lib/span';
import type { Tracer } from '../lib/tracer';
import type { HeaderCarrier, TraceContext } from '../lib/types';

/** Longest metadata read, in characters: a few trace headers fit many times over. */
const MAX_METADATA_CHARS = 4096;

/** Job options as far as the token is concerned. */
export interface JobOptionsWithTelemetry {
  telemetry?: { metadata?: string; omitContext?: boolean };
  [option: string]: unknown;
}

/** A job as a processor receives it (fields read defensively). */
export interface TracedJob {
  id?: string;
  name?: string;
  queueName?: string;
  attemptsMade?: number;
  opts?: JobOptionsWithTelemetry;
}

/**
 * A copy of `opts` carrying `span`'s token, or `opts` itself when the caller opted out with
 * BullMQ's `telemetry.omitContext`. The caller's object is never changed.
 */
export function withToken(tracer: Tracer, span: Span, opts: unknown): unknown {
  const given = opts !== null && typeof opts === 'object' ? (opts as JobOptionsWithTelemetry) : undefined;
  if (given?.telemetry?.omitContext === true) return opts;
  const headers: Record<string, string> = {};
  tracer.inject(headers, span);
  return { ...given, telemetry: { ...given?.telemetry, metadata: JSON.stringify(headers) } };
}

/**
 * The parent a job's processing continues: the context its metadata names, else the raw
 * metadata string (a bare token set by hand; `startSpan` parses it and counts it when
 * malformed), else `null` (a new root).
 */
export function parentOf(tracer: Tracer, job: TracedJob): TraceContext | string | null {
  const metadata = job.opts?.telemetry?.metadata;
  if (typeof metadata !== 'string' || metadata === '') return null;
  if (metadata.length > MAX_METADATA_CHARS || metadata.charCodeAt(0) !== 0x7b /* { */) return metadata;
  let headers: unknown;
  try {
    headers = JSON.parse(metadata);
  } catch {
    return metadata;
  }
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) return metadata;
  return tracer.extractContext(headers as HeaderCarrier) ?? null;
}

/** The PRODUCER span of one job added to `queueName`; undefined when none is made. */
export function startProducer(tracer: Tracer, root: boolean, queueName: string, jobName: unknown, opts: unknown, parent?: Span): Span | undefined {
  const current = parent ?? tracer.currentSpan();
  if (current === undefined && !root) return undefined;
  const span = tracer.startSpan('add ' + queueName, { kind: 'PRODUCER', parent: current ?? null });
  if (span === NOOP_SPAN) return undefined;
  if (span.recording) {
    span.tag('messaging.system', 'bullmq');
    span.tag('messaging.operation.type', 'send');
    span.tag('messaging.destination.name', queueName);
    if (typeof jobName === 'string') span.tag('bullmq.job.name', jobName);
    const delay = (opts as { delay?: unknown } | null | undefined)?.delay;
    if (typeof delay === 'number' && delay > 0) span.tag('bullmq.job.delay_ms', delay);
  }
  return span;
}

/** Ends a producer span with the job BullMQ made (its id), or failed. */
export function endProducer(span: Span, job: unknown, failed: boolean, error?: unknown): void {
  if (failed) span.fail(error);
  else {
    const id = (job as { id?: unknown } | null | undefined)?.id;
    if (typeof id === 'string' && span.recording) span.tag('messaging.message.id', id);
  }
  span.end();
}

/** The CONSUMER span of one attempt at processing `job`. */
export function startConsumer(tracer: Tracer, job: TracedJob): Span {
  const queueName = typeof job.queueName === 'string' ? job.queueName : 'unknown';
  const span = tracer.startSpan('process ' + queueName, { kind: 'CONSUMER', parent: parentOf(tracer, job) });
  if (span.recording) {
    span.tag('messaging.system', 'bullmq');
    span.tag('messaging.operation.type', 'process');
    span.tag('messaging.destination.name', queueName);
    if (typeof job.id === 'string') span.tag('messaging.message.id', job.id);
    if (typeof job.name === 'string') span.tag('bullmq.job.name', job.name);
    // attemptsMade counts the attempts that ended (failed) before this one.
    span.tag('bullmq.job.attempt', (typeof job.attemptsMade === 'number' ? job.attemptsMade : 0) + 1);
  }
  return span;
}

/**
 * Errors a processor throws to tell BullMQ where the job goes next, not that it failed: they end
 * the span with a note (`DelayedError`, say) rather than an error.
 */
const CONTROL_ERRORS = new Set(['DelayedError', 'WaitingChildrenError', 'WaitingError', 'RateLimitError']);

/** Ends a consumer span after the processor threw or rejected with `error`. */
export function endConsumerFailed(span: Span, error: unknown): void {
  const name = (error as { name?: unknown } | null | undefined)?.name;
  if (typeof name === 'string' && CONTROL_ERRORS.has(name)) span.annotate(name);
  else span.fail(error);
  span.end();
}
