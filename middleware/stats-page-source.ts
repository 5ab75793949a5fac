import type { CollectedMetric } from '../lib/metrics/types';

/** What the stats page reads: a `MetricsRegistry`, or anything with the same two methods. */
export interface MetricsSource {
  /** The whole tree as plain data. */
  snapshot(): object;
  /** Every metric with its type, unit, description, labels and series. */
  collect(): readonly CollectedMetric[];
}

/** The default registry of `tomograph/metrics`. */
export function defaultMetricsSource(): MetricsSource {
  throw new Error('pending: the default registry of lib/metrics (branch i10a)');
}
