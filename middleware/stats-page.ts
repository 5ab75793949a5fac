import type { IncomingMessage, ServerResponse } from 'node:http';
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from '../exporters/prometheus-text';
import { defaultTracer } from '../lib/api';
import { codes } from '../lib/codes';
import { invalidOption } from '../lib/options';
import { isThenable } from '../lib/thenable';
import type { Tracer } from '../lib/tracer';
import type { CollectedMetric } from '../lib/metrics/types';
import { metricsByPath, renderStatsPage, STATS_PAGE_CSP } from './stats-page-html';
import { filterTree, parseQuery, type StatsTree, type StatsValue, subtree } from './stats-page-query';
import { defaultMetricsSource, type MetricsSource } from './stats-page-source';
import { forbid, send, sendJson } from './page-responses';
import { type Authorize, loopbackOnly } from './trace-page-access';
import { JSON_CSP } from './trace-page-html';
import { PAGE_TAG } from './trace-page-store';

export type { MetricsSource } from './stats-page-source';
export { type QueryOperator, type StatsQuery, parseQuery, filterTree } from './stats-page-query';

type Next = (error?: unknown) => void;
type Handler = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

/** Options for `statsPage`. */
export interface StatsPageOptions {
  /**
   * Where the metrics come from: a `MetricsRegistry` (anything with `snapshot()` and
   * `collect()`). Default: the default registry of `tomograph/metrics`.
   */
  registry?: MetricsSource;
  /**
   * Who may see the page: `(req) => boolean | Promise<boolean>`; anything but `true` answers 403.
   * Default: loopback peers only (127.0.0.0/8, ::1, ::ffff:127.x), and no proxy headers.
   */
  authorize?: Authorize;
  /** The page's heading. Default `'tomograph'`. */
  title?: string;
  /** The tracer whose `onDiagnostic` hears the page's own faults. Default: the default tracer. */
  tracer?: Tracer;
}

const KNOWN_OPTIONS = new Set(['registry', 'authorize', 'title', 'tracer']);
const FORMATS = new Set(['html', 'json', 'prettyjson', 'prometheus']);

/**
 * The stats page: a request handler (Express 4 or 5 middleware, or a plain `http` listener)
 * showing the metrics registry as a tree, where you mount it:
 * - `GET <mount>/` the whole tree, `GET <mount>/web` (or `/web.latency`, `/web/latency`) one
 *   subtree, as an HTML table: groups, metrics with their type and unit, a histogram's fields in
 *   one row with a bar per percentile, a labelled metric's series under it. 404 for an unknown path.
 * - `?format=json`, `prettyjson` (the subtree of `snapshot()`) or `prometheus` (the metrics
 *   under the path, text format 0.0.4).
 * - `?query=<key> [op value]`, op one of `>= > <= < = == !=`: only the leaves named `key` (`*` a
 *   wildcard) at any depth, and their ancestors, e.g. `?query=p99 > 250`.
 *
 * Only loopback clients are answered unless you pass `authorize`, exactly as `tracePage`.
 * Throws a TypeError (code `TOMOGRAPH_ERR_INVALID_OPTION`) on a wrong option; after that
 * nothing throws: a fault answers 500 and goes to `onDiagnostic`.
 *
 * ```ts
 * app.use('/_stats', statsPage());
 * ```
 */
