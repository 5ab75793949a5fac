import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Tracer } from '../../lib/tracer';
import type { DiagnosticEvent } from '../../lib/types';
import {
  isLoopback, loopbackOnly, PAGE_TAG, RecentTracesExporter, tracePage, TraceStore, type TraceSummary,
} from '../../middleware/trace-page';
import { startPageApp, XSS_NAME, type PageApp } from '../helpers/trace-page-app';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const express4 = require('express4') as typeof import('express');

interface List {
  recent: TraceSummary[];
  slowest: TraceSummary[];
  failed: TraceSummary[];
}

async function json<T>(response: Response): Promise<T> {
  expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
  return (await response.json()) as T;
}

describe('with traffic (Express 5)', () => {
  let app: PageApp;
  const diagnostics: DiagnosticEvent[] = [];

  beforeAll(async () => {
    app = await startPageApp({ onDiagnostic: (event) => diagnostics.push(event) });
    await app.hit('/users/1');
    await app.hit('/fail');
    await app.hit('/xss');
    // A slow trace with explicit times, so the ranking does not depend on the machine.
    const t0 = app.tracer.now() - 5_000_000;
    const slow = app.tracer.startSpan('nightly report', { parent: null, timestamp: t0 });
    const child = app.tracer.startSpan('aggregate', { parent: slow, timestamp: t0 + 1000 });
    child.end(t0 + 2_000_000);
    slow.end(t0 + 3_000_000);
    await app.tracer.flush();
  });
  afterAll(() => app.close());

  test('traces.json lists recent, slowest and failed summaries', async () => {
    const list = await json<List>(await fetch(`${app.origin}/_traces/traces.json`));
    expect(list.recent.map((t) => t.name)).toEqual(['GET /xss', 'GET /fail', 'GET /users/1', 'nightly report']);
    expect(list.slowest[0]).toMatchObject({ name: 'nightly report', duration: 3_000_000, spanCount: 2, errorCount: 0 });
    expect(list.failed.map((t) => t.name)).toEqual(['GET /fail']);
    expect(list.failed[0]).toMatchObject({ service: 'shop', kind: 'SERVER', spanCount: 3, errorCount: 2, error: 'HTTP 500' });
    const users = list.recent.find((t) => t.name === 'GET /users/1')!;
    expect(users).toMatchObject({ spanCount: 5, errorCount: 0, services: ['shop'], droppedSpans: 0 });
    expect(users.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(Number.isInteger(users.timestamp) && users.duration >= 1).toBe(true);
  });

  test('traces.json?limit= caps each list; a bad limit is a 400', async () => {
    const list = await json<List>(await fetch(`${app.origin}/_traces/traces.json?limit=2`));
    expect([list.recent.length, list.slowest.length, list.failed.length]).toEqual([2, 2, 1]);
    for (const bad of ['0', '-1', 'abc', '1e3', '9999999']) {
      const response = await fetch(`${app.origin}/_traces/traces.json?limit=${bad}`);
      expect(response.status).toBe(400);
    }
  });

  test('traces.json?id= gives one trace: its spans in start order, without localParent', async () => {
    const list = await json<List>(await fetch(`${app.origin}/_traces/traces.json`));
    const id = list.recent.find((t) => t.name === 'GET /users/1')!.traceId;
    const one = await json<{ traceId: string; summary: TraceSummary; spans: Record<string, unknown>[] }>(
      await fetch(`${app.origin}/_traces/traces.json?id=${id}`),
    );
    expect(one.traceId).toBe(id);
    expect(one.summary.name).toBe('GET /users/1');
    expect(one.spans.map((s) => s.name)).toEqual(['GET /users/1', 'load user', 'select', 'select', 'GET /profile']);
    const [server, load, q1] = one.spans;
    expect(server.parentId).toBeUndefined();
    expect(load.parentId).toBe(server.id);
    expect(q1.parentId).toBe(load.id);
    expect(q1).toMatchObject({
      kind: 'CLIENT',
      remote: { service: 'postgres', address: '127.0.0.1', port: 5432 },
      tags: { 'db.system': 'postgresql', 'db.statement': 'SELECT * FROM users WHERE id = ?' },
      notes: [{ value: 'rows', duration: 5 }],
    });
    for (const span of one.spans) expect(Object.keys(span)).not.toContain('localParent');
  });

  test('traces.json?id= answers 400 for a malformed id and 404 for an unknown one, echoing neither', async () => {
    const hostile = '<script>alert(1)</script>';
    for (const id of [encodeURIComponent(hostile), 'ABCDEF0123456789ABCDEF0123456789', '../../etc/passwd', '']) {
      const response = await fetch(`${app.origin}/_traces/traces.json?id=${id}`);
      expect(response.status).toBe(400);
      expect(await response.text()).not.toContain('script');
    }
    const missing = await fetch(`${app.origin}/_traces/traces.json?id=${'f'.repeat(32)}`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).not.toContain('f'.repeat(32));
  });

  test('JSON escapes <, > and & so no span name can become markup', async () => {
    const list = await json<List>(await fetch(`${app.origin}/_traces/traces.json`));
    const id = list.recent.find((t) => t.name === 'GET /xss')!.traceId;
    const body = await (await fetch(`${app.origin}/_traces/traces.json?id=${id}`)).text();
    expect(body).not.toMatch(/[<>]/);
    expect(body).toContain('\\u003cimg src=x onerror=alert(1)\\u003e');
    const one = JSON.parse(body) as { spans: { name: string }[] };
    expect(one.spans.map((s) => s.name)).toContain(XSS_NAME);
  });

  test('stats.json gives the tracer counters and the store counters', async () => {
    const stats = await json<{ tracer: Record<string, unknown>; store: Record<string, unknown> }>(
      await fetch(`${app.origin}/_traces/stats.json`),
    );
    expect(stats.tracer).toEqual(JSON.parse(JSON.stringify(app.tracer.stats())));
    expect(stats.tracer.spansFinished).toBe(5 + 3 + 3 + 2);
    expect(stats.store).toMatchObject({ traces: 4, spans: 13, maxTraces: 200, maxSpansPerTrace: 500, spansDropped: 0 });
    expect(stats.store.batches).toBeGreaterThan(0);
  });

  test('the page: one self-contained HTML document under a strict hash-based CSP', async () => {
    const response = await fetch(`${app.origin}/_traces`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const html = await response.text();
    const csp = response.headers.get('content-security-policy')!;
    const directives = Object.fromEntries(csp.split('; ').map((d) => [d.split(' ')[0], d.slice(d.indexOf(' ') + 1)]));
    expect(directives['default-src']).toBe("'none'");
    expect(directives['connect-src']).toBe("'self'");
    expect(directives['frame-ancestors']).toBe("'none'");
    expect(csp).not.toContain('unsafe');
    // The hashes in the header are those of the inline script and stylesheet.
    const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
    const script = /<script>([\s\S]*)<\/script>/.exec(html)![1];
    const style = /<style>([\s\S]*)<\/style>/.exec(html)![1];
    expect(directives['script-src']).toBe(hash(script));
    expect(directives['style-src']).toBe(hash(style));
    // Self-contained: no external resource, no inline handler, no innerHTML.
    expect(html).not.toMatch(/\b(src|href)=["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
    // The mount path answers with or without its trailing slash.
    expect((await fetch(`${app.origin}/_traces/`)).status).toBe(200);
  });

  test('the page reflects nothing from the request', async () => {
    const plain = await (await fetch(`${app.origin}/_traces`)).text();
    const evil = encodeURIComponent('"><script>alert(1)</script>');
    const hostile = await (await fetch(`${app.origin}/_traces/?q=${evil}&id=${evil}`, { headers: { referer: evil } })).text();
    expect(hostile).toBe(plain);
  });

  test('HEAD answers headers only; an unknown path falls through to the app', async () => {
    const head = await fetch(`${app.origin}/_traces/stats.json`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await fetch(`${app.origin}/_traces/nope`)).status).toBe(404);
  });

  test('requests that came through a proxy are refused by default', async () => {
    for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
      const response = await fetch(`${app.origin}/_traces/traces.json`, { headers: { [header]: '127.0.0.1' } });
      expect(response.status).toBe(403);
      expect(await response.text()).toBe('Forbidden\n');
    }
  });
});

describe('access', () => {
  const apps: PageApp[] = [];
  afterAll(() => Promise.all(apps.map((app) => app.close())));
  const start = async (options: Parameters<typeof startPageApp>[0]) => {
    const app = await startPageApp(options);
    apps.push(app);
    return app;
  };
  const statuses = async (app: PageApp) =>
    Promise.all(['', '/', '/traces.json', '/stats.json'].map(async (p) => (await fetch(`${app.origin}/_traces${p}`)).status));

  test('a peer off loopback gets 403 on every path', async () => {
    const app = await start({
      before: (req) => Object.defineProperty(req, 'socket', { value: { remoteAddress: '203.0.113.9' } }),
    });
    expect(await statuses(app)).toEqual([403, 403, 403, 403]);
    // The app itself still answers.
    expect((await app.hit('/users/1')).status).toBe(200);
  });

  test('authorize(req) decides instead: false → 403, true → 200, async too', async () => {
    const seen: string[] = [];
    const app = await start({
      page: {
        authorize: (req) => {
          seen.push(req.url ?? '');
          return req.headers['x-admin'] === 'yes';
        },
      },
      before: (req) => Object.defineProperty(req, 'socket', { value: { remoteAddress: '10.1.2.3' } }),
    });
    expect((await fetch(`${app.origin}/_traces/stats.json`)).status).toBe(403);
    expect((await fetch(`${app.origin}/_traces/stats.json`, { headers: { 'x-admin': 'yes' } })).status).toBe(200);
    expect(seen).toEqual(['/stats.json', '/stats.json']);

    const later = await start({ page: { authorize: async (req) => req.headers['x-admin'] === 'yes' } });
    expect((await fetch(`${later.origin}/_traces`)).status).toBe(403);
    expect((await fetch(`${later.origin}/_traces`, { headers: { 'x-admin': 'yes' } })).status).toBe(200);
  });

  test('an authorize that throws or rejects answers 403 and is reported', async () => {
    const events: DiagnosticEvent[] = [];
    const boom = new Error('no session store');
    const throws = await start({ page: { authorize: () => { throw boom; } }, onDiagnostic: (e) => events.push(e) });
    const rejects = await start({ page: { authorize: () => Promise.reject(boom) }, onDiagnostic: (e) => events.push(e) });
    const truthy = await start({ page: { authorize: (() => 'yes') as never } });
    expect((await fetch(`${throws.origin}/_traces`)).status).toBe(403);
    expect((await fetch(`${rejects.origin}/_traces`)).status).toBe(403);
    expect((await fetch(`${truthy.origin}/_traces`)).status).toBe(403);
    expect(events.map((e) => [e.code, e.detail])).toEqual([
      ['TOMOGRAPH_INTEGRATION_ERROR', boom],
      ['TOMOGRAPH_INTEGRATION_ERROR', boom],
    ]);
  });

  test('isLoopback knows 127/8, ::1 and IPv4-mapped loopback', () => {
    for (const ip of ['127.0.0.1', '127.255.0.9', '::1', '::ffff:127.0.0.1', '::FFFF:127.1.2.3', '0:0:0:0:0:0:0:1']) {
      expect([ip, isLoopback(ip)]).toEqual([ip, true]);
    }
    for (const ip of ['128.0.0.1', '10.0.0.1', '::ffff:10.0.0.1', '::2', '127.0.0.1.evil', '1270.0.0.1', '', undefined]) {
      expect([ip, isLoopback(ip)]).toEqual([ip, false]);
    }
    const req = (remoteAddress: string | undefined, headers = {}) => ({ socket: { remoteAddress }, headers }) as unknown as IncomingMessage;
    expect(loopbackOnly(req('127.0.0.1'))).toBe(true);
    expect(loopbackOnly(req('127.0.0.1', { via: '1.1 nginx' }))).toBe(false);
    expect(loopbackOnly(req(undefined))).toBe(false);
  });
});

describe('set-up', () => {
  test('Express 4 serves the same page and JSON', async () => {
    const app = await startPageApp({ express: express4 });
    try {
      await app.hit('/users/9');
      expect((await fetch(`${app.origin}/_traces`)).status).toBe(200);
      const list = await json<List>(await fetch(`${app.origin}/_traces/traces.json`));
      expect(list.recent.map((t) => t.name)).toEqual(['GET /users/9']);
    } finally {
      await app.close();
    }
  });

  test("the page's own requests are traced by the app but left out of the list", async () => {
    const app = await startPageApp({ traceThePage: true });
    try {
      await app.hit('/users/3');
      for (let i = 0; i < 3; i++) await (await fetch(`${app.origin}/_traces/traces.json`)).text();
      await app.tracer.flush();
      const list = await json<List>(await fetch(`${app.origin}/_traces/traces.json`));
      expect(list.recent.map((t) => t.name)).toEqual(['GET /users/3']);
      expect(app.page.exporter.stats().pageTracesIgnored).toBeGreaterThanOrEqual(3);
      expect(PAGE_TAG).toBe('tomograph.page');
    } finally {
      await app.close();
    }
  });

  test('tracePage() makes its own store unless given one, and validates its options', () => {
    const page = tracePage({ maxTraces: 7 });
    expect(page.exporter).toBeInstanceOf(RecentTracesExporter);
    expect(page.store).toBe(page.exporter);
    expect(page.exporter.maxTraces).toBe(7);
    const store = new TraceStore({ maxTraces: 3 });
    expect(tracePage({ store, tracer: new Tracer() }).exporter).toBe(store);

    const bad: unknown[] = [
      { nope: 1 },
      { store: {} },
      { store, maxTraces: 5 },
      { authorize: 'loopback' },
      { title: 5 },
      { tracer: {} },
      { express: {} },
      { maxTraces: 0 },
      { maxSpansPerTrace: 20000 },
      null,
    ];
    for (const options of bad) {
      expect(() => tracePage(options as never)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'TOMOGRAPH_ERR_INVALID_OPTION' }));
    }
  });

  test('the title option is escaped', async () => {
    const app = await startPageApp({ page: { title: '<b onmouseover="x">shop & co</b>' } });
    try {
      const html = await (await fetch(`${app.origin}/_traces`)).text();
      expect(html).toContain('<title>&#60;b onmouseover=&#34;x&#34;&#62;shop &#38; co&#60;/b&#62;</title>');
      expect(html).not.toContain('<b onmouseover');
    } finally {
      await app.close();
    }
  });
});
