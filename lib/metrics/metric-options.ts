/**
 * Option defaults and checks for the factories and `configureMetrics`: all run once, at creation
 * or configuration, never on a hot path.
 */
import type { RankedExporter } from './export-loop';
import type { MetricInfo } from './metric-info';
import { checkLabelNames, invalidOption, levelRank } from './names';
import type { MetricOptions, MetricType } from './types';

export const DEFAULT_WINDOW_MS = 60_000;
export const DEFAULT_MAX_SERIES = 1000;
export const DEFAULT_INTERVAL_MS = 10_000;
export const DEFAULT_EXPORT_TIMEOUT_MS = 5000;
export const DEFAULT_MAX_VALUES_PER_INTERVAL = 1024;
export const OPTION_KEYS = new Set(['description', 'unit', 'windowMs', 'labels', 'maxSeries', 'level']);
export const CONFIG_KEYS = new Set(['level', 'exporters', 'intervalMs', 'exportTimeoutMs', 'maxValuesPerInterval']);

// Settings shared by every metric of a kind made without options, so a plain counter costs no info object.
const defaultInfos = new Map<MetricType, MetricInfo>();

/** Validates a factory's options once, at creation. */
export function metricInfo(kind: MetricType, options: MetricOptions | undefined): MetricInfo {
  if (options === undefined) {
    let info = defaultInfos.get(kind);
    if (info === undefined) {
      info = Object.freeze({
        kind, type: kind, description: '', unit: undefined, labelNames: checkLabelNames(undefined),
        maxSeries: DEFAULT_MAX_SERIES, level: 'info', rank: 1, windowMs: DEFAULT_WINDOW_MS,
      } satisfies MetricInfo);
      defaultInfos.set(kind, info);
    }
    return info;
  }
  if (options === null || typeof options !== 'object') throw invalidOption('metric options must be an object');
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw invalidOption(`unknown metric option ${JSON.stringify(key)}`);
  }
  if (options.description !== undefined && typeof options.description !== 'string') throw invalidOption('description must be a string');
  if (options.unit !== undefined && (typeof options.unit !== 'string' || options.unit === '')) throw invalidOption('unit must be a non-empty string');
  const level = options.level ?? 'info';
  const windowMs = positiveInteger(options.windowMs, DEFAULT_WINDOW_MS, 'windowMs');
  if (windowMs < 6) throw invalidOption('windowMs must be at least 6');
  return Object.freeze({
    kind,
    type: kind,
    description: options.description ?? '',
    unit: options.unit,
    labelNames: checkLabelNames(options.labels),
    maxSeries: positiveInteger(options.maxSeries, DEFAULT_MAX_SERIES, 'maxSeries'),
    level,
    rank: levelRank(level),
    windowMs,
  });
}

/** Validates `configureMetrics({ exporters })` and resolves each exporter's level. */
export function checkExporters(exporters: unknown): RankedExporter[] {
  if (exporters === undefined) return [];
  if (!Array.isArray(exporters)) throw invalidOption('exporters must be an array');
  return exporters.map((exporter: unknown) => {
    if (exporter === null || typeof exporter !== 'object' || typeof (exporter as { exportMetrics?: unknown }).exportMetrics !== 'function') {
      throw invalidOption('every metrics exporter needs an exportMetrics(update) method');
    }
    const level = (exporter as { level?: unknown }).level;
    return { exporter: exporter as RankedExporter['exporter'], rank: level === undefined ? 0 : levelRank(level, 'exporter level') };
  });
}

/** `value` as a positive integer, `fallback` when undefined; a TypeError otherwise. */
export function positiveInteger(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw invalidOption(`${name} must be a positive integer, not ${String(value)}`);
  }
  return value;
}

/** Whether two label-name lists are the same, in order. */
export function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((label, i) => label === b[i]);
}

