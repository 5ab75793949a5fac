/**
 * Every stable code the SDK reports. A code is never reused for another meaning: users
 * match on them in `onDiagnostic` and in `process.on('warning')`.
 */
export const codes = {
  /** A configure option is wrong. Thrown (as a TypeError) by `configure` only. */
  INVALID_OPTION: 'TOMOGRAPH_ERR_INVALID_OPTION',
  /** The export queue was full, so finished spans were dropped. */
  QUEUE_FULL: 'TOMOGRAPH_QUEUE_FULL',
  /** An exporter threw or rejected. */
  EXPORT_FAILED: 'TOMOGRAPH_EXPORT_FAILED',
  /** An exporter did not settle within `exportTimeoutMs`. */
  EXPORT_TIMEOUT: 'TOMOGRAPH_EXPORT_TIMEOUT',
  /** An exporter was still busy with older batches; its oldest waiting batch was dropped. */
  EXPORTER_BUSY: 'TOMOGRAPH_EXPORTER_BUSY',
  /** An exporter's flush or shutdown failed or timed out. */
  EXPORTER_CLOSE_FAILED: 'TOMOGRAPH_EXPORTER_CLOSE_FAILED',
  /** An incoming trace header (or a token handed to `start`/`continueTrace`) was malformed. */
  MALFORMED_HEADER: 'TOMOGRAPH_MALFORMED_HEADER',
  /** `inject` could not write to the carrier it was given. */
  INJECT_FAILED: 'TOMOGRAPH_INJECT_FAILED',
  /** `stop(name)` named a span that is not the current one. */
  STOP_MISMATCH: 'TOMOGRAPH_STOP_MISMATCH',
  /** `stop()` found no span that `start()` had opened. */
  STOP_WITHOUT_START: 'TOMOGRAPH_STOP_WITHOUT_START',
  /** `annotate`/`tag` was called with no current span. */
  NO_CURRENT_SPAN: 'TOMOGRAPH_NO_CURRENT_SPAN',
  /** An exporter (socket, HTTP upload) reported a transport fault. */
  TRANSPORT_ERROR: 'TOMOGRAPH_TRANSPORT_ERROR',
  /** The `sampler` function threw; the new trace was not sampled. */
  SAMPLER_FAILED: 'TOMOGRAPH_SAMPLER_FAILED',
  /**
   * A time handed to the API (`end(t)`, `timestamp`, a note's `timestamp` or `duration`) was not
   * a number of epoch microseconds (NaN, Infinity, a string, out of range); now was used instead.
   */
  INVALID_TIME: 'TOMOGRAPH_INVALID_TIME',
  /** A tag value was not a string, number or boolean; it was stored as JSON text. */
  INVALID_TAG_VALUE: 'TOMOGRAPH_INVALID_TAG_VALUE',
  /** A span opened with `start()` was never stopped (found at exit, or when it was garbage-collected). */
  SPAN_NOT_ENDED: 'TOMOGRAPH_SPAN_NOT_ENDED',
  /** A call that needs a configured tracer (`continueTrace`) ran before `configure()` in this process or thread. */
  NOT_CONFIGURED: 'TOMOGRAPH_NOT_CONFIGURED',
  /** `withBaggage` left an entry out: an invalid key or properties, or past the baggage limits. */
  BAGGAGE_DROPPED: 'TOMOGRAPH_BAGGAGE_DROPPED',
  /** An integration hit an unexpected fault in its own code and carried on. */
  INTEGRATION_ERROR: 'TOMOGRAPH_INTEGRATION_ERROR',
  /** A metric was given a value it cannot take (NaN, a negative counter increment or histogram value, a non-number); ignored. */
  METRIC_INVALID_VALUE: 'TOMOGRAPH_METRIC_INVALID_VALUE',
  /** A gauge function threw or returned a non-number; the gauge was left out of that read. */
  METRIC_GAUGE_FAILED: 'TOMOGRAPH_METRIC_GAUGE_FAILED',
  /** A labelled metric reached `maxSeries`; further label values go to its one overflow series. */
  METRIC_SERIES_OVERFLOW: 'TOMOGRAPH_METRIC_SERIES_OVERFLOW',
  /** A metrics exporter's `exportMetrics`, `flush` or `shutdown` threw or rejected. */
  METRICS_EXPORT_FAILED: 'TOMOGRAPH_METRICS_EXPORT_FAILED',
  /** A metrics exporter did not settle within `exportTimeoutMs`. */
  METRICS_EXPORT_TIMEOUT: 'TOMOGRAPH_METRICS_EXPORT_TIMEOUT',
  /** Graphite: lines dropped (buffer full while carbon was away) or not sent (NaN, infinite, too long). */
  GRAPHITE_LINES_DROPPED: 'TOMOGRAPH_GRAPHITE_LINES_DROPPED',
  /** The export worker (`WorkerExporter`) died or could not start; the spans it held were dropped (`exportFailed`). */
  EXPORT_WORKER_EXITED: 'TOMOGRAPH_EXPORT_WORKER_EXITED',
  /** Host-wide stats: a socket could not be served, or a process's stats could not be read. */
  HOST_STATS_ERROR: 'TOMOGRAPH_HOST_STATS_ERROR',
} as const;

/** One of the stable codes above. */
export type DiagnosticCode = (typeof codes)[keyof typeof codes];
