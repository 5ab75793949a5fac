/**
 * Log correlation shared by `tomograph/pino` and `tomograph/winston`: which fields carry the
 * current span's ids, checked once at setup, and how they are read on each log call.
 */
import { defaultTracer } from '../lib/api';
import { invalidOption } from '../lib/options';
import type { Span } from '../lib/span';
import type { Tracer } from '../lib/tracer';

/** Options for `traceMixin` (pino) and `traceFormat` (winston). */
export interface LogCorrelationOptions {
  /** The tracer whose current span is logged. Default: the default tracer (`configure`). */
  tracer?: Tracer;
  /**
   * The field names. Defaults are OpenTelemetry's log correlation names, so dashboards and log
   * pipelines built for it work unchanged: `trace_id` (32 hex), `span_id` (16 hex) and
   * `trace_flags` (`'01'` sampled, `'00'` not).
   */
  fields?: { traceId?: string; spanId?: string; traceFlags?: string };
}

/** Field names after defaults. */
export interface LogFields {
  readonly tracer: Tracer;
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: string;
  /** Whether the names are the defaults (which the hot path writes as a literal). */
  readonly defaults: boolean;
}

/** Checks the options once; throws a TypeError (code `TOMOGRAPH_ERR_INVALID_OPTION`) on a wrong one. */
export function resolveLogFields(fn: string, options: LogCorrelationOptions): LogFields {
  if (options === null || typeof options !== 'object') throw invalidOption(`${fn}() options must be an object`);
  for (const key of Object.keys(options)) {
    if (key !== 'tracer' && key !== 'fields') throw invalidOption(`${fn}(): unknown option "${key}"`);
  }
  const tracer = options.tracer ?? defaultTracer;
  if (tracer === null || typeof tracer !== 'object' || typeof tracer.currentSpan !== 'function') {
    throw invalidOption(`${fn}(): tracer must be a Tracer`);
  }
  const fields = options.fields ?? {};
  if (fields === null || typeof fields !== 'object') throw invalidOption(`${fn}(): fields must be an object`);
  for (const key of Object.keys(fields)) {
    if (key !== 'traceId' && key !== 'spanId' && key !== 'traceFlags') throw invalidOption(`${fn}(): unknown field "${key}"`);
  }
  const names = {
    traceId: fields.traceId ?? 'trace_id',
    spanId: fields.spanId ?? 'span_id',
    traceFlags: fields.traceFlags ?? 'trace_flags',
  };
  for (const [key, name] of Object.entries(names)) {
    if (typeof name !== 'string' || name === '' || name === '__proto__') {
      throw invalidOption(`${fn}(): fields.${key} must be a non-empty string`);
    }
  }
  if (new Set(Object.values(names)).size !== 3) throw invalidOption(`${fn}(): the three field names must differ`);
  return {
    tracer,
    ...names,
    defaults: names.traceId === 'trace_id' && names.spanId === 'span_id' && names.traceFlags === 'trace_flags',
  };
}

/** The span whose ids a log line written now carries, if any. Never throws. */
export function loggedSpan(tracer: Tracer): Span | undefined {
  try {
    const span = tracer.currentSpan();
    // The no-op span of a disabled tracer has no ids worth logging.
    return span === undefined || span.traceId === '' ? undefined : span;
  } catch {
    return undefined;
  }
}
