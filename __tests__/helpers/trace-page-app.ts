import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Tracer } from '../../lib/tracer';
import type { DiagnosticEvent } from '../../lib/types';
import { tracePage, type TracePage, type TracePageOptions } from '../../middleware/trace-page';

type ExpressModule = typeof import('express');

/** The span names the demo routes make, for assertions. */
export const XSS_NAME = '<img src=x onerror=alert(1)>';
export const XSS_TAG = '<script>alert(2)</script>';
export const XSS_NOTE = '"><svg onload=alert(3)>';

/** An app serving a few traced routes and the trace page, on 127.0.0.1 and port 0. */
export interface PageApp {
  tracer: Tracer;
  page: TracePage;
  server: Server;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** GET `path` and wait until the request's SERVER span has ended and been exported. */
  hit(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export interface PageAppOptions {
  /** The express module: `require('express')` (5) or `require('express4')`. */
  express?: ExpressModule;
  /** Options for `tracePage` besides `tracer`. */
  page?: TracePageOptions;
  /** Mount the tracing middleware before the page (so the page's own requests make spans). */
  traceThePage?: boolean;
  /** Receives the tracer's diagnostics. */
  onDiagnostic?: (event: DiagnosticEvent) => void;
  /** Runs first on every request (tests use it to pose as another peer). */
  before?: (req: import('express').Request) => void;
}

/**
 * Starts an Express app traced with the core API: a SERVER span per request (a stand-in for
 * `tomograph/express`), routes with nested CLIENT and query-like spans, and the page at `/_traces`.
 */
export async function startPageApp(options: PageAppOptions = {}): Promise<PageApp> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const express: ExpressModule = options.express ?? require('express');
  // The documented set-up, with a tracer of this test's own instead of the default one.
  const tracer = new Tracer();
  const page = tracePage({ express, tracer, ...options.page });
  tracer.configure({
    serviceName: 'shop',
    exporters: [page.exporter],
    scheduledDelayMs: 0,
    onDiagnostic: options.onDiagnostic ?? (() => undefined),
  });
  let ended = 0;
  const waiters: { target: number; resolve: () => void }[] = [];
  const app = express();

  if (options.before !== undefined) {
    const before = options.before;
    app.use((req, _res, next) => {
      before(req);
      next();
    });
  }
  const serverSpans: import('express').RequestHandler = (req, res, next) => {
    const span = tracer.startSpan(`${req.method} ${req.path}`, {
      kind: 'SERVER',
      parent: tracer.extract(req.headers) ?? null,
      tags: { 'http.method': req.method, 'http.path': req.path },
    });
    res.on('finish', () => {
      span.tag('http.status_code', res.statusCode);
      if (res.statusCode >= 500) span.fail(new Error(`HTTP ${res.statusCode}`));
      span.end();
      if (req.originalUrl.startsWith('/_traces')) return;
      ended++;
      for (const w of waiters.splice(0)) {
        if (ended >= w.target) w.resolve();
        else waiters.push(w);
      }
    });
    tracer.withSpan(span, () => next());
  };
  if (options.traceThePage === true) app.use(serverSpans);
  app.use('/_traces', page);
  if (options.traceThePage !== true) app.use(serverSpans);

  const query = (sql: string) =>
    tracer.trace(
      sql.split(' ')[0].toLowerCase(),
      async (span) => {
        await new Promise<void>((resolve) => setImmediate(resolve));
        span.annotate('rows', { duration: 5 });
      },
      { kind: 'CLIENT', remote: { service: 'postgres', address: '127.0.0.1', port: 5432 }, tags: { 'db.system': 'postgresql', 'db.statement': sql } },
    );

  app.get('/users/:id', async (req, res) => {
    await tracer.trace('load user', async () => {
      await query('SELECT * FROM users WHERE id = ?');
      tracer.annotate('cache miss');
      await query('SELECT * FROM orders WHERE user_id = ?');
    });
    await tracer.trace('GET /profile', () => new Promise<void>((resolve) => setImmediate(resolve)), {
      kind: 'CLIENT',
      remote: { service: 'profile-service', address: '127.0.0.1', port: 8081 },
      tags: { 'http.url': 'http://127.0.0.1:8081/profile/' + String(req.params.id) },
    });
    res.json({ id: req.params.id });
  });
  app.get('/fail', async (_req, res) => {
    try {
      await tracer.trace('charge card', async () => {
        await query('UPDATE cards SET charged = 1');
        throw new Error('card declined');
      });
    } catch {
      res.status(500).json({ error: 'declined' });
    }
  });
  app.get('/xss', async (_req, res) => {
    await tracer.trace(XSS_NAME, async (span) => {
      span.tag(XSS_TAG, XSS_TAG);
      span.annotate(XSS_NOTE);
      await query('SELECT 1');
    });
    res.send('ok');
  });

  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let expected = 0;

  return {
    tracer,
    page,
    server,
    origin,
    async hit(path, init) {
      const target = ++expected;
      const response = await fetch(origin + path, init);
      await response.arrayBuffer().catch(() => undefined);
      await new Promise<void>((resolve) => (ended >= target ? resolve() : waiters.push({ target, resolve })));
      await tracer.flush();
      return response;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await tracer.shutdown();
    },
  };
}
