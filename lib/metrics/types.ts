/**
 * The metrics registry's public types: what exporters, the stats page, Prometheus, Graphite and
 * host-wide stats read. The registry itself lives beside this file; these shapes are the contract
 * between it and every reader, so change them only together with all of them.
 */

/** Metric levels, lowest first (zibrato's). A metric below the configured level is a shared no-op. */
export type MetricLevel = 'debug' | 'info' | 'warn' | 'error' | 'critical';

/** What a metric is. */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'meter';

/** Options every metric factory takes. */
export interface MetricOptions {
  /** One line for HELP and the stats page. */
  description?: string;
  /** Histograms: `'ms'` for timers (StatsD `|ms`); anything else is shown as given. */
  unit?: string;
  /** Histograms: how far back the distribution fields look, in milliseconds. Default 60000. */
  windowMs?: number;
  /** Label names, in order; then `.labels({...})` gives the bound child series. */
  labels?: readonly string[];
  /** Series per labelled metric before the rest go to one overflow series. Default 1000. */
  maxSeries?: number;
  /** Default `'info'`. */
  level?: MetricLevel;
}

/**
 * A histogram as `snapshot()` shows it. `count` and `sum` are since start; the other fields
 * describe the last `windowMs` and are absent when no value fell in it.
 */
export interface HistogramSnapshot {
  count: number;
  sum: number;
  min?: number;
  max?: number;
  mean?: number;
  stddev?: number;
  p50?: number;
  p75?: number;
  p95?: number;
  p98?: number;
  p99?: number;
  p999?: number;
}

/** A meter as `snapshot()` shows it: `count` since start, rates in events per second. */
export interface MeterSnapshot {
  count: number;
  mean: number;
  m1: number;
  m5: number;
  m15: number;
}

/**
 * A histogram's mergeable state as plain JSON-safe data (it crosses processes for host-wide
 * stats). Its inner fields belong to the sketch; read it only through `mergeHistogramStates`
 * and `summarizeHistogramState` exported from `tomograph/metrics`.
 */
export interface HistogramState {
  /** Format version of the sketch encoding, so a reader can refuse what it does not know. */
  readonly v: number;
  /** Since start. */
  readonly count: number;
  readonly sum: number;
  /** The sketch over the window, encoded by the sketch. */
  readonly window: unknown;
}

/** One series of a collected metric. */
export interface CollectedSeries {
  /** Label values in the metric's declared label order; empty for an unlabelled metric. */
  readonly labelValues: readonly string[];
  readonly value: number | HistogramSnapshot | MeterSnapshot;
  /** Histograms only: the mergeable state behind `value`. */
  readonly state?: HistogramState;
}

/** One metric as the exposition formats read it (`registry.collect()`). */
export interface CollectedMetric {
  /** The dotted path, e.g. `web.requests`. */
  readonly name: string;
  readonly type: MetricType;
  /** `''` when none was given. */
  readonly description: string;
  readonly unit?: string;
  readonly labelNames: readonly string[];
  readonly level: MetricLevel;
  readonly series: readonly CollectedSeries[];
}

/** Label pairs in declared order; empty for an unlabelled metric. */
export type LabelPairs = readonly (readonly [name: string, value: string])[];

/** A counter's or meter's increase since the previous update. Only series that changed appear. */
export interface DeltaUpdate {
  readonly name: string;
  readonly labels: LabelPairs;
  readonly delta: number;
}

/** A gauge's current value (function gauges read at update time). Every live gauge appears. */
export interface GaugeUpdate {
  readonly name: string;
  readonly labels: LabelPairs;
  readonly value: number;
}

/**
 * The values a histogram recorded since the previous update. `values` holds at most the
 * registry's per-interval bound; `count` is how many were recorded. When `values.length < count`
 * the values are a uniform sample, and `values.length / count` is the sample rate to send.
 */
export interface HistogramUpdate {
  readonly name: string;
  readonly labels: LabelPairs;
  readonly unit?: string;
  readonly values: readonly number[];
  readonly count: number;
}

/** What a metrics exporter receives every `intervalMs` (and on flush and shutdown). */
export interface MetricsUpdate {
  /** When the update was taken, epoch milliseconds. */
  readonly timestampMs: number;
  readonly counters: readonly DeltaUpdate[];
  readonly gauges: readonly GaugeUpdate[];
  readonly meters: readonly DeltaUpdate[];
  readonly histograms: readonly HistogramUpdate[];
}

/** A destination for metrics, given to `configureMetrics({ exporters })`. */
export interface MetricsExporter {
  exportMetrics(update: MetricsUpdate): void | Promise<void>;
  /** Metrics below this level are left out of this exporter's updates. Default: all that exist. */
  readonly level?: MetricLevel;
  flush?(): Promise<void>;
  shutdown?(): Promise<void>;
}
