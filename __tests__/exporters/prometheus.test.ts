import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { PROMETHEUS_CONTENT_TYPE, prometheusHandler, type PrometheusHandlerOptions, prometheusText } from '../../exporters/prometheus';
import { MetricsRegistry } from '../../lib/metrics';
import { counter as defaultCounter } from '../../lib/metrics';
import type { DiagnosticEvent } from '../../lib/types';
import { havePrometheus, PrometheusServer, promtoolCheck } from '../helpers/prometheus-server';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const express = require('express') as typeof import('express');

const servers: Server[] = [];
afterAll(() => Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve)))));

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A registry with one of each kind, labels included, and hostile text in a description and a label value. */
function shopRegistry(): MetricsRegistry {
  const registry = new MetricsRegistry();
  const requests = registry.counter('web.requests', { description: 'Requests served, by "route"\nand status', labels: ['route', 'status'] });
  requests.labels({ route: '/users/:id', status: '200' }).inc(41);
  requests.labels({ route: '"}\n<script>', status: '500' }).inc(2);
  registry.gauge('web.in_flight', () => 3, { description: 'Requests being served' });
  const latency = registry.histogram('web.latency', { unit: 'ms', description: 'Request latency' });
  for (let i = 1; i <= 100; i++) latency.record(i);
  registry.histogram('jobs.idle'); // nothing recorded: no quantile lines
  registry.meter('jobs.consumed').mark(7);
  return registry;
}

describe('prometheusText', () => {
  test('renders a real registry; promtool accepts it', () => {
    const text = prometheusText(shopRegistry());
    expect(text).toContain('# HELP web_requests_total Requests served, by "route"\\nand status\n# TYPE web_requests_total counter\n');
    expect(text).toContain('web_requests_total{route="/users/:id",status="200"} 41\n');
    expect(text).toContain('web_requests_total{route="\\"}\\n<script>",status="500"} 2\n');
    expect(text).toContain('web_in_flight 3\n');
    expect(text).toMatch(/^web_latency\{quantile="0.99"\} 9\d(\.\d+)?$/m);
    expect(text).toContain('web_latency_sum 5050\nweb_latency_count 100\n');
    expect(text).toContain('# TYPE jobs_idle summary\njobs_idle_sum 0\njobs_idle_count 0\n');
    expect(text).toContain('# TYPE jobs_consumed_total counter\njobs_consumed_total 7\n');
    if (havePrometheus()) expect(promtoolCheck(text)).toEqual({ code: 0, output: '' });
  });

  test('the default registry by default; a registry that throws gives "" and a report', () => {
    defaultCounter('prometheus_test.default_hits').inc(5);
    expect(prometheusText()).toContain('prometheus_test_default_hits_total 5\n');
    const broken = { collect: () => { throw new Error('boom'); } };
    expect(prometheusText(broken)).toBe('');
  });
});

