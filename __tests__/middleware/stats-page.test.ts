import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Tracer } from '../../lib/tracer';
import type { CollectedMetric, HistogramSnapshot } from '../../lib/metrics/types';
import type { DiagnosticEvent } from '../../lib/types';
import { type MetricsSource, statsPage, type StatsPageOptions } from '../../middleware/stats-page';
import { havePrometheus, promtoolCheck } from '../helpers/prometheus-server';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const express5 = require('express') as typeof import('express');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const express4 = require('express4') as typeof import('express');

const XSS_LABEL = '"><script>alert(1)</script>';
const XSS_DESCRIPTION = '<img src=x onerror=alert(2)>';
const LATENCY: HistogramSnapshot = {
  count: 10, sum: 55, min: 1, max: 10, mean: 5.5, stddev: 2.87, p50: 5, p75: 8, p95: 10, p98: 10, p99: 10, p999: 10,
};

/** A registry stand-in: a snapshot tree and the collected metrics behind it, built by hand. */
function fixtureRegistry(): MetricsSource {
  const metrics: CollectedMetric[] = [
    { name: 'web.requests', type: 'counter', description: XSS_DESCRIPTION, labelNames: ['route', 'status'], level: 'info', series: [
      { labelValues: ['/users/:id', '200'], value: 41 },
      { labelValues: [XSS_LABEL, '500'], value: 2 },
    ] },
    { name: 'web.latency', type: 'histogram', description: 'Request latency', unit: 'ms', labelNames: [], level: 'info',
      series: [{ labelValues: [], value: LATENCY }] },
    { name: 'web.latency.errors', type: 'counter', description: '', labelNames: [], level: 'info', series: [{ labelValues: [], value: 2 }] },
    { name: 'web.in_flight', type: 'gauge', description: '', labelNames: [], level: 'info', series: [{ labelValues: [], value: 3 }] },
    { name: 'jobs.consumed', type: 'meter', description: '', labelNames: [], level: 'info',
      series: [{ labelValues: [], value: { count: 7, mean: 1.5, m1: 0.5, m5: 0.25, m15: 0.125 } }] },
    { name: 'jobs.idle', type: 'histogram', description: '', labelNames: [], level: 'info', series: [{ labelValues: [], value: { count: 4, sum: 9 } }] },
  ];
  const snapshot = {
    web: {
      requests: { '/users/:id,200': 41, [`${XSS_LABEL},500`]: 2 },
      latency: { ...LATENCY, errors: 2 },
      in_flight: 3,
    },
    jobs: { consumed: { count: 7, mean: 1.5, m1: 0.5, m5: 0.25, m15: 0.125 }, idle: { count: 4, sum: 9 } },
  };
  return { snapshot: () => structuredClone(snapshot), collect: () => metrics };
}

interface App {
  origin: string;
  get(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

const servers: Server[] = [];
afterAll(() => Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve)))));

async function listen(server: Server): Promise<App> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    get: (path, init) => fetch(origin + path, init),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** An Express app with the page at /_stats and one route of its own. */
async function startApp(
  options: StatsPageOptions = {},
  { express = express5, before }: { express?: typeof express5; before?: (req: IncomingMessage) => void } = {},
): Promise<App> {
  const app = express();
  if (before !== undefined) app.use((req, _res, next) => (before(req), next()));
  app.use('/_stats', statsPage({ registry: fixtureRegistry(), ...options }));
  app.get('/hello', (_req, res) => void res.send('hi'));
  return listen(createServer(app));
}

