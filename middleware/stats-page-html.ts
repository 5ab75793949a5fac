import { createHash } from 'node:crypto';
import type { CollectedMetric, HistogramSnapshot, MetricType } from '../lib/metrics/types';
import type { StatsTree, StatsValue } from './stats-page-query';
import { MAX_DEPTH_CLASS, STATS_STYLE } from './stats-page-style';
import { documentHead, escapeHtml } from './trace-page-html';

/** A histogram's columns, in order: `[snapshot field, header]`. */
const HISTOGRAM_FIELDS: readonly (readonly [keyof HistogramSnapshot, string])[] = [
  ['count', 'count'], ['sum', 'sum'], ['min', 'min'], ['mean', 'mean'], ['stddev', 'stddev'],
  ['p50', 'p50'], ['p75', 'p75'], ['p95', 'p95'], ['p98', 'p98'], ['p99', 'p99'], ['p999', 'p99.9'], ['max', 'max'],
];
const HISTOGRAM_KEYS = new Set<string>(HISTOGRAM_FIELDS.map(([field]) => field));
/** Fields drawn with a bar scaled to the window's max. */
const BARRED = new Set<string>(['p50', 'p75', 'p95', 'p98', 'p99', 'p999', 'max']);
/** Fields in the metric's unit (count is a number of values). */
const UNITLESS = new Set<string>(['count']);
const METER_FIELDS = ['count', 'mean', 'm1', 'm5', 'm15'] as const;
const METER_KEYS = new Set<string>(METER_FIELDS);
const VALUE_COLUMNS = HISTOGRAM_FIELDS.length;
const BAR_WIDTH = 48;

/** The policy of the HTML page: its one stylesheet, no script at all, forms to itself only. */
export const STATS_PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STATS_STYLE, 'utf8').digest('base64')}'`,
  // The favicon is an empty data: URL (no request for /favicon.ico).
  'img-src data:',
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** What one HTML response shows. */
export interface StatsView {
  /** The page heading. */
  readonly title: string;
  /** The URL path of the mount point (`/_stats`), for links. */
  readonly base: string;
  /** The keys from the root to the shown node (`['web', 'latency']`); `[]` for the root. */
  readonly keys: readonly string[];
  /** The shown node, already filtered by the query. Undefined: the query matched nothing. */
  readonly value: StatsValue | undefined;
  /** Metric metadata by dotted path (types, units, descriptions, label names). */
  readonly metrics: ReadonlyMap<string, CollectedMetric>;
  /** The query as typed, shown back in the form (escaped). */
  readonly query: string;
  /** When the snapshot was taken (epoch ms). */
  readonly takenAtMs: number;
}

/** The stats page: a tree of metrics as one table, with every text from the registry escaped. */
export function renderStatsPage(view: StatsView): string {
  const t = escapeHtml(view.title);
  const here = view.keys.length === 0 ? 'all metrics' : view.keys.join('.');
  const rows: string[] = [];
  if (view.value !== undefined) {
    if (view.keys.length === 0 && view.value !== null && typeof view.value === 'object') {
      for (const key of Object.keys(view.value)) renderNode(view, [key], view.value[key], 0, undefined, rows);
    } else {
      renderNode(view, view.keys, view.value, 0, undefined, rows);
    }
  }
  const table = rows.length === 0
    ? `<p class="notice">${view.query === '' ? 'No metrics here yet.' : 'Nothing matches the query.'}</p>`
    : `<table class="stats">
<thead><tr><th class="name">metric</th><th class="type">type</th>${HISTOGRAM_FIELDS.map(([, h], i) => `<th>${i === 0 ? 'count / value' : h}</th>`).join('')}</tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`;
  return `${documentHead(`${escapeHtml(here)} · ${t}`, STATS_STYLE)}
<header class="top">
  <div class="brand"><b>${t}</b><span class="sub">stats</span></div>
  ${crumbs(view)}
  <div class="formats">${formatLinks(view)}</div>
  <form class="query" method="get" action="${escapeHtml(href(view.base, view.keys))}">
    <input name="query" value="${escapeHtml(view.query)}" placeholder="key [op value], e.g. p99 > 100" aria-label="query" spellcheck="false">
    <button type="submit">Filter</button>
  </form>
</header>
<main>
${table}
<p class="taken">taken ${escapeHtml(new Date(view.takenAtMs).toISOString())}</p>
</main>
</body>
</html>
`;
}

