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

/** Options of `collect()` and `collectCursor()`. */
export interface CollectOptions {
  /** Only metrics at or above this level. Default: every enabled metric. */
  readonly level?: MetricLevel;
  /**
   * Whether histogram series carry their mergeable `state` (Graphite-style merging, host-wide
   * stats). Default true; a reader that only shows values (Prometheus, the stats page) passes
   * false and skips encoding every histogram's window.
   */
  readonly states?: boolean;
}

/**
 * A collection in pieces (`registry.collectCursor()`), so a reader of many series can yield to
 * the event loop between pieces. Each metric is read whole, at one moment (a histogram's
 * quantiles, sum and count from one read); metrics are visited in name order, as `collect()`
 * gives them. The names are those that existed when the cursor was made: a metric created since
 * waits for the next collection; one gone by its turn (`reset()`) is left out.
 */
export interface CollectCursor {
  /** Whether every metric has been handed out. */
  readonly done: boolean;
  /**
   * The next metrics, whole: at least one (unless done), then more while the series handed out
   * stay under `maxSeries` and less than `budgetMs` milliseconds have passed (checked after each
   * metric). `[]` once done.
   */
  next(maxSeries?: number, budgetMs?: number): CollectedMetric[];
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

/** Label values for `.labels({...})`: every declared label name, each value a string (numbers and booleans are stringified). */
export type LabelValues = Readonly<Record<string, string | number | boolean>>;

/** A monotonically increasing count. */
export interface Counter {
  /** The dotted path. */
  readonly name: string;
  /** Adds `by` (default 1). `by` must be a finite number >= 0; anything else is ignored and reported. */
  inc(by?: number): void;
  /**
   * The series for these label values (every declared label, no other). Keep the result: its
   * `inc` does no lookup. Throws a TypeError for an undeclared or missing label name.
   */
  labels(values: LabelValues): Counter;
}

/** A value that goes up and down. */
export interface Gauge {
  readonly name: string;
  /** Sets the value. NaN and non-numbers are ignored and reported. */
  set(value: number): void;
  /** Adds `by` (default 1). */
  inc(by?: number): void;
  /** Subtracts `by` (default 1). */
  dec(by?: number): void;
  labels(values: LabelValues): Gauge;
}

/** A distribution: count and sum since start, percentiles over a sliding window. */
export interface Histogram {
  readonly name: string;
  /** Records a value (in the histogram's `unit`). NaN, negatives and infinities are ignored and reported. */
  record(value: number): void;
  /** Starts a timer; calling the returned function records the elapsed milliseconds and returns them. */
  startTimer(): () => number;
  /**
   * Runs `fn` and records how long it took in milliseconds (until its promise settles, when it
   * returns one), also when it throws or rejects. Returns what `fn` returns; errors pass through.
   */
  time<R>(fn: () => R): R;
  labels(values: LabelValues): Histogram;
}

/** A rate of events: count since start, mean rate and 1/5/15-minute moving averages. */
export interface Meter {
  readonly name: string;
  /** Marks `n` events (default 1; finite, >= 0). */
  mark(n?: number): void;
  labels(values: LabelValues): Meter;
}

/** A gauge read from a function at snapshot and export time. */
export type GaugeFunction = () => number;

/** Options of `countByValue`. */
export interface CountByValueOptions {
  /**
   * Values that always appear, with 0 when no gauge holds them: an array of numbers (keyed by the
   * number), or names for values (`{ great: 3, good: 2, bad: 1 }`, keyed by the name).
   */
  values?: readonly number[] | Readonly<Record<string, number>>;
}

/** Options of `configureMetrics` (and `MetricsRegistry.configure`). */
export interface MetricsConfig {
  /** Metrics created below this level are shared no-ops. Default `'info'`. */
  level?: MetricLevel;
  /** Where updates go every `intervalMs`. Default none. */
  exporters?: readonly MetricsExporter[];
  /** Milliseconds between updates. Default 10000. */
  intervalMs?: number;
  /** Milliseconds an exporter's `exportMetrics`, `flush` or `shutdown` may take before it is given up on. Default 5000. */
  exportTimeoutMs?: number;
  /** Histogram values kept per series per interval for exporters (a uniform sample beyond it). Default 1024. */
  maxValuesPerInterval?: number;
}

/** Fault and export counts of a registry, since it was made (or `reset`). */
export interface MetricsStats {
  /** Record-time values ignored: NaN, negative counter increments or histogram values, non-numbers. */
  invalidValues: number;
  /** Gauge functions that threw or returned a non-number, per read. */
  gaugeFailures: number;
  /** `.labels()` calls sent to the overflow series because the metric had `maxSeries` series. */
  seriesOverflows: number;
  /** Updates handed to exporters. */
  updatesExported: number;
  /** `exportMetrics` calls that threw or rejected. */
  exportErrors: number;
  /** `exportMetrics` calls that did not settle within `exportTimeoutMs`. */
  exportTimeouts: number;
  /** Updates not handed to an exporter because its previous call was still running. */
  exporterBusy: number;
}
