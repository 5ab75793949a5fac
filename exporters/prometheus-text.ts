import type { CollectedMetric, CollectedSeries, HistogramSnapshot, MeterSnapshot } from '../lib/metrics/types';

/**
 * The Content-Type of the text exposition format 0.0.4, exactly as Prometheus expects it
 * (Prometheus 3 fails a scrape whose Content-Type it cannot read).
 */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The summary quantiles, in the order they are written, with the snapshot field of each. */
const QUANTILES: readonly (readonly [label: string, field: keyof HistogramSnapshot])[] = [
  ['0.5', 'p50'], ['0.75', 'p75'], ['0.95', 'p95'], ['0.98', 'p98'], ['0.99', 'p99'], ['0.999', 'p999'],
];

const UNSAFE_NAME_CHARS = /[^a-zA-Z0-9_:]/g;
const UNSAFE_LABEL_CHARS = /[^a-zA-Z0-9_]/g;

/**
 * A Prometheus metric name for a dotted path: every character outside `[a-zA-Z0-9_:]` becomes
 * `_` (so `web.requests` is `web_requests`), and a leading digit gets a `_` in front.
 */
export function prometheusName(path: string): string {
  const name = String(path).replace(UNSAFE_NAME_CHARS, '_');
  if (name === '') return '_';
  const first = name.charCodeAt(0);
  return first >= 48 && first <= 57 ? '_' + name : name;
}

/**
 * A Prometheus label name: characters outside `[a-zA-Z0-9_]` become `_`, a leading digit gets a
 * `_` in front, and a leading `__` (reserved for Prometheus itself) is cut to one `_`.
 */
export function prometheusLabelName(name: string): string {
  let label = String(name).replace(UNSAFE_LABEL_CHARS, '_');
  if (label === '') return '_';
  const first = label.charCodeAt(0);
  if (first >= 48 && first <= 57) label = '_' + label;
  return label.startsWith('__') ? label.replace(/^_+/, '_') : label;
}

/** Escapes a label value: `\` as `\\`, `"` as `\"`, a line feed as `\n`. */
export function escapeLabelValue(value: string): string {
  return String(value).replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : '\\' + c));
}

/** Escapes HELP text: `\` as `\\`, a line feed as `\n` (quotes stay as they are, per the format). */
export function escapeHelp(text: string): string {
  return String(text).replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

/** A sample value as the format writes it: `NaN`, `+Inf`, `-Inf`, else JavaScript's shortest form. */
export function formatSampleValue(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value); // NaN is 'NaN'; Go's ParseFloat reads '1e+21' and '5e-7' as written
}

/** One metric family as it will be written, worked out once per scrape. */
interface Family {
  readonly metric: CollectedMetric;
  /** The sample name of a counter or gauge, the base name of a summary. */
  readonly name: string;
  readonly kind: 'counter' | 'gauge' | 'summary';
  /** Sanitised, de-duplicated label names with `="` appended, in declared order. */
  readonly labelHeads: readonly string[];
  /** The `# HELP` and `# TYPE` lines. */
  readonly header: string;
}

/** Why a metric was left out of the exposition. */
export interface SkippedMetric {
  readonly name: string;
  readonly reason: string;
}

/**
 * Renders collected metrics as the text exposition format 0.0.4, in pieces: `next(maxSeries)`
 * writes at most about `maxSeries` series (whole families when they fit, else part of one), so
 * a handler can yield to the event loop between pieces. The metrics are read as given: collect
 * them once, then render, so the scrape is one consistent moment.
 *
 * - counter `a.b`: `# TYPE a_b_total counter`, one `a_b_total{...} v` per series;
 * - gauge: `# TYPE a_b gauge`;
 * - histogram: `# TYPE a_b summary` with `a_b{quantile="0.5"}` … `"0.999"` (left out while the
 *   window holds no value), `a_b_sum` and `a_b_count` (both since start);
 * - meter: a counter of its `count`.
 *
 * HELP is always written: the description, else the dotted path, with the unit in brackets.
 * Two metrics whose names collide once sanitised (`a.b` and `a_b`) cannot both be exposed: the
 * first one is, the other is left out, listed in `skipped` and named in a `#` comment line.
 *
 * Given `{ more: true }`, the renderer also takes metrics as they are collected (`add`, from a
 * `collectCursor()`), until `end()`: then `done` waits for both the input's end and its rendering.
 */
export class PrometheusRenderer {
  /** Metrics left out, and why (final once `done`). */
  readonly skipped: SkippedMetric[] = [];
  private readonly families: Family[] = [];
  private readonly taken = new Map<string, string>();
  private family = 0;
  private series = 0;
  private finished = false;
  private ended: boolean;
  private written = 0;

  constructor(metrics: readonly CollectedMetric[] = [], options: { more?: boolean } = {}) {
    this.ended = options.more !== true;
    this.add(metrics);
  }

  /** Whether everything has been written. */
  get done(): boolean {
    return this.finished;
  }

  /** Series written so far (a family without series counts as one). */
  get seriesWritten(): number {
    return this.written;
  }

  /** Whether metrics added so far are still to be rendered. */
  get pending(): boolean {
    return this.family < this.families.length;
  }

  /** Adds metrics after those given so far (in the order they are to be written). */
  add(metrics: readonly CollectedMetric[]): void {
    const taken = this.taken;
    for (let i = 0; i < metrics.length; i++) {
      const metric = metrics[i];
      if (metric === null || typeof metric !== 'object' || !Array.isArray(metric.series)) continue;
      const family = describe(metric);
      if (family === undefined) {
        this.skipped.push({ name: String(metric.name), reason: `unknown type ${String(metric.type)}` });
        continue;
      }
      // A summary also writes <name>_sum and <name>_count: a gauge named so would clash with it.
      const claims = family.kind === 'summary' ? [family.name, family.name + '_sum', family.name + '_count'] : [family.name];
      const clash = claims.find((claim) => taken.has(claim));
      if (clash !== undefined) {
        this.skipped.push({ name: metric.name, reason: `its name ${clash} is already taken by ${taken.get(clash)}` });
        continue;
      }
      for (const claim of claims) taken.set(claim, metric.name);
      this.families.push(family);
    }
  }

