import type { CollectedMetric, HistogramSnapshot, MeterSnapshot } from '../lib/metrics/types';
import type { HostStats } from './host-stats-collect';

/** Options for `renderHostStatsText`. */
export interface TextOptions {
  /** A title for the first line, e.g. the service name. Default the directory. */
  title?: string;
}

interface Row {
  label: string;
  kind: 'heading' | 'scalar' | 'histogram' | 'meter';
  cells: string[];
}

/**
 * The merged stats as a tree a person reads at a glance in a terminal: one line per metric (a
 * histogram's count, mean and percentiles on its one line, a meter's rates on its), indented by
 * path, values right-aligned in columns, with units: durations in µs/ms/s/min as they fit,
 * bytes in KiB/MiB/GiB, rates per second, large counts with thousands separators.
 */
export function renderHostStatsText(stats: HostStats, options: TextOptions = {}): string {
  const head = `${options.title ?? stats.dir}: ${stats.processes} process${stats.processes === 1 ? '' : 'es'}` +
    (stats.pids.length > 0 ? ` (pid ${stats.pids.join(', ')})` : '') +
    (stats.retiredProcesses > 0 ? `, totals of ${stats.retiredProcesses} exited kept` : '');
  const lines = [head];
  for (const s of stats.skipped) lines.push(`  ! pid ${s.pid} skipped: ${s.reason}${s.detail === undefined ? '' : ` (${s.detail})`}`);
  if (stats.removedSockets > 0) lines.push(`  (${stats.removedSockets} dead process socket${stats.removedSockets === 1 ? '' : 's'} removed)`);
  const rows: Row[] = [];
  // The previous metric's path: headings already printed (a metric can hold others: `a`, `a.errors`).
  let previous: string[] = [];
  for (const metric of stats.metrics) {
    const parts = metric.name.split('.');
    let common = 0;
    while (common < previous.length && common < parts.length - 1 && previous[common] === parts[common]) common++;
    for (let i = common; i < parts.length - 1; i++) rows.push({ label: '  '.repeat(i + 1) + parts[i], kind: 'heading', cells: [] });
    previous = parts;
    const depth = parts.length;
    const leaf = parts[parts.length - 1] + (metric.unit !== undefined && metric.unit !== '' ? ` (${metric.unit})` : '');
    if (metric.labelNames.length === 0) {
      const only = metric.series[0];
      if (only !== undefined) rows.push(row('  '.repeat(depth) + leaf, metric, only.value));
    } else {
      rows.push({ label: '  '.repeat(depth) + leaf + ` {${metric.labelNames.join(',')}}`, kind: 'heading', cells: [] });
      for (const s of metric.series) rows.push(row('  '.repeat(depth + 1) + s.labelValues.join(','), metric, s.value));
    }
  }
  if (rows.length === 0) lines.push('  (no metrics)');
  const labelWidth = Math.max(0, ...rows.map((r) => r.label.length)) + 2;
  const widths = new Map<string, number[]>();
  for (const r of rows) {
    const w = widths.get(r.kind) ?? [];
    r.cells.forEach((c, i) => (w[i] = Math.max(w[i] ?? 0, c.length)));
    widths.set(r.kind, w);
  }
  for (const r of rows) {
    if (r.kind === 'heading') {
      lines.push(r.label);
      continue;
    }
    const w = widths.get(r.kind) as number[];
    lines.push((r.label.padEnd(labelWidth) + r.cells.map((c, i) => c.padStart(w[i])).join('  ')).trimEnd());
  }
  return lines.join('\n') + '\n';
}

function row(label: string, metric: CollectedMetric, value: unknown): Row {
  if (metric.type === 'histogram') {
    const h = value as HistogramSnapshot;
    const u = metric.unit;
    const field = (name: string, v: number | undefined): string => `${name} ${v === undefined ? '-' : formatValue(v, u)}`;
    return {
      label,
      kind: 'histogram',
      cells: [`n ${formatCount(h.count)}`, field('mean', h.mean), field('p50', h.p50), field('p95', h.p95), field('p99', h.p99), field('max', h.max)],
    };
  }
  if (metric.type === 'meter') {
    const m = value as MeterSnapshot;
    return { label, kind: 'meter', cells: [`n ${formatCount(m.count)}`, `1m ${formatNumber(m.m1)}/s`, `5m ${formatNumber(m.m5)}/s`, `15m ${formatNumber(m.m15)}/s`] };
  }
  return { label, kind: 'scalar', cells: [formatValue(value as number, metric.unit)] };
}

/** A value with its unit, scaled to read at a glance. */
export function formatValue(value: number, unit: string | undefined): string {
  if (unit === 'ms' || unit === 's') return formatDuration(unit === 's' ? value * 1000 : value);
  if (unit === 'bytes' || unit === 'B') return formatBytes(value);
  const text = Number.isInteger(value) ? formatCount(value) : formatNumber(value);
  return unit === undefined || unit === '' ? text : `${text} ${unit}`;
}

function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs === 0) return '0 ms';
  if (abs < 1) return `${formatNumber(ms * 1000)} µs`;
  if (abs < 1000) return `${formatNumber(ms)} ms`;
  if (abs < 60000) return `${formatNumber(ms / 1000)} s`;
  return `${formatNumber(ms / 60000)} min`;
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? formatCount(v) : formatNumber(v)} ${units[i]}`;
}

function formatCount(value: number): string {
  return Number.isInteger(value) ? value.toLocaleString('en-US') : formatNumber(value);
}

/** Three significant digits (enough at a glance), no exponent for everyday magnitudes. */
function formatNumber(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e6) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 0.001) return String(Number(value.toPrecision(3)));
  return value.toExponential(2);
}
