import type { CollectedMetric } from '../lib/metrics/types';
import { renderPrometheus } from './prometheus-text';

/**
 * Prometheus text exposition 0.0.4 of merged host metrics: `tomograph/prometheus`'s rendering of
 * the merged series, after one gauge saying how many processes answered.
 */
export function hostPrometheusText(metrics: readonly CollectedMetric[], processes: number): string {
  return (
    '# HELP tomograph_host_processes Processes whose stats were merged into this scrape.\n' +
    '# TYPE tomograph_host_processes gauge\n' +
    `tomograph_host_processes ${processes}\n` +
    renderPrometheus(metrics)
  );
}
