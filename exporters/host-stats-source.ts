import type { CollectedMetric } from '../lib/metrics/types';

/**
 * What Graphite and host-wide stats read from a metrics registry: `MetricsRegistry` (and the
 * default registry behind the `tomograph/metrics` module functions) has both methods.
 */
export interface MetricsSource {
  /** The whole tree as plain data (`tomograph/metrics` `snapshot()`). */
  snapshot(): object;
  /** Every metric with its type, labels and series; histogram series carry their mergeable state. */
  collect(): readonly CollectedMetric[];
}

/** The default registry of `tomograph/metrics`, loaded on first use. */
export function defaultMetricsSource(): MetricsSource {
  // Loaded lazily so that importing an exporter does not build the registry module's state.
  const metrics = require('../lib/metrics') as { snapshot(): object; collect(): readonly CollectedMetric[] };
  return { snapshot: () => metrics.snapshot(), collect: () => metrics.collect() };
}