/** `base/a/b` with each key percent-encoded. */
export function href(base: string, keys: readonly string[]): string {
  const root = base.endsWith('/') ? base.slice(0, -1) : base;
  return keys.length === 0 ? `${root}/` : `${root}/${keys.map(encodeURIComponent).join('/')}`;
}

function crumbs(view: StatsView): string {
  const parts = [`<a href="${escapeHtml(href(view.base, []))}">root</a>`];
  for (let i = 0; i < view.keys.length; i++) {
    const text = escapeHtml(view.keys[i]);
    parts.push(i === view.keys.length - 1 ? `<b>${text}</b>` : `<a href="${escapeHtml(href(view.base, view.keys.slice(0, i + 1)))}">${text}</a>`);
  }
  return `<nav class="crumbs" aria-label="path">${parts.join('<span class="sep">/</span>')}</nav>`;
}

function formatLinks(view: StatsView): string {
  const at = href(view.base, view.keys);
  return (['json', 'prettyjson', 'prometheus'] as const)
    .map((format) => {
      const params = new URLSearchParams({ format });
      if (view.query !== '' && format !== 'prometheus') params.set('query', view.query);
      return `<a href="${escapeHtml(`${at}?${params}`)}">${format === 'json' ? 'JSON' : format === 'prettyjson' ? 'pretty JSON' : 'Prometheus'}</a>`;
    })
    .join('');
}

/** How a node is drawn: its metric's type, or, for paths the registry does not list, its shape. */
function kindOf(value: StatsValue, metric: CollectedMetric | undefined): MetricType | 'group' | 'value' {
  if (value === null || typeof value !== 'object') return metric?.type ?? 'value';
  if (metric !== undefined && metric.labelNames.length === 0) return metric.type;
  if (metric === undefined && typeof value.count === 'number' && typeof value.sum === 'number') return 'histogram';
  if (metric === undefined && typeof value.count === 'number' && typeof value.m1 === 'number') return 'meter';
  return 'group';
}

function renderNode(
  view: StatsView, keys: readonly string[], value: StatsValue, depth: number, series: CollectedMetric | undefined, rows: string[],
): void {
  const path = keys.join('.');
  // A labelled metric's children are its series (keys are label values), not metrics of their own.
  const metric = series ?? view.metrics.get(path);
  const isSeries = series !== undefined;
  const kind = isSeries && (value === null || typeof value !== 'object' || series.type === 'histogram' || series.type === 'meter')
    ? series.type
    : kindOf(value, metric);
  const name = keys[keys.length - 1] ?? '';
  const label = isSeries ? seriesLabel(series, name) : escapeHtml(name);
  const link = isSeries ? label : `<a href="${escapeHtml(href(view.base, keys))}">${label}</a>`;
  const description = !isSeries && metric?.description ? `<span class="desc">${escapeHtml(metric.description)}</span>` : '';
  // A labelled metric is drawn as a group of its series, but named by its own type.
  const labelled = !isSeries && kind === 'group' && metric !== undefined && metric.labelNames.length > 0;
  const badge = labelled ? metric.type : kind;
  const typeCell = `<td class="type">${isSeries ? '' : `<span class="t-${badge === 'value' ? 'gauge' : badge}">${badge}</span>`}</td>`;
  const classes = `d${Math.min(depth, MAX_DEPTH_CLASS)}${isSeries ? ' series' : ''}${kind === 'group' ? ' group' : ''}`;
  const head = `<tr class="${classes}" data-path="${escapeHtml(path)}" data-kind="${badge}"><td class="name">${link}${description}</td>${typeCell}`;
  const unit = metric?.unit;

  if (value === null || typeof value !== 'object') {
    rows.push(`${head}${cell(value, undefined, unit)}${emptyCells(VALUE_COLUMNS - 1)}</tr>`);
    return;
  }
  const children = Object.keys(value);
  if (kind === 'histogram') {
    const h = value as unknown as HistogramSnapshot;
    const max = typeof h.max === 'number' && h.max > 0 ? h.max : undefined;
    const cells = HISTOGRAM_FIELDS.map(([field]) => cell(h[field], BARRED.has(field) ? max : undefined, UNITLESS.has(field) ? undefined : unit, field));
    rows.push(`${head}${cells.join('')}</tr>`);
    for (const key of children) if (!HISTOGRAM_KEYS.has(key)) renderNode(view, [...keys, key], value[key], depth + 1, undefined, rows);
    return;
  }
  if (kind === 'meter') {
    // Rates do not fit the histogram columns' headers: each cell names its field.
    const cells = METER_FIELDS.map((field, i) => cell(value[field], undefined, i === 0 ? undefined : '/s', i === 0 ? undefined : field, i > 0));
    rows.push(`${head}${cells.join('')}${emptyCells(VALUE_COLUMNS - METER_FIELDS.length)}</tr>`);
    for (const key of children) if (!METER_KEYS.has(key)) renderNode(view, [...keys, key], value[key], depth + 1, undefined, rows);
    return;
  }
  if (kind === 'counter' || kind === 'gauge') {
    // A number whose path another metric extends: the registry keeps it as `value` beside the children.
    rows.push(`${head}${cell(value.value, undefined, unit)}${emptyCells(VALUE_COLUMNS - 1)}</tr>`);
    for (const key of children) if (key !== 'value') renderNode(view, [...keys, key], value[key], depth + 1, undefined, rows);
    return;
  }
  // A group, or a labelled metric whose series follow.
  const note = labelled ? `${children.length} series by ${metric.labelNames.join(', ')}` : '';
  rows.push(`${head}<td class="v text" colspan="${VALUE_COLUMNS}">${escapeHtml(note)}</td></tr>`);
  for (const key of children) renderNode(view, [...keys, key], value[key], depth + 1, labelled ? metric : undefined, rows);
}