export function statsPage(options: StatsPageOptions = {}): Handler {
  if (options === null || typeof options !== 'object') throw invalidOption('statsPage() takes an options object');
  for (const key of Object.keys(options)) if (!KNOWN_OPTIONS.has(key)) throw invalidOption(`statsPage: unknown option "${key}"`);
  const { authorize = loopbackOnly, title = 'tomograph', tracer = defaultTracer } = options;
  if (typeof authorize !== 'function') throw invalidOption('statsPage: authorize must be a function (req) => boolean');
  if (typeof title !== 'string') throw invalidOption('statsPage: title must be a string');
  if (tracer === null || typeof tracer !== 'object' || typeof tracer.report !== 'function') {
    throw invalidOption('statsPage: tracer must be a Tracer');
  }
  const registry = options.registry;
  if (registry !== undefined && (registry === null || typeof registry !== 'object' ||
    typeof registry.snapshot !== 'function' || typeof registry.collect !== 'function')) {
    throw invalidOption('statsPage: registry must be a MetricsRegistry (with snapshot() and collect())');
  }

  const answer = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      respond(req, res, registry ?? defaultMetricsSource(), title);
    } catch (error) {
      tracer.report(codes.INTEGRATION_ERROR, 'tomograph: the stats page failed to answer', error);
      if (!res.headersSent) send(res, 500, 'application/json; charset=utf-8', '{"error":"internal error"}', JSON_CSP);
      else res.destroy();
    }
  };

  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      // Mounted with app.use, the page sees every method: only reads are its to answer.
      if (typeof next === 'function') next();
      else send(res, 405, 'text/plain; charset=utf-8', 'Method Not Allowed\n', JSON_CSP);
      return;
    }
    // The page's own requests would otherwise fill the trace page.
    tracer.currentSpan()?.tag(PAGE_TAG, true);
    let verdict: boolean | Promise<boolean>;
    try {
      verdict = authorize(req);
    } catch (error) {
      tracer.report(codes.INTEGRATION_ERROR, 'tomograph: the stats page authorize() threw; answered 403', error);
      return forbid(res);
    }
    if (isThenable(verdict)) {
      Promise.resolve(verdict).then(
        (allowed) => (allowed === true ? answer(req, res) : forbid(res)),
        (error: unknown) => {
          tracer.report(codes.INTEGRATION_ERROR, 'tomograph: the stats page authorize() rejected; answered 403', error);
          forbid(res);
        },
      );
      return;
    }
    if (verdict === true) answer(req, res);
    else forbid(res);
  };
}

function respond(req: IncomingMessage, res: ServerResponse, registry: MetricsSource, title: string): void {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const params = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
  const format = params.get('format') ?? 'html';
  if (!FORMATS.has(format)) return sendJson(res, 400, { error: 'format must be html, json, prettyjson or prometheus' });
  const queryText = params.get('query') ?? '';
  const query = queryText.trim() === '' ? undefined : parseQuery(queryText);
  if (typeof query === 'string') return sendJson(res, 400, { error: query });

  const snapshot = registry.snapshot() as StatsTree;
  const found = subtree(snapshot, path);
  if (found === undefined) {
    if (format === 'html') return send(res, 404, 'text/plain; charset=utf-8', 'No such metric or group\n', JSON_CSP);
    return sendJson(res, 404, { error: 'no such metric or group' });
  }
  const { keys } = found;
  const prefix = keys.join('.');

  if (format === 'prometheus') {
    const metrics = registry.collect({ states: false }).filter((m: CollectedMetric) => prefix === '' || m.name === prefix || m.name.startsWith(prefix + '.'));
    return send(res, 200, PROMETHEUS_CONTENT_TYPE, renderPrometheus(metrics), JSON_CSP);
  }

  let value: StatsValue | undefined = found.value;
  if (query !== undefined) {
    if (value !== null && typeof value === 'object') value = filterTree(value, query);
    else value = filterTree({ [keys[keys.length - 1] ?? '']: value }, query) === undefined ? undefined : value;
  }
  if (format === 'json') return sendJson(res, 200, value ?? {});
  if (format === 'prettyjson') {
    return send(res, 200, 'application/json; charset=utf-8', `${prettyJson(value ?? {})}\n`, JSON_CSP);
  }
  const base = (req as { baseUrl?: unknown }).baseUrl;
  const html = renderStatsPage({
    title,
    base: typeof base === 'string' ? base : '',
    keys,
    value,
    metrics: metricsByPath(registry.collect({ states: false })),
    query: queryText,
    takenAtMs: Date.now(),
  });
  send(res, 200, 'text/html; charset=utf-8', html, STATS_PAGE_CSP);
}

/** Indented JSON, with `<`, `>`, `&` escaped as `safeJson` does, so no key can become markup. */
function prettyJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}



