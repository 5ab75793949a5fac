import { defaultTracer } from '../api';
import { codes } from '../codes';
import { Diagnostics, type DiagnosticListener } from '../diagnostics';
import { flushAtExit } from '../exit-flush';
import { addFlushHook, type FlushHook, removeFlushHook } from '../flush-hooks';
import { coarseNowMs, preciseNowMs, startCoarseClock } from './coarse-clock';
import { CounterSeries } from './counter';
import { RegistryCursor } from './collect-cursor';
import { type AnyFunction, keepIdentity, type MetricDecorator, metricDecorator } from './decorate';
import { MetricsExportLoop, type RankedUpdate } from './export-loop';
import { Family } from './family';
import { GaugeSeries } from './gauge';
import { HistogramSeries } from './histogram';
import { encodeState, summarize } from './histogram-state';
import { LogSketch } from './log-sketch';
import { MeterSeries } from './meter';
import { type MetricInfo, type MetricKind, type SeriesHost } from './metric-info';
import { checkLabelNames, checkName, globToRegExp, invalidOption, levelRank } from './names';
import { checkExporters, CONFIG_KEYS, DEFAULT_EXPORT_TIMEOUT_MS, DEFAULT_INTERVAL_MS, DEFAULT_MAX_VALUES_PER_INTERVAL, metricInfo, positiveInteger, sameLabels } from './metric-options';
import { MetricsGroup } from './group';
import { NOOP_METRIC } from './noop';
import { timeCall } from './timing';
import { setKey, placeInTree } from './tree';
import type {
  CollectCursor, CollectedMetric, CollectedSeries, CollectOptions, CountByValueOptions, Counter, DeltaUpdate, Gauge, GaugeFunction, GaugeUpdate,
  Histogram, HistogramUpdate, LabelPairs, Meter, MetricOptions, MetricsConfig, MetricsStats, MetricType,
} from './types';

/** Options of `new MetricsRegistry()`. */
export interface MetricsRegistryOptions {
  /**
   * Epoch milliseconds, read on every histogram record and meter mark: for tests, to move time
   * without sleeping. Default: a coarse clock refreshed every second (and exactly on every read).
   */
  clock?: () => number;
  /** Where this registry's faults go. Default: the core's `onDiagnostic` (given to `configure`). */
  onDiagnostic?: DiagnosticListener;
}

type Series = CounterSeries | GaugeSeries | HistogramSeries | MeterSeries;

/** A name taken by a metric created below the level: remembered for its type, records nothing. */
class DisabledMetric {
  constructor(readonly name: string, readonly info: MetricInfo) {}
}

/** A metric computed at read time from others (`sumOf`, `countByValue`). */
class DerivedMetric {
  constructor(
    readonly name: string,
    readonly info: MetricInfo,
    readonly pattern: RegExp,
    readonly values: readonly (readonly [key: string, value: number])[] | undefined,
  ) {}
}

type Entry = Series | Family<Series> | DisabledMetric | DerivedMetric;


/**
 * A set of metrics, by dotted path: get-or-create factories, read-time views (`snapshot`,
 * `collect`), and an export loop. The module functions of `tomograph/metrics` use one default
 * registry; make more for isolation (tests, libraries). Nothing here throws after creation
 * except for a mistake in the code that calls it (a bad name, a name of another type, undeclared
 * labels): faults at record time are counted in `stats()` and reported.
 */
