import type {
  CollectedMetric, CollectedSeries, HistogramSnapshot, HistogramState, MeterSnapshot, MetricType,
} from '../lib/metrics/types';
import { placeInTree, setKey } from '../lib/metrics/tree';

/**
 * How a gauge's values from several processes become one host value:
 * - `'sum'` (default): a pool size, a queue length, bytes in use: the host's total;
 * - `'max'` / `'min'`: a high-water mark, a version, a limit every process shares (summing a
 *   shared limit would multiply it by the number of processes, prom-client's fault);
 * - `'per-process'`: no merge; the host shows one value per pid (`{ "1234": 5, "1240": 7 }`,
 *   a `pid` label in Prometheus).
 */
export type GaugeMerge = 'sum' | 'max' | 'min' | 'per-process';

/** Per-gauge merge rules: metric name or glob (`*` within a segment, `**` across) to rule. */
export type GaugeMergeRules = Readonly<Record<string, GaugeMerge>>;

/** What one process serves on its socket (format version 1). */
export interface ProcessStats {
  readonly v: 1;
  readonly pid: number;
  /** When the process started exposing, epoch ms: with `pid`, names the process uniquely. */
  readonly startedAtMs: number;
  readonly service: string;
  readonly metrics: readonly CollectedMetric[];
  /** The process's gauge rules, resolved per gauge name. */
  readonly gauges: Readonly<Record<string, GaugeMerge>>;
}

/** The histogram functions of `tomograph/metrics` the merge needs. */
export interface HistogramMath {
  mergeHistogramStates(states: readonly HistogramState[]): HistogramState;
  summarizeHistogramState(state: HistogramState): HistogramSnapshot;
}

const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'meter']);
const MERGES = new Set<GaugeMerge>(['sum', 'max', 'min', 'per-process']);

/** Reads a parsed payload as `ProcessStats`, or undefined when it is not one (a hostile or broken peer). */
export function validateProcessStats(data: unknown): ProcessStats | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  const d = data as Record<string, unknown>;
  if (d.v !== 1 || !Number.isInteger(d.pid) || typeof d.startedAtMs !== 'number' || typeof d.service !== 'string') return undefined;
  if (!Array.isArray(d.metrics) || d.gauges === null || typeof d.gauges !== 'object') return undefined;
  for (const m of d.metrics as unknown[]) if (!isMetric(m)) return undefined;
  for (const rule of Object.values(d.gauges as object)) if (!MERGES.has(rule as GaugeMerge)) return undefined;
  return data as ProcessStats;
}

function isMetric(m: unknown): m is CollectedMetric {
  if (m === null || typeof m !== 'object') return false;
  const x = m as Record<string, unknown>;
  if (typeof x.name !== 'string' || x.name === '' || !TYPES.has(x.type as MetricType) || !Array.isArray(x.series)) return false;
  if (!Array.isArray(x.labelNames) || !x.labelNames.every((n) => typeof n === 'string')) return false;
  for (const s of x.series as unknown[]) {
    if (s === null || typeof s !== 'object') return false;
    const series = s as Record<string, unknown>;
    if (!Array.isArray(series.labelValues) || !series.labelValues.every((v) => typeof v === 'string')) return false;
    const value = series.value;
    if (x.type === 'counter' || x.type === 'gauge') {
      if (typeof value !== 'number' || !Number.isFinite(value)) return false;
    } else if (value === null || typeof value !== 'object' || typeof (value as { count?: unknown }).count !== 'number') {
      return false;
    }
  }
  return true;
}

/** Counter, meter and histogram totals of processes that exited normally (see `exposeStats`). */
export interface RetiredTotals {
  readonly v: 1;
  /** Metrics with only their monotonic parts: counter values, meter and histogram `count`/`sum`. */
  readonly metrics: readonly CollectedMetric[];
  /** The processes most recently folded in (their sockets may linger a moment: not counted twice). */
  readonly recent: readonly { readonly pid: number; readonly startedAtMs: number }[];
}

interface SeriesAcc {
  labelValues: readonly string[];
  number: number;
  numbers: number[];
  pids: number[];
  states: HistogramState[];
  countSum: number;
  sumSum: number;
  meter: MeterSnapshot | undefined;
  retiredCount: number;
  retiredSum: number;
}

interface MetricAcc {
  metric: CollectedMetric;
  rule: GaugeMerge;
  series: Map<string, SeriesAcc>;
}

/** A type clash between processes (the same name as two types): the first type seen wins. */
export interface MergeConflict {
  readonly name: string;
  readonly pid: number;
}

/**
 * Merges processes' metrics into host metrics: counters and meters summed (meter rates too:
 * events per second add up across processes), gauges per their rule, histograms by merging
 * their sketch states (so a host's p99 is the p99 of every process's values, never a sum or an
 * average of percentiles), plus the retired totals of processes that exited normally.
 */
