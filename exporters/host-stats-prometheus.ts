import type { CollectedMetric, HistogramSnapshot, MeterSnapshot } from '../lib/metrics/types';

/**
 * Prometheus text exposition 0.0.4 of merged host metrics, as DESIGN's Prometheus section maps
 * them: counters `<name>_total`, gauges as is, histograms as `summary` (quantiles 0.5 to 0.999,
 * `_sum`, `_count`), meters as counters of their count; characters outside `[a-zA-Z0-9_:]`
 * become `_`; HELP and label values escaped. (Kept here, small, until `tomograph/prometheus`'s
 * renderer is available to host stats.)
 */
export function hostPrometheusText(metrics: readonly CollectedMetric[], processes: number): string {
  const out: string[] = [
    '# HELP tomograph_host_processes Processes whose stats were merged into this scrape.',
    '# TYPE tomograph_host_processes gauge',
    `tomograph_host_processes ${processes}`,
  ];
  for (const metric of metrics) {
    const base = promName(metric.name);
    const help = escapeHelp(metric.description === '' ? metric.name : metric.description);
    const labels = metric.labelNames.map(promLabelName);
    if (metric.type === 'counter' || metric.type === 'meter') {
      out.push(`# HELP ${base}_total ${help}`, `# TYPE ${base}_total counter`);
      for (const s of metric.series) {
        const v = metric.type === 'counter' ? (s.value as number) : (s.value as MeterSnapshot).count;
        out.push(`${base}_total${labelSet(labels, s.labelValues)} ${num(v)}`);
      }
    } else if (metric.type === 'gauge') {
      out.push(`# HELP ${base} ${help}`, `# TYPE ${base} gauge`);
      for (const s of metric.series) out.push(`${base}${labelSet(labels, s.labelValues)} ${num(s.value as number)}`);
    } else {
      out.push(`# HELP ${base} ${help}`, `# TYPE ${base} summary`);
      for (const s of metric.series) {
        const h = s.value as HistogramSnapshot;
        for (const [q, key] of QUANTILES) {
          const v = h[key];
          if (v !== undefined) out.push(`${base}${labelSet([...labels, 'quantile'], [...s.labelValues, q])} ${num(v)}`);
        }
        out.push(`${base}_sum${labelSet(labels, s.labelValues)} ${num(h.sum)}`);
        out.push(`${base}_count${labelSet(labels, s.labelValues)} ${num(h.count)}`);
      }
    }
  }
  return out.join('\n') + '\n';
}

const QUANTILES: readonly [string, keyof HistogramSnapshot][] = [
  ['0.5', 'p50'], ['0.75', 'p75'], ['0.95', 'p95'], ['0.98', 'p98'], ['0.99', 'p99'], ['0.999', 'p999'],
];

function promName(name: string): string {
  const safe = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[0-9]/.test(safe) ? '_' + safe : safe;
}

function promLabelName(name: string): string {
  const safe = name.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(safe) || safe.startsWith('__') ? '_' + safe.replace(/^_+/, '') : safe;
}

function labelSet(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return '';
  const parts: string[] = [];
  for (let i = 0; i < names.length; i++) parts.push(`${names[i]}="${escapeLabel(values[i] ?? '')}"`);
  return '{' + parts.join(',') + '}';
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabel(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function num(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
