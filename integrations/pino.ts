/**
 * `tomograph/pino`: the current span's ids on every log line written inside a span.
 *
 *   const logger = pino({ mixin: traceMixin() });
 */
import { type LogCorrelationOptions, loggedSpan, resolveLogFields } from './log-fields';

export type { LogCorrelationOptions } from './log-fields';

/**
 * A pino `mixin`: inside a span, `{ trace_id, span_id, trace_flags }` (the current span's ids, and
 * `'01'`/`'00'` for sampled or not), outside one `{}`, so lines written outside any trace carry
 * no ids. Field names: `options.fields`. Fields given in the log call itself win (pino's default
 * merge). A fresh object each call, because pino's default `mixinMergeStrategy` writes into it.
 * To keep a mixin of your own: `const ids = traceMixin()`, then
 * `mixin: (o, l) => ({ ...yours(o, l), ...ids() })`.
 * Throws a TypeError (code `TOMOGRAPH_ERR_INVALID_OPTION`) on a wrong option; the mixin never throws.
 */
export function traceMixin(options: LogCorrelationOptions = {}): () => Record<string, string> {
  const f = resolveLogFields('traceMixin', options);
  const tracer = f.tracer;
  if (f.defaults) {
    return function tomographMixin(): Record<string, string> {
      const span = loggedSpan(tracer);
      if (span === undefined) return {};
      return { trace_id: span.traceId, span_id: span.id, trace_flags: span.sampled ? '01' : '00' };
    };
  }
  const { traceId, spanId, traceFlags } = f;
  return function tomographMixin(): Record<string, string> {
    const span = loggedSpan(tracer);
    const fields: Record<string, string> = {};
    if (span === undefined) return fields;
    fields[traceId] = span.traceId;
    fields[spanId] = span.id;
    fields[traceFlags] = span.sampled ? '01' : '00';
    return fields;
  };
}
