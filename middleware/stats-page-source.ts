import { defaultRegistry } from '../lib/metrics/api';
import type { CollectedMetric, CollectOptions } from '../lib/metrics/types';

/** What the stats page and Prometheus read: a `MetricsRegistry`, or anything with the same two methods. */
export interface MetricsSource {
  /** The whole tree as plain data. */
  snapshot(): object;
  /**
   * Every metric (at or above `level`) with its type, unit, description, labels and series
   * (histogram states are not read: the page asks with `states: false`).
   */
  collect(options?: CollectOptions): readonly CollectedMetric[];
}

/** The default registry of `tomograph/metrics`: what the module functions (`counter`, `incr`, …) write to. */
export function defaultMetricsSource(): MetricsSource {
  return defaultRegistry;
}
