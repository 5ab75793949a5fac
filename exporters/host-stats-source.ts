import { collect, snapshot } from '../lib/metrics';
import type { CollectedMetric, CollectOptions } from '../lib/metrics/types';

/**
 * What Graphite and host-wide stats read from a metrics registry: `MetricsRegistry` (and the
 * default registry behind the `tomograph/metrics` module functions) has both methods.
 */
export interface MetricsSource {
  /** The whole tree as plain data (`tomograph/metrics` `snapshot()`). */
  snapshot(): object;
  /**
   * Every metric with its type, labels and series; histogram series carry their mergeable state
   * unless `states: false` (a reader that only writes values).
   */
  collect(options?: CollectOptions): readonly CollectedMetric[];
}

/** The default registry of `tomograph/metrics`. */
export function defaultMetricsSource(): MetricsSource {
  return { snapshot, collect };
}