  /** No more metrics will be added: the renderer is done once it has written those it has. */
  end(): void {
    this.ended = true;
  }

  /**
   * The next piece of text: whole families while they fit in `maxSeries` series, then part of
   * the family that does not; it also stops once `budgetMs` milliseconds have passed (checked
   * every 64 series), so a slice stays short on a slow or busy machine. `''` once done, or while
   * waiting for more metrics. The skipped metrics' comment lines come last.
   */
  next(maxSeries = Infinity, budgetMs = Infinity): string {
    if (this.finished) return '';
    const deadline = budgetMs === Infinity ? Infinity : performance.now() + budgetMs;
    let out = '';
    let budget = maxSeries;
    while (this.family < this.families.length && budget > 0) {
      const family = this.families[this.family];
      const series = family.metric.series;
      if (this.series === 0) out += family.header;
      const end = Math.min(series.length, this.series + Math.max(1, Math.floor(budget)));
      let i = this.series;
      while (i < end) {
        out += renderSeries(family, series[i++]);
        if ((i & 63) === 0 && deadline !== Infinity && performance.now() >= deadline) break;
      }
      // A family without series still costs a little: count it as one.
      const done = Math.max(1, i - this.series);
      budget -= done;
      this.written += done;
      if (i >= series.length) {
        this.family++;
        this.series = 0;
      } else {
        this.series = i;
      }
      if (deadline !== Infinity && performance.now() >= deadline) break;
    }
    if (this.family >= this.families.length && this.ended) {
      this.finished = true;
      out += this.skippedComments();
    }
    return out;
  }

  private skippedComments(): string {
    let out = '';
    for (const skip of this.skipped) out += `# tomograph: left out ${oneLine(skip.name)}: ${oneLine(skip.reason)}\n`;
    return out;
  }
}

/** The whole exposition of `metrics` at once (see `PrometheusRenderer`). */
export function renderPrometheus(metrics: readonly CollectedMetric[]): string {
  return new PrometheusRenderer(metrics).next();
}

function describe(metric: CollectedMetric): Family | undefined {
  let kind: Family['kind'];
  let name = prometheusName(metric.name);
  switch (metric.type) {
    case 'counter':
    case 'meter':
      kind = 'counter';
      if (!name.endsWith('_total')) name += '_total';
      break;
    case 'gauge':
      kind = 'gauge';
      break;
    case 'histogram':
      kind = 'summary';
      break;
    default:
      return undefined;
  }
  const description = typeof metric.description === 'string' && metric.description !== '' ? metric.description : metric.name;
  const help = metric.unit === undefined || metric.unit === '' ? description : `${description} [${metric.unit}]`;
  return {
    metric,
    name,
    kind,
    labelHeads: labelHeads(metric.labelNames ?? [], kind === 'summary'),
    header: `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${kind}\n`,
  };
}

/** `name="` per label, sanitised and made unique (a summary's own `quantile` label stays free). */
function labelHeads(names: readonly string[], summary: boolean): string[] {
  const used = new Set<string>(summary ? ['quantile'] : []);
  const heads: string[] = [];
  for (const raw of names) {
    let label = prometheusLabelName(raw);
    for (let n = 2; used.has(label); n++) label = `${prometheusLabelName(raw)}_${n}`;
    used.add(label);
    heads.push(label + '="');
  }
  return heads;
}

/** `{a="x",b="y"` (no closing brace), or `''` for no labels. */
function openLabels(family: Family, values: readonly string[]): string {
  const heads = family.labelHeads;
  if (heads.length === 0) return '';
  let out = '{';
  for (let i = 0; i < heads.length; i++) {
    if (i > 0) out += ',';
    out += heads[i] + escapeLabelValue(values[i] ?? '') + '"';
  }
  return out;
}

function renderSeries(family: Family, series: CollectedSeries): string {
  if (series === null || typeof series !== 'object') return '';
  const open = openLabels(family, series.labelValues ?? []);
  const labels = open === '' ? '' : open + '}';
  const value = series.value;
  if (family.kind === 'gauge') {
    return typeof value === 'number' ? `${family.name}${labels} ${formatSampleValue(value)}\n` : '';
  }
  if (family.kind === 'counter') {
    const count = typeof value === 'number' ? value : (value as MeterSnapshot | null)?.count;
    return typeof count === 'number' ? `${family.name}${labels} ${formatSampleValue(count)}\n` : '';
  }
  const histogram = value as HistogramSnapshot | null;
  if (histogram === null || typeof histogram !== 'object' || typeof histogram.count !== 'number') return '';
  let out = '';
  const quantileOpen = open === '' ? '{quantile="' : open + ',quantile="';
  for (const [quantile, field] of QUANTILES) {
    const q = histogram[field];
    if (typeof q === 'number') out += `${family.name}${quantileOpen}${quantile}"} ${formatSampleValue(q)}\n`;
  }
  out += `${family.name}_sum${labels} ${formatSampleValue(typeof histogram.sum === 'number' ? histogram.sum : 0)}\n`;
  out += `${family.name}_count${labels} ${formatSampleValue(histogram.count)}\n`;
  return out;
}

function oneLine(text: string): string {
  return String(text).replace(/[\r\n]+/g, ' ');
}