export function mergeProcessStats(
  processes: readonly ProcessStats[],
  retired: RetiredTotals | undefined,
  math: HistogramMath,
  override: (name: string) => GaugeMerge | undefined,
): { metrics: CollectedMetric[]; conflicts: MergeConflict[] } {
  const byName = new Map<string, MetricAcc>();
  const conflicts: MergeConflict[] = [];
  const accFor = (metric: CollectedMetric, pid: number, rule: GaugeMerge): MetricAcc | undefined => {
    let acc = byName.get(metric.name);
    if (acc === undefined) {
      acc = { metric, rule, series: new Map() };
      byName.set(metric.name, acc);
    } else if (acc.metric.type !== metric.type) {
      conflicts.push({ name: metric.name, pid });
      return undefined;
    }
    return acc;
  };
  for (const proc of processes) {
    for (const metric of proc.metrics) {
      const rule = override(metric.name) ?? proc.gauges[metric.name] ?? 'sum';
      const acc = accFor(metric, proc.pid, rule);
      if (acc === undefined) continue;
      for (const series of metric.series) add(acc, series, proc.pid);
    }
  }
  if (retired !== undefined) {
    for (const metric of retired.metrics) {
      const acc = accFor(metric, 0, 'sum');
      if (acc === undefined) continue;
      for (const series of metric.series) {
        const s = seriesFor(acc, series.labelValues);
        if (metric.type === 'counter') s.number += series.value as number;
        else {
          const v = series.value as { count: number; sum?: number };
          s.retiredCount += v.count;
          s.retiredSum += v.sum ?? 0;
        }
      }
    }
  }
  const metrics: CollectedMetric[] = [];
  for (const acc of [...byName.values()].sort((a, b) => (a.metric.name < b.metric.name ? -1 : 1))) {
    metrics.push(finish(acc, math));
  }
  return { metrics, conflicts };
}

function seriesFor(acc: MetricAcc, labelValues: readonly string[]): SeriesAcc {
  const key = labelValues.join('\u0000');
  let s = acc.series.get(key);
  if (s === undefined) {
    s = {
      labelValues, number: 0, numbers: [], pids: [], states: [], countSum: 0, sumSum: 0, meter: undefined, retiredCount: 0, retiredSum: 0,
    };
    acc.series.set(key, s);
  }
  return s;
}

function add(acc: MetricAcc, series: CollectedSeries, pid: number): void {
  const s = seriesFor(acc, series.labelValues);
  switch (acc.metric.type) {
    case 'counter':
      s.number += series.value as number;
      break;
    case 'gauge':
      s.numbers.push(series.value as number);
      s.pids.push(pid);
      break;
    case 'meter': {
      const v = series.value as MeterSnapshot;
      const m = s.meter ?? (s.meter = { count: 0, mean: 0, m1: 0, m5: 0, m15: 0 });
      m.count += v.count;
      m.mean += v.mean;
      m.m1 += v.m1;
      m.m5 += v.m5;
      m.m15 += v.m15;
      break;
    }
    case 'histogram': {
      const v = series.value as HistogramSnapshot;
      if (series.state !== undefined) s.states.push(series.state);
      else {
        // A histogram without state (should not happen): its totals still count.
        s.countSum += v.count;
        s.sumSum += v.sum;
      }
      break;
    }
  }
}

function finish(acc: MetricAcc, math: HistogramMath): CollectedMetric {
  const { metric, rule } = acc;
  const type = metric.type;
  const series: CollectedSeries[] = [];
  const perProcess = type === 'gauge' && rule === 'per-process';
  for (const s of acc.series.values()) {
    if (type === 'counter') series.push({ labelValues: s.labelValues, value: s.number });
    else if (type === 'gauge') {
      if (s.numbers.length === 0) continue;
      if (perProcess) {
        for (let i = 0; i < s.numbers.length; i++) series.push({ labelValues: [...s.labelValues, String(s.pids[i])], value: s.numbers[i] });
      } else {
        series.push({ labelValues: s.labelValues, value: mergeGauge(rule, s.numbers) });
      }
    } else if (type === 'meter') {
      const m = s.meter ?? { count: 0, mean: 0, m1: 0, m5: 0, m15: 0 };
      series.push({ labelValues: s.labelValues, value: { ...m, count: m.count + s.retiredCount } });
    } else {
      let value: HistogramSnapshot;
      let state: HistogramState | undefined;
      if (s.states.length > 0) {
        state = s.states.length === 1 ? s.states[0] : math.mergeHistogramStates(s.states);
        value = { ...math.summarizeHistogramState(state) };
      } else {
        value = { count: 0, sum: 0 };
      }
      value.count += s.countSum + s.retiredCount;
      value.sum += s.sumSum + s.retiredSum;
      series.push(state === undefined ? { labelValues: s.labelValues, value } : { labelValues: s.labelValues, value, state });
    }
  }
  return {
    name: metric.name,
    type,
    description: typeof metric.description === 'string' ? metric.description : '',
    ...(typeof metric.unit === 'string' ? { unit: metric.unit } : {}),
    labelNames: perProcess ? [...metric.labelNames, 'pid'] : metric.labelNames,
    level: metric.level,
    series,
  };
}

function mergeGauge(rule: GaugeMerge, values: number[]): number {
  if (rule === 'max') return Math.max(...values);
  if (rule === 'min') return Math.min(...values);
  let sum = 0;
  for (const v of values) sum += v;
  return sum;
}

/**
 * The merged metrics as a tree in `snapshot()`'s shape (the registry's own `placeInTree`): dotted
 * paths as nested keys, a labelled metric as an object keyed by its label values joined by `,`,
 * a per-process gauge keyed by its labels and pid.
 */
export function metricsTree(metrics: readonly CollectedMetric[]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const metric of metrics) {
    if (metric.labelNames.length === 0) {
      const only = metric.series[0];
      if (only !== undefined) placeInTree(root, metric.name, only.value);
    } else {
      const byLabels: Record<string, unknown> = {};
      for (const s of metric.series) setKey(byLabels, s.labelValues.join(','), s.value);
      placeInTree(root, metric.name, byLabels);
    }
  }
  return root;
}