describe('prometheusHandler', () => {
  test('serves text 0.0.4 with the exact Content-Type, plain or gzipped', async () => {
    const host = await serve(prometheusHandler({ registry: shopRegistry() }));
    const plain = await fetch(`http://${host}/metrics`, { headers: { 'accept-encoding': 'identity' } });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(PROMETHEUS_CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(plain.headers.get('content-encoding')).toBeNull();
    const text = await plain.text();
    expect(text).toBe(prometheusText(shopRegistry()));

    const raw = await new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
      // fetch would gunzip on its own: read the bytes as they come.
      require('node:http').get(`http://${host}/metrics`, { headers: { 'accept-encoding': 'gzip' } }, (res: import('node:http').IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      }).on('error', reject);
    });
    expect(raw.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(raw.body).toString()).toBe(text);
  });

  test('renders in slices, each written in an event-loop turn of its own', async () => {
    const registry = new MetricsRegistry();
    const wide = registry.gauge('wide', { labels: ['route', 'i'], maxSeries: 10000 });
    for (let i = 0; i < 6000; i++) wide.labels({ route: `/api/resource/${i % 50}/:id`, i: String(i) }).set(i);
    // Slices of 1000 series (~60 KB) fill the socket's buffer, so write() returns false and the
    // next slice waits for 'drain', which a loopback socket may emit in this same turn.
    const handler = prometheusHandler({ registry, seriesPerSlice: 1000, maxSliceMs: 1000, gzip: false });
    let turn = 0;
    let counting = true;
    const tick = (): void => {
      turn++;
      if (counting) setImmediate(tick);
    };
    setImmediate(tick);
    const writeTurns: number[] = [];
    const host = await serve((req, res) => {
      const write = res.write.bind(res) as (...args: unknown[]) => boolean;
      res.write = ((...args: unknown[]) => {
        writeTurns.push(turn);
        return write(...args);
      }) as typeof res.write;
      handler(req, res);
    });
    const text = await new Promise<string>((resolve, reject) => {
      require('node:http').get(`http://${host}/`, (res: import('node:http').IncomingMessage) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    counting = false;
    expect(text.split('\n').filter((line) => line.startsWith('wide{')).length).toBe(6000);
    expect(writeTurns.length).toBe(5); // 6 slices: 5 writes, then end() with the last
    for (let i = 1; i < writeTurns.length; i++) expect(writeTurns[i]).toBeGreaterThan(writeTurns[i - 1]);
  });

  test('collects in pieces too: the event loop runs between them, and every summary is one read', async () => {
    const registry = new MetricsRegistry();
    for (let m = 0; m < 12; m++) {
      const h = registry.histogram(`h${String(m).padStart(2, '0')}`, { labels: ['i'], unit: 'ms' });
      for (let i = 0; i < 100; i++) for (let v = 1; v <= 10; v++) h.labels({ i: String(i) }).record(v);
    }
    let turn = 0;
    let counting = true;
    const tick = (): void => {
      turn++;
      // Records between pieces: a summary read in two halves would show _sum and _count apart.
      registry.histogram('h05', { labels: ['i'], unit: 'ms' }).labels({ i: '7' }).record(1);
      if (counting) setImmediate(tick);
    };
    const collectTurns: number[] = [];
    const source = {
      collect: registry.collect.bind(registry),
      collectCursor: (options?: Parameters<MetricsRegistry['collectCursor']>[0]) => {
        const cursor = registry.collectCursor(options);
        expect(options?.states).toBe(false); // the exposition never needs the mergeable states
        return {
          get done() {
            return cursor.done;
          },
          next: (maxSeries?: number, budgetMs?: number) => {
            collectTurns.push(turn);
            return cursor.next(maxSeries, budgetMs);
          },
        };
      },
    };
    const host = await serve(prometheusHandler({ registry: source, seriesPerSlice: 250, maxSliceMs: 1000, gzip: false }));
    setImmediate(tick);
    const text = await (await fetch(`http://${host}/`)).text();
    counting = false;
    // 1200 series, 100 per metric, 250 per slice (collected or rendered): at most three metrics
    // per piece, so at least four pieces, each in an event-loop turn of its own.
    expect(collectTurns.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < collectTurns.length; i++) expect(collectTurns[i]).toBeGreaterThan(collectTurns[i - 1]);
    expect(text.split('\n').filter((line) => /^h\d\d_count\{/.test(line))).toHaveLength(1200);
    const sum = Number(/^h05_sum\{i="7"\} (\S+)$/m.exec(text)?.[1]);
    const count = Number(/^h05_count\{i="7"\} (\S+)$/m.exec(text)?.[1]);
    expect(sum - 55).toBe(count - 10); // every value recorded meanwhile was a 1: both moved together
    if (havePrometheus()) expect(promtoolCheck(text)).toEqual({ code: 0, output: '' });
  });

  test('a metric created or gone during a scrape: the exposition stays whole and valid', async () => {
    const registry = new MetricsRegistry();
    for (let m = 0; m < 10; m++) {
      const c = registry.counter(`m${m}`, { labels: ['i'] });
      for (let i = 0; i < 100; i++) c.labels({ i: String(i) }).inc(i);
    }
    let pieces = 0;
    const source = {
      collect: registry.collect.bind(registry),
      collectCursor: (options?: Parameters<MetricsRegistry['collectCursor']>[0]) => {
        const cursor = registry.collectCursor(options);
        return {
          get done() {
            return cursor.done;
          },
          next: (maxSeries?: number, budgetMs?: number) => {
            if (++pieces === 3) {
              registry.reset(); // m2..m9 go away before their turn
              registry.gauge('m5').set(5); // m5 comes back as a gauge
              registry.counter('m00').inc(); // new: waits for the next scrape
            }
            return cursor.next(maxSeries, budgetMs);
          },
        };
      },
    };
    const host = await serve(prometheusHandler({ registry: source, seriesPerSlice: 100, gzip: false }));
    const text = await (await fetch(`http://${host}/`)).text();
    const families = text.split('\n').filter((line) => line.startsWith('# TYPE')).map((line) => line.split(' ').slice(2).join(' '));
    expect(families).toEqual(['m0_total counter', 'm1_total counter', 'm5 gauge']);
    expect(text.endsWith('m5 5\n')).toBe(true);
    if (havePrometheus()) expect(promtoolCheck(text)).toEqual({ code: 0, output: '' });
    const next = await (await fetch(`http://${host}/`)).text();
    expect(next).toBe('# HELP m00_total m00\n# TYPE m00_total counter\nm00_total 1\n# HELP m5 m5\n# TYPE m5 gauge\nm5 5\n');
  });

  test('HEAD gives headers only; other methods 405, or next() under Express; wrong options throw', async () => {
    const handler = prometheusHandler({ registry: shopRegistry() });
    const host = await serve(handler);
    const head = await fetch(`http://${host}/metrics`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-type'), await head.text()]).toEqual([200, PROMETHEUS_CONTENT_TYPE, '']);
    expect((await fetch(`http://${host}/metrics`, { method: 'POST' })).status).toBe(405);
    const app = express();
    app.use('/metrics', handler);
    app.use((_req, res) => void res.status(418).end());
    const expressHost = await serve(app);
    expect((await fetch(`http://${expressHost}/metrics`, { method: 'DELETE' })).status).toBe(418);
    expect(await (await fetch(`http://${expressHost}/metrics`)).text()).toContain('web_in_flight 3\n');
    for (const bad of [null, { nope: 1 }, { registry: {} }, { level: 'loud' }, { seriesPerSlice: 0 }, { maxSliceMs: 0 }, { gzip: 'yes' }]) {
      expect(() => prometheusHandler(bad as PrometheusHandlerOptions)).toThrow(expect.objectContaining({ code: 'TOMOGRAPH_ERR_INVALID_OPTION' }));
    }
  });

  test('level leaves out the metrics below it; a registry that throws answers 500 and is reported', async () => {
    const registry = new MetricsRegistry();
    registry.counter('debug_only', { level: 'debug' }).inc();
    registry.counter('important', { level: 'error' }).inc();
    const events: DiagnosticEvent[] = [];
    const leveled = await serve(prometheusHandler({ registry, level: 'warn' }));
    const text = await (await fetch(`http://${leveled}/`)).text();
    expect(text).toContain('important_total 1');
    expect(text).not.toContain('debug_only');
    const broken = await serve(prometheusHandler({ registry: { collect: () => { throw new Error('boom'); } }, onDiagnostic: (e) => events.push(e) }));
    expect((await fetch(`http://${broken}/`)).status).toBe(500);
    expect(events.map((e) => e.code)).toEqual(['TOMOGRAPH_INTEGRATION_ERROR']);
  });
});

const withPrometheus = havePrometheus() ? describe : describe.skip;
withPrometheus('a real Prometheus server scraping the handler every second', () => {
  let prometheus: PrometheusServer | undefined;
  afterAll(async () => {
    await prometheus?.stop();
  });

  test('scrapes cleanly, and the values read back through /api/v1/query are the registry\'s', async () => {
    const registry = shopRegistry();
    const app = express();
    app.get('/metrics', prometheusHandler({ registry }));
    const host = await serve(app);
    prometheus = await PrometheusServer.start(host);

    const requests = await prometheus.waitFor('web_requests_total{job="tomograph_test"}', (samples) => (samples.length === 2 ? samples : undefined));
    const byStatus = Object.fromEntries(requests.map((s) => [s.metric.status, [s.metric.route, Number(s.value[1])]]));
    expect(byStatus).toEqual({ 200: ['/users/:id', 41], 500: ['"}\n<script>', 2] });
    const p99 = await prometheus.waitFor('web_latency{quantile="0.99"}', (samples) => samples[0]);
    expect(Number(p99.value[1])).toBeGreaterThanOrEqual(98);
    expect(Number(p99.value[1])).toBeLessThanOrEqual(101);

    // A later change shows up in a later scrape.
    registry.counter('web.requests', { labels: ['route', 'status'] }).labels({ route: '/users/:id', status: '200' }).inc(9);
    await prometheus.waitFor('web_requests_total{status="200"}', (samples) => (samples[0]?.value[1] === '50' ? true : undefined));
    const target = await prometheus.target();
    expect(target).toMatchObject({ health: 'up', lastError: '' });
  });
});