export class MetricsRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly host: RegistryHost;
  private readonly readNowMs: () => number;
  private levelRankValue = 1;
  private loop: MetricsExportLoop | undefined;
  private readonly hook: FlushHook = { flush: () => this.flush(), shutdown: () => this.shutdown() };
  /** Flushes once when the event loop empties (held here: exit-flush keeps only a weak reference). */
  private readonly exitTarget = {
    beforeExit: (): void => {
      if (this.exitFlushed) return;
      // Once per configuration: the flush itself makes the loop busy again, then empty again.
      this.exitFlushed = true;
      void this.flush();
    },
  };
  private exitFlushed = false;
  private stopExitFlush: (() => void) | undefined;
  private counts: MetricsStats = emptyStats();
  private readonly diagnostics: Diagnostics | undefined;
  private readonly customClock: boolean;
  /** Where reads merge a histogram's window: one per registry, reused series after series. */
  private readonly scratch = new LogSketch(true);

  constructor(options: MetricsRegistryOptions = {}) {
    if (options === null || typeof options !== 'object') throw invalidOption('MetricsRegistry options must be an object');
    if (options.clock !== undefined && typeof options.clock !== 'function') throw invalidOption('clock must be a function');
    if (options.onDiagnostic !== undefined && typeof options.onDiagnostic !== 'function') {
      throw invalidOption('onDiagnostic must be a function');
    }
    this.diagnostics = options.onDiagnostic !== undefined ? new Diagnostics(options.onDiagnostic) : undefined;
    this.customClock = options.clock !== undefined;
    this.readNowMs = options.clock ?? preciseNowMs;
    this.host = new RegistryHost(options.clock ?? coarseNowMs, this);
  }

  /** A counter (get-or-create). `options.labels` makes it labelled: record through `.labels({...})`. */
  counter(name: string, options?: MetricOptions): Counter {
    return this.getOrCreate('counter', name, options, undefined) as Counter;
  }

  /**
   * A gauge (get-or-create): set by the app, or, given a function, read from it at snapshot and
   * export time (a function that throws or returns a non-number is left out and reported).
   */
  gauge(name: string, fnOrOptions?: GaugeFunction | MetricOptions, options?: MetricOptions): Gauge {
    if (typeof fnOrOptions === 'function') return this.getOrCreate('gauge', name, options, fnOrOptions) as Gauge;
    return this.getOrCreate('gauge', name, fnOrOptions, undefined) as Gauge;
  }

  /** A histogram (get-or-create): `count`/`sum` since start, the rest over the last `windowMs`. */
  histogram(name: string, options?: MetricOptions): Histogram {
    return this.getOrCreate('histogram', name, options, undefined) as Histogram;
  }

  /** A meter (get-or-create): count, mean rate, 1/5/15-minute moving averages (events per second). */
  meter(name: string, options?: MetricOptions): Meter {
    return this.getOrCreate('meter', name, options, undefined) as Meter;
  }

  /** Adds `by` (default 1) to counter `name` (statvent's `incr`). */
  incr(name: string, by = 1): void {
    this.counter(name).inc(by);
  }

  /** Sets gauge `name` (statvent's `set`). */
  set(name: string, value: number): void {
    this.gauge(name).set(value);
  }

  /** Records `value` into histogram `name` (statvent's `record`). */
  record(name: string, value: number): void {
    this.histogram(name).record(value);
  }

  /** The same factories with every name prefixed: `group('web').counter('hits')` is `web.hits`. */
  group(prefix: string): MetricsGroup {
    return new MetricsGroup(this, checkName(prefix, 'group prefix'));
  }

  /**
   * Defines `name` as the sum, at read time, of every counter and gauge (all series of a labelled
   * one) whose path matches `glob` (`*` one segment, `**` any number): metrics created later count too.
   */
  sumOf(name: string, glob: string): void {
    this.defineDerived('sumOf', name, globToRegExp(glob), undefined);
  }

  /**
   * Defines `name` as, at read time, how many gauge series matching `glob` hold each value: an
   * object keyed by the value (or by its name in `options.values`), with 0 for listed values
   * no gauge holds.
   */
  countByValue(name: string, glob: string, options: CountByValueOptions = {}): void {
    const values = options.values;
    let pairs: [string, number][] | undefined;
    if (Array.isArray(values)) {
      pairs = values.map((v: unknown) => {
        if (typeof v !== 'number' || v !== v) throw invalidOption('countByValue values must be numbers');
        return [String(v), v];
      });
    } else if (values !== undefined) {
      if (values === null || typeof values !== 'object') throw invalidOption('countByValue values must be an array or an object');
      pairs = Object.entries(values).map(([key, v]) => {
        if (typeof v !== 'number' || v !== v) throw invalidOption(`countByValue value ${key} must be a number`);
        return [key, v];
      });
    }
    this.defineDerived('countByValue', name, globToRegExp(glob), pairs);
  }

  /** Counts every call of `fn` in counter `name`; without `fn`, a method decorator (both modes). */
  countMe(name: string): MetricDecorator;
  countMe<F extends AnyFunction>(name: string, fn: F): F;
  countMe<F extends AnyFunction>(name: string, fn?: F): F | MetricDecorator {
    const counter = this.counter(name);
    const wrap = <G extends AnyFunction>(original: G): G => {
      if (counter === NOOP_METRIC) return original;
      return keepIdentity(function (this: unknown, ...args: unknown[]) {
        counter.inc();
        return Reflect.apply(original, this, args) as unknown;
      }, original);
    };
    if (fn === undefined) return metricDecorator('countMe', wrap);
    if (typeof fn !== 'function') throw invalidOption('countMe() wraps a function');
    return wrap(fn);
  }

  /**
   * Records every call's duration in milliseconds into histogram `name` (until a returned promise
   * settles), and counts calls that throw or reject in counter `name.errors`; without `fn`, a
   * method decorator (both modes).
   */
  timeMe(name: string): MetricDecorator;
  timeMe<F extends AnyFunction>(name: string, fn: F): F;
  timeMe<F extends AnyFunction>(name: string, fn?: F): F | MetricDecorator {
    const histogram = this.histogram(name, { unit: 'ms' });
    const errors = this.counter(`${name}.errors`);
    const done = (ms: number, failed: boolean): void => {
      histogram.record(ms);
      if (failed) errors.inc();
    };
    const wrap = <G extends AnyFunction>(original: G): G => {
      if (histogram === NOOP_METRIC) return original;
      return keepIdentity(function (this: unknown, ...args: unknown[]) {
        return timeCall(original, this, args, done) as unknown;
      }, original);
    };
    if (fn === undefined) return metricDecorator('timeMe', wrap);
    if (typeof fn !== 'function') throw invalidOption('timeMe() wraps a function');
    return wrap(fn);
  }

  /**
   * The whole tree as plain data: counters and gauges are numbers, histograms and meters
   * objects, labelled metrics objects keyed by their label values joined by `,`. A metric whose
   * path extends another's is a key inside it (a number extended so becomes `{ value, ... }`).
   */
  snapshot(): Record<string, unknown> {
    const nowMs = this.readNowMs();
    const tree: Record<string, unknown> = {};
    for (const name of [...this.entries.keys()].sort()) {
      const entry = this.entries.get(name) as Entry;
      const value = this.readEntry(entry, nowMs);
      if (value !== undefined) placeInTree(tree, name, value);
    }
    return tree;
  }

  /**
   * Every enabled metric at or above `options.level`, in name order, for the exposition formats.
   * Histogram series carry their mergeable `state` unless `options.states` is false. At once: for
   * many series, `collectCursor()` reads the same in pieces.
   */
  collect(options: CollectOptions = {}): CollectedMetric[] {
    return this.collectCursor(options).next();
  }

  /**
   * The metrics `collect()` gives, in pieces (`cursor.next(maxSeries, budgetMs)`), so a reader
   * can yield to the event loop between them; each metric is read whole, when its turn comes.
   * Throws a TypeError on an unknown level.
   */
  collectCursor(options: CollectOptions = {}): CollectCursor {
    const minRank = options.level === undefined ? 0 : levelRank(options.level);
    const states = options.states !== false;
    return new RegistryCursor(
      [...this.entries.keys()].sort(),
      (name, nowMs) => this.collectMetric(name, minRank, states, nowMs),
      this.readNowMs,
    );
  }

  /**
   * Sets the level, exporters and interval (the whole configuration: omitted options take their
   * defaults). Previous exporters get a last update and are shut down in the background.
   * Throws a TypeError (`TOMOGRAPH_ERR_INVALID_OPTION`) on a wrong option.
   */
  configure(config: MetricsConfig = {}): void {
    if (config === null || typeof config !== 'object') throw invalidOption('configureMetrics takes an options object');
    for (const key of Object.keys(config)) {
      if (!CONFIG_KEYS.has(key)) throw invalidOption(`unknown configureMetrics option ${JSON.stringify(key)}`);
    }
    const rank = config.level === undefined ? 1 : levelRank(config.level);
    const intervalMs = positiveInteger(config.intervalMs, DEFAULT_INTERVAL_MS, 'intervalMs');
    const timeoutMs = positiveInteger(config.exportTimeoutMs, DEFAULT_EXPORT_TIMEOUT_MS, 'exportTimeoutMs');
    const maxValues = positiveInteger(config.maxValuesPerInterval, DEFAULT_MAX_VALUES_PER_INTERVAL, 'maxValuesPerInterval');
    const exporters = checkExporters(config.exporters);

    this.levelRankValue = rank;
    this.stopLoop();
    this.host.sampleLimit = exporters.length > 0 ? maxValues : 0;
    for (const entry of this.entries.values()) {
      for (const one of seriesOf(entry)) if (one instanceof HistogramSeries) one.setExporting(exporters.length > 0);
    }
    if (exporters.length === 0) return;
    this.loop = new MetricsExportLoop(
      () => this.takeUpdate(),
      exporters,
      intervalMs,
      timeoutMs,
      this.counts,
      (code, message, detail) => this.report(code, message, detail),
    ).start();
    addFlushHook(this.hook);
    this.exitFlushed = false;
    this.stopExitFlush = flushAtExit(this.exitTarget);
  }

  /** Hands every exporter what changed now, then flushes them. Resolves within the export timeouts; never rejects. */
  async flush(): Promise<void> {
    await this.loop?.flush();
  }

  /** Gives the exporters a last update, shuts them down and stops the interval. Safe to call twice. */
  async shutdown(): Promise<void> {
    const loop = this.loop;
    if (loop === undefined) return;
    this.loop = undefined;
    removeFlushHook(this.hook);
    this.stopExitFlush?.();
    this.stopExitFlush = undefined;
    this.host.sampleLimit = 0;
    await loop.shutdown();
  }

  /** Forgets every metric and count; the configuration (level, exporters) stays. */
  reset(): void {
    this.entries.clear();
    Object.assign(this.counts, emptyStats());
  }

  /** Fault and export counts. */
  stats(): MetricsStats {
    return { ...this.counts };
  }

  /**
   * What changed since the previous update, for the export loop: counter and meter deltas, every
   * gauge, histogram values. Public for exporters that drive their own schedule; each call
   * consumes the deltas.
   */
  takeUpdate(): RankedUpdate {
    const counters: DeltaUpdate[] = [];
    const gauges: GaugeUpdate[] = [];
    const meters: DeltaUpdate[] = [];
    const histograms: HistogramUpdate[] = [];
    const ranks = { counters: [] as number[], gauges: [] as number[], meters: [] as number[], histograms: [] as number[] };
    for (const entry of this.entries.values()) {
      if (entry instanceof DisabledMetric) continue;
      const { rank, labelNames, unit } = entry.info;
      if (entry instanceof DerivedMetric) {
        if (entry.info.kind === 'sumOf') {
          gauges.push({ name: entry.name, labels: [], value: this.sum(entry.pattern) });
          ranks.gauges.push(rank);
        } else {
          for (const [key, count] of this.countValues(entry)) {
            gauges.push({ name: entry.name, labels: [['value', key]], value: count });
            ranks.gauges.push(rank);
          }
        }
        continue;
      }
      for (const one of seriesOf(entry)) {
        if (one instanceof CounterSeries) {
          const delta = one.value - one.reported;
          if (delta === 0) continue;
          one.reported = one.value;
          counters.push({ name: one.name, labels: pairs(labelNames, one.labelValues), delta });
          ranks.counters.push(rank);
        } else if (one instanceof GaugeSeries) {
          const value = this.readGauge(one);
          if (value === undefined) continue;
          gauges.push({ name: one.name, labels: pairs(labelNames, one.labelValues), value });
          ranks.gauges.push(rank);
        } else if (one instanceof MeterSeries) {
          const delta = one.count - one.reported;
          if (delta === 0) continue;
          one.reported = one.count;
          meters.push({ name: one.name, labels: pairs(labelNames, one.labelValues), delta });
          ranks.meters.push(rank);
        } else {
          const taken = one.takePending();
          if (taken === undefined) continue;
          const labels = pairs(labelNames, one.labelValues);
          histograms.push(unit === undefined
            ? { name: one.name, labels, values: taken.values, count: taken.count }
            : { name: one.name, labels, unit, values: taken.values, count: taken.count });
          ranks.histograms.push(rank);
        }
      }
    }
    return { update: { timestampMs: this.readNowMs(), counters, gauges, meters, histograms }, ranks };
  }

  /** Counts and reports a fault (for the series and the export loop). Never throws. */
  report(code: string, message: string, detail?: unknown): void {
    // Without a listener of its own, a registry reports where the core does, so the one
    // `onDiagnostic` given to `configure` sees metrics faults too.
    if (this.diagnostics !== undefined) this.diagnostics.report(code, message, detail);
    else defaultTracer.report(code, message, detail);
  }

  /** @internal */
  countInvalid(): void {
    this.counts.invalidValues++;
  }

  /** @internal */
  countOverflow(): void {
    this.counts.seriesOverflows++;
  }

  private getOrCreate(kind: MetricType, name: string, options: MetricOptions | undefined, fn: GaugeFunction | undefined): unknown {
    const existing = this.entries.get(name);
    if (existing !== undefined) {
      if (existing.info.kind !== kind) {
        throw invalidOption(`metric ${name} is a ${existing.info.kind}, not a ${kind}`);
      }
      if (options?.labels !== undefined && !sameLabels(checkLabelNames(options.labels), existing.info.labelNames)) {
        throw invalidOption(`metric ${name} was created with labels [${existing.info.labelNames.join(', ')}]`);
      }
      if (!(existing instanceof DisabledMetric)) return existing;
      if (existing.info.rank < this.levelRankValue) return NOOP_METRIC;
      // The level was lowered since: it is created for real now.
    }
    checkName(name);
    const info = metricInfo(kind, options);
    if (fn !== undefined && info.labelNames.length > 0) throw invalidOption(`gauge ${name}: a function gauge takes no labels`);
    if (info.rank < this.levelRankValue) {
      this.entries.set(name, new DisabledMetric(name, info));
      return NOOP_METRIC;
    }
    if ((kind === 'histogram' || kind === 'meter') && !this.customClock) startCoarseClock();
    const host = this.host;
    let entry: Series | Family<Series>;
    if (info.labelNames.length === 0) entry = makeSeries(kind, host, name, info, undefined, undefined, fn);
    else {
      entry = new Family<Series>(host, name, info, (labelValues, family) =>
        makeSeries(kind, host, name, info, labelValues, family, undefined));
    }
    this.entries.set(name, entry);
    return entry;
  }

  private defineDerived(kind: MetricKind, name: string, pattern: RegExp, values: [string, number][] | undefined): void {
    checkName(name);
    const existing = this.entries.get(name);
    if (existing !== undefined && existing.info.kind !== kind) {
      throw invalidOption(`metric ${name} is a ${existing.info.kind}, not a ${kind}`);
    }
    const info: MetricInfo = { ...metricInfo('gauge', undefined), kind };
    this.entries.set(name, new DerivedMetric(name, info, pattern, values));
  }

  private readEntry(entry: Entry, nowMs: number): unknown {
    if (entry instanceof DisabledMetric) return undefined;
    if (entry instanceof DerivedMetric) {
      if (entry.info.kind === 'sumOf') return this.sum(entry.pattern);
      const counts: Record<string, number> = {};
      for (const [key, count] of this.countValues(entry)) setKey(counts, key, count);
      return counts;
    }
    if (entry instanceof Family) {
      const byLabels: Record<string, unknown> = {};
      for (const one of entry.all()) {
        const value = this.readSeries(one, nowMs);
        if (value !== undefined) setKey(byLabels, one.labelValues.join(','), value);
      }
      return byLabels;
    }
    return this.readSeries(entry, nowMs);
  }

  private readSeries(series: Series, nowMs: number): unknown {
    if (series instanceof CounterSeries) return series.value;
    if (series instanceof GaugeSeries) return this.readGauge(series);
    if (series instanceof MeterSeries) return series.snapshot(nowMs);
    return summarize(series.count, series.sum, series.window(nowMs, this.scratch));
  }

  private collectMetric(name: string, minRank: number, states: boolean, nowMs: number): CollectedMetric | undefined {
    const entry = this.entries.get(name);
    if (entry === undefined || entry instanceof DisabledMetric || entry.info.rank < minRank) return undefined;
    const series: CollectedSeries[] = [];
    let labelNames = entry.info.labelNames;
    if (entry instanceof DerivedMetric) {
      if (entry.info.kind === 'sumOf') series.push({ labelValues: [], value: this.sum(entry.pattern) });
      else {
        labelNames = ['value'];
        for (const [key, count] of this.countValues(entry)) series.push({ labelValues: [key], value: count });
      }
    } else {
      for (const one of seriesOf(entry)) {
        const collected = this.collectSeries(one, nowMs, states);
        if (collected !== undefined) series.push(collected);
      }
    }
    const { type, description, unit, level } = entry.info;
    return unit === undefined
      ? { name, type, description, labelNames, level, series }
      : { name, type, description, unit, labelNames, level, series };
  }

  private collectSeries(series: Series, nowMs: number, states: boolean): CollectedSeries | undefined {
    const labelValues = series.labelValues;
    if (series instanceof HistogramSeries) {
      const window = series.window(nowMs, this.scratch);
      const value = summarize(series.count, series.sum, window);
      return states ? { labelValues, value, state: encodeState(series.count, series.sum, window) } : { labelValues, value };
    }
    const value = this.readSeries(series, nowMs) as CollectedSeries['value'] | undefined;
    return value === undefined ? undefined : { labelValues, value };
  }

  private readGauge(gauge: GaugeSeries): number | undefined {
    const fn = gauge.fn;
    if (fn === undefined) return gauge.value;
    let value: unknown;
    try {
      value = fn();
    } catch (error) {
      this.counts.gaugeFailures++;
      this.report(codes.METRIC_GAUGE_FAILED, `tomograph: gauge ${gauge.name}'s function threw; left out`, { name: gauge.name, error });
      return undefined;
    }
    if (typeof value === 'number' && value === value) return value;
    this.counts.gaugeFailures++;
    this.report(codes.METRIC_GAUGE_FAILED, `tomograph: gauge ${gauge.name}'s function returned ${describe(value)}; left out`, {
      name: gauge.name,
    });
    return undefined;
  }

  private sum(pattern: RegExp): number {
    let total = 0;
    for (const [name, entry] of this.entries) {
      if (entry instanceof DisabledMetric || entry instanceof DerivedMetric || !pattern.test(name)) continue;
      for (const one of seriesOf(entry)) {
        if (one instanceof CounterSeries) total += one.value;
        else if (one instanceof GaugeSeries) total += this.readGauge(one) ?? 0;
      }
    }
    return total;
  }

  private countValues(entry: DerivedMetric): Map<string, number> {
    const counts = new Map<string, number>();
    const names = new Map<number, string>();
    for (const [key, value] of entry.values ?? []) {
      counts.set(key, 0);
      names.set(value, key);
    }
    for (const [name, other] of this.entries) {
      if (!(other instanceof GaugeSeries || other instanceof Family) || !entry.pattern.test(name)) continue;
      for (const one of seriesOf(other)) {
        if (!(one instanceof GaugeSeries)) continue;
        const value = this.readGauge(one);
        if (value === undefined) continue;
        const key = names.get(value) ?? String(value);
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    return counts;
  }

  private stopLoop(): void {
    if (this.loop === undefined) return;
    void this.shutdown();
  }
}

/** The registry as its series see it: clock, export sampling bound, fault counting. */
class RegistryHost implements SeriesHost {
  sampleLimit = 0;

  constructor(readonly now: () => number, private readonly registry: MetricsRegistry) {}

  invalid(name: string, value: unknown, why: string): void {
    this.registry.countInvalid();
    this.registry.report(codes.METRIC_INVALID_VALUE, `tomograph: metric ${name}: ${why}; got ${describe(value)}, ignored`, { name });
  }

  overflowed(name: string, first: boolean): void {
    this.registry.countOverflow();
    if (first) {
      this.registry.report(
        codes.METRIC_SERIES_OVERFLOW,
        `tomograph: metric ${name} reached its maxSeries; further label values are recorded in its overflow series`,
        { name },
      );
    }
  }
}

function makeSeries(
  kind: MetricType,
  host: SeriesHost,
  name: string,
  info: MetricInfo,
  labelValues: readonly string[] | undefined,
  family: Family<Series> | undefined,
  fn: GaugeFunction | undefined,
): Series {
  switch (kind) {
    case 'counter':
      return new CounterSeries(host, name, info, labelValues, family);
    case 'gauge':
      return new GaugeSeries(host, name, info, labelValues, family, fn);
    case 'histogram':
      return new HistogramSeries(host, name, info, labelValues, family);
    default:
      return new MeterSeries(host, name, info, labelValues, family);
  }
}

function seriesOf(entry: Series | Family<Series>): Iterable<Series>;
function seriesOf(entry: Entry): Iterable<Series>;
function seriesOf(entry: Entry): Iterable<Series> {
  if (entry instanceof Family) return entry.all();
  if (entry instanceof DisabledMetric || entry instanceof DerivedMetric) return [];
  return [entry];
}

function pairs(names: readonly string[], values: readonly string[]): LabelPairs {
  if (names.length === 0) return [];
  return names.map((name, i) => [name, values[i]] as const);
}

function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined || value === null) return String(value);
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 64)) : typeof value;
}

function emptyStats(): MetricsStats {
  return {
    invalidValues: 0, gaugeFailures: 0, seriesOverflows: 0, updatesExported: 0, exportErrors: 0, exportTimeouts: 0,
    exporterBusy: 0,
  };
}
