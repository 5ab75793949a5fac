import type { IncomingMessage, ServerResponse } from 'node:http';
import { defaultTracer } from '../lib/api';
import { codes } from '../lib/codes';
import { isThenable } from '../lib/thenable';
import { invalidOption } from '../lib/options';
import type { Tracer } from '../lib/tracer';
import { forbid, send, sendJson } from './page-responses';
import { type Authorize, loopbackOnly } from './trace-page-access';
import { JSON_CSP, PAGE_CSP, renderPage } from './trace-page-html';
import { spanToJson } from './trace-page-json';
import { PAGE_TAG, RecentTracesExporter, type RecentTracesOptions } from './trace-page-store';

export { RecentTracesExporter, PAGE_TAG, type RecentTracesOptions, type RecentTracesStats, type TraceSummary } from './trace-page-store';
export { type Authorize, isLoopback, loopbackOnly } from './trace-page-access';
export type { SpanJson } from './trace-page-json';
export { statsPage, type StatsPageOptions, type MetricsSource, type QueryOperator, type StatsQuery } from './stats-page';

/** `RecentTracesExporter` under the name of its role on the page. */
export const TraceStore = RecentTracesExporter;
/** `RecentTracesExporter` under the name of its role on the page. */
export type TraceStore = RecentTracesExporter;

type Next = (error?: unknown) => void;
type Handler = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

/** The part of an Express router the page uses: Express 4 and 5 both have it. */
interface RouterLike extends Handler {
  use(handler: Handler): unknown;
  get(path: string, handler: Handler): unknown;
}

/** The part of the `express` module the page uses. */
export interface ExpressLike {
  Router(): unknown;
}

/** Options for `tracePage`. */
export interface TracePageOptions extends RecentTracesOptions {
  /**
   * Where the traces come from: a `RecentTracesExporter` that you also put in
   * `configure({ exporters })`. Default: a new one (with `maxTraces`, `maxSpansPerTrace`,
   * `maxSpans`, `maxBytes` from these options), exposed as `page.exporter` for you to add.
   */
  store?: RecentTracesExporter;
  /** The tracer whose `stats()` the page shows. Default: the default tracer. */
  tracer?: Tracer;
  /**
   * Who may see the page: `(req) => boolean | Promise<boolean>`; anything but `true` answers 403.
   * Default: loopback peers only (127.0.0.0/8, ::1, ::ffff:127.x), and no proxy headers.
   */
  authorize?: Authorize;
  /** The page's heading and title. Default `'tomograph'`. */
  title?: string;
  /** The `express` module to build the router with. Default: `require('express')`. */
  express?: ExpressLike;
}

/** The router that `tracePage` returns: mount it with `app.use(path, page)`. */
export type TracePage = Handler & {
  /** The exporter feeding the page: add it to `configure({ exporters })`. */
  readonly exporter: RecentTracesExporter;
  /** The same object as `exporter`. */
  readonly store: RecentTracesExporter;
};

const KNOWN_OPTIONS = new Set(['store', 'tracer', 'authorize', 'title', 'express', 'maxTraces', 'maxSpansPerTrace', 'maxSpans', 'maxBytes']);
/** Summaries per ranked list (`slowest`, `failed`) unless `?limit=` says otherwise. */
const DEFAULT_RANKED = 50;
const TRACE_ID = /^[0-9a-f]{32}$/;

/**
 * The live trace page: an Express router (Express 4 or 5) serving, where you mount it,
 * - `/`: one self-contained HTML page (inline CSS and JS, a strict Content-Security-Policy)
 *   listing recent, slowest and failed traces, with a waterfall of the chosen trace and the
 *   tracer's `stats()` counters;
 * - `/traces.json`: `{ recent, slowest, failed }` trace summaries (`?limit=` caps each list,
 *   default all recent and 50 ranked); `?id=<traceId>` gives `{ traceId, summary, spans }`;
 * - `/stats.json`: `{ tracer: tracer.stats(), store: exporter.stats() }`.
 *
 * Only loopback clients are answered unless you pass `authorize`. Throws a TypeError (code
 * `TOMOGRAPH_ERR_INVALID_OPTION`) on a wrong option; after that nothing throws.
 *
 * ```ts
 * const page = tracePage();
 * configure({ serviceName: 'shop', exporters: [page.exporter] });
 * app.use('/_traces', page);
 * ```
 */