/** `status=200, route=/x` for a series key (label values joined by `,` in declared order). */
function seriesLabel(metric: CollectedMetric, key: string): string {
  const names = metric.labelNames;
  const values = names.length > 1 ? splitLabelKey(key, names.length) : [key];
  if (values.length !== names.length) return escapeHtml(key);
  return names.map((name, i) => `${escapeHtml(name)}=<b>${escapeHtml(values[i])}</b>`).join(', ');
}

function splitLabelKey(key: string, n: number): string[] {
  const parts = key.split(',');
  // A value holding a comma: keep the extra parts with the last label, the best guess there is.
  return parts.length <= n ? parts : [...parts.slice(0, n - 1), parts.slice(n - 1).join(',')];
}

/** `n` empty value columns as one cell: a counter row of a big tree stays small. */
function emptyCells(n: number): string {
  return n <= 0 ? '' : n === 1 ? '<td class="v none"></td>' : `<td class="v none" colspan="${n}"></td>`;
}

function cell(value: StatsValue | undefined, barMax: number | undefined, unit: string | undefined, field?: string, named = false): string {
  const title = field === undefined ? '' : ` data-field="${field}"`;
  if (value === undefined || value === null) return `<td class="v none"${title}>–</td>`;
  if (typeof value !== 'number') return `<td class="v text"${title}>${escapeHtml(value)}</td>`;
  const u = unit === undefined || unit === '' ? '' : `<span class="u">${escapeHtml(unit)}</span>`;
  let bar = '';
  if (barMax !== undefined && Number.isFinite(value)) {
    const width = Math.max(1, Math.min(BAR_WIDTH, Math.round((value / barMax) * BAR_WIDTH)));
    bar = `<svg width="${BAR_WIDTH}" height="4" aria-hidden="true"><rect class="track" width="${BAR_WIDTH}" height="4"/><rect class="fill" width="${width}" height="4"/></svg>`;
  }
  const key = named && field !== undefined ? `<span class="k">${field}</span>` : '';
  return `<td class="v"${title} title="${escapeHtml(String(value))}">${key}${formatNumber(value)}${u}${bar}</td>`;
}

/** A number for reading: integers grouped by thousands, others to 4 significant digits. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) || Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return String(Number(value.toPrecision(4)));
}

/** Metric metadata by dotted path, for `renderStatsPage`. */
export function metricsByPath(metrics: readonly CollectedMetric[]): Map<string, CollectedMetric> {
  const byPath = new Map<string, CollectedMetric>();
  for (const metric of metrics) byPath.set(metric.name, metric);
  return byPath;
}

export type { StatsTree };
