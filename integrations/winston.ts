/**
 * `tomograph/winston`: the current span's ids on every log entry written inside a span.
 *
 *   const logger = winston.createLogger({ format: winston.format.combine(traceFormat(), winston.format.json()) });
 */
import { type LogCorrelationOptions, loggedSpan, resolveLogFields } from './log-fields';

export type { LogCorrelationOptions } from './log-fields';

/** A winston (logform) format: what `winston.format.combine` and `createLogger({ format })` take. */
export interface TraceFormat {
  /** Sets the fields on `info` (inside a span) and returns it. */
  transform<I extends object>(info: I): I;
}

/**
 * A winston format that sets `trace_id`, `span_id` and `trace_flags` (`'01'`/`'00'`) on entries
 * logged inside a span and leaves entries outside any span as they are. Field names:
 * `options.fields`; a field the entry already has is left alone. Put it before the format that
 * renders (`json()`, `printf`). Needs no import of winston. Throws a TypeError (code
 * `TOMOGRAPH_ERR_INVALID_OPTION`) on a wrong option; the format never throws.
 */
export function traceFormat(options: LogCorrelationOptions = {}): TraceFormat {
  const { tracer, traceId, spanId, traceFlags } = resolveLogFields('traceFormat', options);
  return {
    transform<I extends object>(info: I): I {
      const span = loggedSpan(tracer);
      if (span === undefined || info === null || typeof info !== 'object') return info;
      const entry = info as Record<string, unknown>;
      if (entry[traceId] === undefined) entry[traceId] = span.traceId;
      if (entry[spanId] === undefined) entry[spanId] = span.id;
      if (entry[traceFlags] === undefined) entry[traceFlags] = span.sampled ? '01' : '00';
      return info;
    },
  };
}