export function tracePage(options: TracePageOptions = {}): TracePage {
  if (options === null || typeof options !== 'object') throw invalidOption('tracePage() takes an options object');
  for (const key of Object.keys(options)) if (!KNOWN_OPTIONS.has(key)) throw invalidOption(`tracePage: unknown option "${key}"`);
  const { store: given, tracer = defaultTracer, authorize = loopbackOnly, title = 'tomograph' } = options;
  if (given !== undefined && !(given instanceof RecentTracesExporter)) {
    throw invalidOption('tracePage: store must be a RecentTracesExporter');
  }
  if (given !== undefined && (options.maxTraces ?? options.maxSpansPerTrace ?? options.maxSpans ?? options.maxBytes) !== undefined) {
    throw invalidOption('tracePage: pass the limits to the RecentTracesExporter you give as store, not to tracePage');
  }
  if (typeof authorize !== 'function') throw invalidOption('tracePage: authorize must be a function (req) => boolean');
  if (typeof title !== 'string') throw invalidOption('tracePage: title must be a string');
  if (tracer === null || typeof tracer !== 'object' || typeof tracer.stats !== 'function') {
    throw invalidOption('tracePage: tracer must be a Tracer');
  }
  const store =
    given ??
    new RecentTracesExporter({
      maxTraces: options.maxTraces, maxSpansPerTrace: options.maxSpansPerTrace, maxSpans: options.maxSpans, maxBytes: options.maxBytes,
    });
  const express = options.express ?? loadExpress();
  if (express === null || (typeof express !== 'object' && typeof express !== 'function') || typeof express.Router !== 'function') {
    throw invalidOption('tracePage: express must be the express module (with Router())');
  }
  const page = renderPage(title);

  const guard: Handler = (req, res, next) => {
    // Polling the page would otherwise fill the list with the page's own requests.
    tracer.currentSpan()?.tag(PAGE_TAG, true);
    let verdict: boolean | Promise<boolean>;
    try {
      verdict = authorize(req);
    } catch (error) {
      tracer.report(codes.INTEGRATION_ERROR, 'tomograph: the trace page authorize() threw; answered 403', error);
      forbid(res);
      return;
    }
    if (isThenable(verdict)) {
      Promise.resolve(verdict).then(
        (allowed) => (allowed === true ? next() : forbid(res)),
        (error: unknown) => {
          tracer.report(codes.INTEGRATION_ERROR, 'tomograph: the trace page authorize() rejected; answered 403', error);
          forbid(res);
        },
      );
      return;
    }
    if (verdict === true) next();
    else forbid(res);
  };

  const safely =
    (name: string, fn: (req: IncomingMessage, res: ServerResponse) => void): Handler =>
    (req, res) => {
      try {
        fn(req, res);
      } catch (error) {
        tracer.report(codes.INTEGRATION_ERROR, `tomograph: the trace page failed to answer ${name}`, error);
        if (!res.headersSent) send(res, 500, 'application/json; charset=utf-8', '{"error":"internal error"}', JSON_CSP);
        else res.destroy();
      }
    };

  const router = (express.Router as () => RouterLike)();
  router.use(guard);
  router.get('/', safely('the page', (_req, res) => send(res, 200, 'text/html; charset=utf-8', page, PAGE_CSP)));
  router.get(
    '/traces.json',
    safely('traces.json', (req, res) => {
      const query = searchParams(req);
      const id = query.get('id');
      if (id !== null) {
        if (!TRACE_ID.test(id)) return sendJson(res, 400, { error: 'id must be a trace id: 32 lower-case hex digits' });
        const spans = store.spans(id);
        if (spans === undefined) return sendJson(res, 404, { error: 'no such trace held' });
        return sendJson(res, 200, { traceId: id, summary: store.summary(id), spans: spans.map(spanToJson) });
      }
      const limitText = query.get('limit');
      let limit: number | undefined;
      if (limitText !== null) {
        limit = Number(limitText);
        if (!/^[0-9]{1,6}$/.test(limitText) || limit < 1) {
          return sendJson(res, 400, { error: 'limit must be a positive integer' });
        }
      }
      sendJson(res, 200, {
        recent: store.recent(limit),
        slowest: store.slowest(limit ?? DEFAULT_RANKED),
        failed: store.failed(limit ?? DEFAULT_RANKED),
      });
    }),
  );
  router.get('/stats.json', safely('stats.json', (_req, res) => sendJson(res, 200, { tracer: tracer.stats(), store: store.stats() })));

  Object.defineProperty(router, 'exporter', { value: store, enumerable: true });
  Object.defineProperty(router, 'store', { value: store, enumerable: true });
  return router as unknown as TracePage;
}

function loadExpress(): ExpressLike {
  try {
    // Lazy: express is the user's, and only this entry point needs it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('express') as ExpressLike;
  } catch {
    throw invalidOption('tracePage: cannot load "express"; install it or pass { express: require("express") }');
  }
}

function searchParams(req: IncomingMessage): URLSearchParams {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
}