describe('the stats page over HTTP (Express 5)', () => {
  let app: App;
  beforeAll(async () => {
    app = await startApp({ title: 'shop <stats>' });
  });

  test('HTML: the whole tree, each metric with its type, unit, description, and a histogram in one row', async () => {
    const response = await app.get('/_stats');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const html = await response.text();
    const rows = [...html.matchAll(/<tr class="d(\d+)[^"]*" data-path="([^"]*)" data-kind="([a-z]+)">/g)].map((m) => [Number(m[1]), m[2], m[3]]);
    expect(rows).toEqual([
      [0, 'web', 'group'],
      [1, 'web.requests', 'counter'],
      [2, 'web.requests./users/:id,200', 'counter'],
      [2, 'web.requests.&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;,500', 'counter'],
      [1, 'web.latency', 'histogram'],
      [2, 'web.latency.errors', 'counter'],
      [1, 'web.in_flight', 'gauge'],
      [0, 'jobs', 'group'],
      [1, 'jobs.consumed', 'meter'],
      [1, 'jobs.idle', 'histogram'],
    ]);
    const latency = html.split('\n').find((line) => line.includes('data-path="web.latency"'))!;
    const cells = [...latency.matchAll(/<td class="v[^"]*" data-field="(\w+)"[^>]*>([^<]*)/g)].map((m) => [m[1], m[2]]);
    expect(cells).toEqual([
      ['count', '10'], ['sum', '55'], ['min', '1'], ['mean', '5.5'], ['stddev', '2.87'], ['p50', '5'], ['p75', '8'],
      ['p95', '10'], ['p98', '10'], ['p99', '10'], ['p999', '10'], ['max', '10'],
    ]);
    expect(latency).toContain('<span class="u">ms</span>');
    expect(latency.match(/<svg /g)).toHaveLength(7); // a bar per percentile and max
    expect(latency).toContain('Request latency');
    // An empty window shows dashes, never 0.
    const idle = html.split('\n').find((line) => line.includes('data-path="jobs.idle"'))!;
    expect([...idle.matchAll(/data-field="(p\d+|min|max|mean|stddev)"[^>]*>–/g)]).toHaveLength(10);
    // Series are labelled by name.
    expect(html).toContain('route=<b>/users/:id</b>, status=<b>200</b>');
  });

  test('every text from the registry is escaped: no markup, no attribute break-out', async () => {
    const html = await (await app.get('/_stats')).text();
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    expect(html).toContain('&#60;img src=x onerror=alert(2)&#62;');
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(html).toContain('<title>all metrics · shop &#60;stats&#62;</title>');
    const json = await (await app.get('/_stats?format=json')).text();
    expect(json).not.toMatch(/[<>]/);
    expect(JSON.parse(json).web.requests[`${XSS_LABEL},500`]).toBe(2);
  });

  test('a strict CSP: only the page stylesheet, no script at all, forms to itself', async () => {
    const response = await app.get('/_stats/web');
    const csp = response.headers.get('content-security-policy')!;
    const html = await response.text();
    const style = /<style>([\s\S]*)<\/style>/.exec(html)![1];
    expect(csp).toBe(
      `default-src 'none'; style-src 'sha256-${createHash('sha256').update(style).digest('base64')}'; img-src data:; base-uri 'none'; ` +
        "form-action 'self'; frame-ancestors 'none'",
    );
    expect(html).not.toMatch(/<script|<[^>]*\son[a-z]+=|<[^>]*style=/i);
  });

  test('subtree URLs: /web, /web/latency, /web.latency; 404 for an unknown path', async () => {
    const web = await (await app.get('/_stats/web')).text();
    expect(web).toContain('data-path="web.requests"');
    expect(web).not.toContain('data-path="jobs');
    expect(web).toMatch(/<nav class="crumbs"[^>]*><a href="\/_stats\/">root<\/a><span class="sep">\/<\/span><b>web<\/b><\/nav>/);
    expect(web).toContain('<a href="/_stats/web/latency">latency</a>');
    const slash = await (await app.get('/_stats/web/latency?format=json')).json();
    const dot = await (await app.get('/_stats/web.latency?format=json')).json();
    expect(slash).toEqual({ ...LATENCY, errors: 2 });
    expect(dot).toEqual(slash);
    expect(await (await app.get('/_stats/web/in_flight?format=json')).json()).toBe(3);
    for (const path of ['/nope', '/web/nope', '/web/latency/p50/x', '/__proto__']) {
      const response = await app.get(`/_stats${path}`);
      expect([path, response.status]).toEqual([path, 404]);
      expect(await response.text()).not.toContain('nope');
    }
    expect((await app.get('/_stats/nope?format=json')).status).toBe(404);
  });

  test('?format=json, prettyjson and prometheus; a bad format is a 400', async () => {
    const json = await app.get('/_stats/jobs?format=json');
    expect(json.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await json.text()).toBe('{"consumed":{"count":7,"mean":1.5,"m1":0.5,"m5":0.25,"m15":0.125},"idle":{"count":4,"sum":9}}');
    const pretty = await (await app.get('/_stats/jobs/idle?format=prettyjson')).text();
    expect(pretty).toBe('{\n  "count": 4,\n  "sum": 9\n}\n');
    const prom = await app.get('/_stats/web?format=prometheus');
    expect(prom.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await prom.text();
    expect(text).toContain('web_requests_total{route="/users/:id",status="200"} 41\n');
    expect(text).toContain('web_latency{quantile="0.99"} 10\n');
    expect(text).not.toContain('jobs_');
    if (havePrometheus()) expect(promtoolCheck(text)).toEqual({ code: 0, output: '' });
    expect((await app.get('/_stats?format=xml')).status).toBe(400);
  });

  test('?query= keeps matching leaves at any depth with their ancestors', async () => {
    const count = await (await app.get(`/_stats?format=json&query=${encodeURIComponent('count > 5')}`)).json();
    expect(count).toEqual({ web: { latency: { count: 10 } }, jobs: { consumed: { count: 7 } } });
    const under = await (await app.get(`/_stats/web?format=json&query=${encodeURIComponent('p99 <= 10')}`)).json();
    expect(under).toEqual({ latency: { p99: 10 } });
    expect(await (await app.get(`/_stats?format=json&query=${encodeURIComponent('p99 < 10')}`)).json()).toEqual({});
    const html = await (await app.get(`/_stats?query=${encodeURIComponent('count > 5')}`)).text();
    const rows = [...html.matchAll(/data-path="([^"]*)"/g)].map((m) => m[1]);
    expect(rows).toEqual(['web', 'web.latency', 'jobs', 'jobs.consumed']);
    expect(html).toContain('value="count &#62; 5"');
    const none = await (await app.get(`/_stats?query=${encodeURIComponent('zzz')}`)).text();
    expect(none).toContain('Nothing matches the query.');
    const bad = await app.get(`/_stats?query=${encodeURIComponent('<script> > 1')}`);
    expect(bad.status).toBe(400);
    expect(await bad.text()).not.toContain('<script');
  });

  test('HEAD answers headers only; other methods fall through to the app', async () => {
    const head = await app.get('/_stats/web', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await app.get('/_stats/web', { method: 'POST' })).status).toBe(404);
    expect(await (await app.get('/hello')).text()).toBe('hi');
  });
});

describe('access, as the trace page', () => {
  test('a peer off loopback gets 403; so does a request that came through a proxy', async () => {
    const remote = await startApp({}, { before: (req) => Object.defineProperty(req, 'socket', { value: { remoteAddress: '203.0.113.9' } }) });
    expect((await remote.get('/_stats')).status).toBe(403);
    expect((await remote.get('/_stats/web?format=json')).status).toBe(403);
    expect((await remote.get('/hello')).status).toBe(200);
    const local = await startApp();
    for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip', 'via']) {
      const response = await local.get('/_stats?format=prometheus', { headers: { [header]: '127.0.0.1' } });
      expect([header, response.status]).toEqual([header, 403]);
    }
  });

  test('authorize(req) decides instead, sync or async; a throw or rejection is a reported 403', async () => {
    const events: DiagnosticEvent[] = [];
    const tracer = new Tracer();
    tracer.configure({ serviceName: 'shop', exporters: [], onDiagnostic: (event) => events.push(event) });
    const off = { before: (req: IncomingMessage) => Object.defineProperty(req, 'socket', { value: { remoteAddress: '10.1.2.3' } }) };
    const sync = await startApp({ authorize: (req) => req.headers['x-admin'] === 'yes' }, off);
    expect((await sync.get('/_stats')).status).toBe(403);
    expect((await sync.get('/_stats', { headers: { 'x-admin': 'yes' } })).status).toBe(200);
    const later = await startApp({ authorize: async (req) => req.headers['x-admin'] === 'yes' }, off);
    expect((await later.get('/_stats', { headers: { 'x-admin': 'yes' } })).status).toBe(200);
    const boom = new Error('no session store');
    const throws = await startApp({ tracer, authorize: () => { throw boom; } });
    const rejects = await startApp({ tracer, authorize: () => Promise.reject(boom) });
    expect((await throws.get('/_stats')).status).toBe(403);
    expect((await rejects.get('/_stats')).status).toBe(403);
    expect(events.map((e) => [e.code, e.detail])).toEqual([
      ['TOMOGRAPH_INTEGRATION_ERROR', boom],
      ['TOMOGRAPH_INTEGRATION_ERROR', boom],
    ]);
  });
});

describe('set-up', () => {
  test('Express 4, and a plain http server without Express', async () => {
    const four = await startApp({}, { express: express4 });
    expect((await four.get('/_stats/web?format=json')).status).toBe(200);
    const page = statsPage({ registry: fixtureRegistry() });
    const plain = await listen(createServer((req, res) => page(req, res, () => {
      res.statusCode = 404;
      res.end();
    })));
    expect(await (await plain.get('/web/in_flight?format=json')).json()).toBe(3);
    expect((await plain.get('/', { method: 'DELETE' })).status).toBe(404);
  });

  test('a registry that throws answers 500 and is reported, never crashing the app', async () => {
    const events: DiagnosticEvent[] = [];
    const tracer = new Tracer();
    tracer.configure({ serviceName: 'shop', exporters: [], onDiagnostic: (event) => events.push(event) });
    const broken = { snapshot: () => { throw new Error('boom'); }, collect: () => [] };
    const app = await startApp({ registry: broken, tracer });
    expect((await app.get('/_stats')).status).toBe(500);
    expect(events).toEqual([expect.objectContaining({ code: 'TOMOGRAPH_INTEGRATION_ERROR' })]);
    expect((await app.get('/hello')).status).toBe(200);
  });

  test('wrong options throw a TypeError with the stable code', () => {
    const bad: unknown[] = [null, { nope: 1 }, { authorize: 'yes' }, { title: 3 }, { registry: {} }, { tracer: {} }];
    for (const options of bad) {
      expect(() => statsPage(options as StatsPageOptions)).toThrow(expect.objectContaining({ code: 'TOMOGRAPH_ERR_INVALID_OPTION' }));
    }
  });
});

describe('with the real registry', () => {
  test('the default registry by default: timeMe with its errors, labelled histograms, derived metrics, a counter extended by a child', async () => {
    // Module functions write to the default registry, which statsPage() reads when given none.
    const { counter, countByValue, gauge, histogram, sumOf, timeMe } = await import('../../lib/metrics');
    const job = timeMe('page_test.job', (fail: boolean) => {
      if (fail) throw new Error('failed job');
      return 1;
    });
    job(false);
    expect(() => job(true)).toThrow('failed job');
    histogram('page_test.query', { labels: ['op'], unit: 'ms' }).labels({ op: 'select' }).record(5);
    counter('page_test.hits').inc(2);
    counter('page_test.hits.bots').inc(1);
    gauge('page_test.workers.alpha').set(1);
    gauge('page_test.workers.beta').set(2);
    sumOf('page_test.overall', 'page_test.workers.*');
    countByValue('page_test.states', 'page_test.workers.*', { values: { idle: 1, busy: 2, dead: 3 } });

    const app = express5();
    app.use('/_stats', statsPage());
    const { origin } = await listen(createServer(app));
    const html = await (await fetch(`${origin}/_stats/page_test`)).text();
    const rows = [...html.matchAll(/<tr class="d(\d+)[^"]*" data-path="([^"]*)" data-kind="([a-z]+)">/g)].map((m) => [Number(m[1]), m[2], m[3]]);
    expect(rows).toEqual([
      [0, 'page_test', 'group'],
      [1, 'page_test.hits', 'counter'],
      [2, 'page_test.hits.bots', 'counter'],
      [1, 'page_test.job', 'histogram'],
      [2, 'page_test.job.errors', 'counter'],
      [1, 'page_test.overall', 'gauge'],
      [1, 'page_test.query', 'histogram'],
      [2, 'page_test.query.select', 'histogram'],
      [1, 'page_test.states', 'gauge'],
      [2, 'page_test.states.idle', 'gauge'],
      [2, 'page_test.states.busy', 'gauge'],
      [2, 'page_test.states.dead', 'gauge'],
      [1, 'page_test.workers', 'group'],
      [2, 'page_test.workers.alpha', 'gauge'],
      [2, 'page_test.workers.beta', 'gauge'],
    ]);
    const row = (path: string) => html.split('\n').find((line) => line.includes(`data-path="${path}"`))!;
    expect(row('page_test.hits')).toMatch(/<td class="v" title="2">2<\/td>/);
    expect(row('page_test.job.errors')).toMatch(/<td class="v" title="1">1<\/td>/);
    expect(row('page_test.job')).toMatch(/data-field="count" title="2">2</);
    expect(row('page_test.query.select')).toContain('op=<b>select</b>');
    expect(row('page_test.overall')).toMatch(/title="3">3</);
    const json = await (await fetch(`${origin}/_stats/page_test?format=json&query=${encodeURIComponent('errors >= 1')}`)).json();
    expect(json).toEqual({ job: { errors: 1 } });
    const states = await (await fetch(`${origin}/_stats/page_test/states?format=json`)).json();
    expect(states).toEqual({ idle: 1, busy: 1, dead: 0 });
    const prom = await (await fetch(`${origin}/_stats/page_test?format=prometheus`)).text();
    expect(prom).toContain('page_test_states{value="dead"} 0\n');
    if (havePrometheus()) expect(promtoolCheck(prom)).toEqual({ code: 0, output: '' });
  });
});
