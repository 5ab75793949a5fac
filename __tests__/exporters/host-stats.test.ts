import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsRegistry, mergeHistogramStates, summarizeHistogramState } from 'tomograph/metrics';
import { collectHostStats, exposeStats, hostStatsHandler, renderHostStatsText } from 'tomograph/host-stats';
import type { DiagnosticEvent } from 'tomograph';
import { mergeProcessStats, metricsTree, type ProcessStats } from '../../exporters/host-stats-merge';

const math = { mergeHistogramStates, summarizeHistogramState };

function processStats(pid: number, registry: MetricsRegistry, gauges: ProcessStats['gauges'] = {}): ProcessStats {
  return { v: 1, pid, startedAtMs: 1, service: 's', metrics: registry.collect(), gauges };
}

/** The exact quantile (nearest rank) of `values`, as the registry's percentiles approximate it. */
function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

describe('merging processes', () => {
  test('counters and meters sum; gauges sum unless their rule says max, min or per-process', () => {
    const regs = [1, 2, 3].map(() => new MetricsRegistry({ clock: () => 1000 }));
    regs.forEach((r, i) => {
      r.counter('web.requests').inc(100 * (i + 1));
      r.counter('web.status', { labels: ['code'] }).labels({ code: '200' }).inc(i + 1);
      r.gauge('pool.size').set(10);
      r.gauge('pool.limit').set(50);
      r.gauge('heap.used').set(1000 + i);
      r.meter('web.hits').mark(5);
    });
    const procs = regs.map((r, i) => processStats(101 + i, r, { 'pool.limit': 'max', 'heap.used': 'per-process' }));
    const { metrics } = mergeProcessStats(procs, undefined, math, () => undefined);
    const tree = metricsTree(metrics) as Record<string, Record<string, unknown>>;
    expect(tree.web.requests).toBe(600);
    expect(tree.web.status).toEqual({ 200: 6 });
    expect(tree.pool.size).toBe(30); // a pool per process: the host holds 30
    expect(tree.pool.limit).toBe(50); // the same limit everywhere: not multiplied by 3
    expect(tree.heap.used).toEqual({ 101: 1000, 102: 1001, 103: 1002 });
    expect((tree.web.hits as { count: number }).count).toBe(15);
  });

  test('histograms merge their sketches: the host p99 is the p99 of all values, not a sum or mean of p99s', () => {
    const values = [
      Array.from({ length: 1000 }, (_, i) => 1 + i * 0.01), // 1 .. 11 ms
      Array.from({ length: 1000 }, (_, i) => 100 + i), // 100 .. 1099 ms
      [5000],
    ];
    const regs = values.map((vs) => {
      const r = new MetricsRegistry({ clock: () => 1000 });
      const h = r.histogram('web.latency', { unit: 'ms' });
      for (const v of vs) h.record(v);
      return r;
    });
    const { metrics } = mergeProcessStats(regs.map((r, i) => processStats(10 + i, r)), undefined, math, () => undefined);
    const h = (metricsTree(metrics) as { web: { latency: Record<string, number> } }).web.latency;
    const all = values.flat();
    expect(h.count).toBe(2001);
    expect(h.sum).toBeCloseTo(all.reduce((a, b) => a + b, 0), 6);
    expect(h.min).toBe(1);
    expect(h.max).toBe(5000);
    for (const [key, q] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99], ['p999', 0.999]] as const) {
      const exact = exactQuantile(all, q);
      expect(Math.abs(h[key] - exact) / exact).toBeLessThanOrEqual(0.01);
    }
    // What statvent did (summing percentiles) would be wildly off.
    const perProcessP99 = regs.map((r) => (r.snapshot() as { web: { latency: { p99: number } } }).web.latency.p99);
    expect(Math.abs(perProcessP99.reduce((a, b) => a + b, 0) - h.p99)).toBeGreaterThan(1000);
  });

  test('a retired process keeps its counter and histogram totals; its gauges leave', () => {
    const live = new MetricsRegistry({ clock: () => 1000 });
    live.counter('jobs').inc(5);
    live.histogram('t').record(2);
    const { metrics } = mergeProcessStats([processStats(1, live)], {
      v: 1,
      recent: [{ pid: 2, startedAtMs: 1 }],
      metrics: [
        { name: 'jobs', type: 'counter', description: '', labelNames: [], level: 'info', series: [{ labelValues: [], value: 7 }] },
        { name: 't', type: 'histogram', description: '', labelNames: [], level: 'info', series: [{ labelValues: [], value: { count: 3, sum: 30 } }] },
      ],
    }, math, () => undefined);
    const tree = metricsTree(metrics) as { jobs: number; t: { count: number; sum: number; max: number } };
    expect(tree.jobs).toBe(12);
    expect(tree.t.count).toBe(4);
    expect(tree.t.sum).toBe(32);
    expect(tree.t.max).toBe(2);
  });
});

describe('exposeStats and collectHostStats in one process', () => {
  let dir: string;
  beforeEach(() => {
    dir = join(mkdtempSync(join(tmpdir(), `tomograph-hs-${process.pid}-`)), 'svc');
  });
  afterEach(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

  test('serves this process on <dir>/<pid>.sock, owner-only, and removes it on close', async () => {
    const registry = new MetricsRegistry();
    registry.counter('a.b').inc(3);
    const exposure = exposeStats({ dir, registry });
    expect(exposure.path).toBe(join(dir, `${process.pid}.sock`));
    expect(await exposure.ready).toBe(true);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(exposure.path as string).mode & 0o777).toBe(0o600);
    const stats = await collectHostStats({ dir });
    expect(stats.processes).toBe(1);
    expect(stats.pids).toEqual([process.pid]);
    expect(stats.stats).toEqual({ a: { b: 3 } });
    expect(exposeStats({ dir, registry })).toBe(exposure);
    await exposure.close();
    expect(existsSync(join(dir, `${process.pid}.sock`))).toBe(false);
    // close() kept the totals: the host still counts them.
    const after = await collectHostStats({ dir });
    expect(after.processes).toBe(0);
    expect(after.stats).toEqual({ a: { b: 3 } });
    expect(after.retiredProcesses).toBe(1);
  });

  test('hostile files and a socket answering garbage break nothing', async () => {
    const registry = new MetricsRegistry();
    registry.counter('ok').inc(1);
    const exposure = exposeStats({ dir, registry });
    await collectHostStats({ dir });
    writeFileSync(join(dir, '123.sock'), 'not a socket');
    writeFileSync(join(dir, 'notes.txt'), 'x');
    writeFileSync(join(dir, 'retired.json'), '{"v":1,"metrics":[{"name":5}],"recent":[]}');
    const servers: net.Server[] = [];
    const serve = (pid: number, answer: (socket: net.Socket) => void): Promise<void> => new Promise((resolve) => {
      const server = net.createServer(answer);
      servers.push(server);
      server.listen(join(dir, `${pid}.sock`), resolve);
    });
    await serve(2000001, (s) => s.end('garbage'));
    await serve(2000002, (s) => s.end(JSON.stringify({ v: 1, pid: 2000002, startedAtMs: 1, service: 'x', gauges: {}, metrics: [{ name: 'ok', type: 'counter', labelNames: [], series: [{ labelValues: [], value: 'NaN' }] }] })));
    await serve(2000003, (s) => {
      s.on('error', () => {});
      s.write(Buffer.alloc(2 * 1024 * 1024, 0x20)); // an endless answer, cut at maxBytes
    });
    await serve(2000004, (s) => s.end(JSON.stringify({ v: 1, pid: 42, startedAtMs: 1, service: 'x', gauges: {}, metrics: [] })));
    const stats = await collectHostStats({ dir, maxBytes: 1024 * 1024 });
    expect(stats.processes).toBe(1);
    expect(stats.stats).toEqual({ ok: 1 });
    expect(stats.skipped).toEqual([
      { pid: 2000001, reason: 'invalid', detail: 'not JSON' },
      { pid: 2000002, reason: 'invalid' },
      { pid: 2000003, reason: 'too-large', detail: 'over 1048576 bytes' },
      { pid: 2000004, reason: 'invalid' }, // claims to be another process
    ]);
    expect(stats.ignoredFiles).toBe(2);
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    await exposure.close();
  });

  test('a world-writable directory is refused, for exposing (reported) and for collecting', async () => {
    const events: DiagnosticEvent[] = [];
    const open = join(dir, '..', 'open');
    require('node:fs').mkdirSync(open);
    chmodSync(open, 0o777);
    await expect(collectHostStats({ dir: open })).rejects.toThrow(/world-writable/);
    // We own it: exposing tightens it to 0700 first.
    const exposure = exposeStats({ dir: open, registry: new MetricsRegistry(), onDiagnostic: (e) => events.push(e) });
    expect(statSync(open).mode & 0o777).toBe(0o700);
    await exposure.close();
    expect(events).toEqual([]);
  });

  test('a missing directory gives 0 processes; the handler serves JSON and Prometheus', async () => {
    expect((await collectHostStats({ dir: join(dir, 'none') })).processes).toBe(0);
    const registry = new MetricsRegistry();
    registry.counter('web.requests', { description: 'Requests "served"' }).inc(2);
    registry.histogram('web.latency', { unit: 'ms' }).record(12.5);
    const exposure = exposeStats({ dir, registry });
    const server = http.createServer(hostStatsHandler({ dir }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const get = (path: string, accept?: string): Promise<{ type: string; body: string }> => new Promise((resolve, reject) => {
      http.get({ port, host: '127.0.0.1', path, headers: accept === undefined ? {} : { accept } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ type: String(res.headers['content-type']), body }));
      }).on('error', reject);
    });
    const json = await get('/');
    expect(json.type).toBe('application/json; charset=utf-8');
    expect(JSON.parse(json.body)).toMatchObject({ processes: 1, stats: { web: { requests: 2, latency: { count: 1, sum: 12.5 } } } });
    const prom = await get('/', 'text/plain;version=0.0.4');
    expect(prom.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(prom.body).toContain('# HELP web_requests_total Requests "served"\n# TYPE web_requests_total counter\nweb_requests_total 2\n');
    expect(prom.body).toContain('web_latency_count 1\n');
    expect(prom.body).toContain('tomograph_host_processes 1\n');
    expect((await get('/?format=prometheus')).body).toBe(prom.body);
    // The text passes promtool's parser and linter (when promtool is installed; CI has it).
    if (existsSync('/usr/bin/promtool') || process.env.CI === 'true') {
      const checked = spawnSync('promtool', ['check', 'metrics'], { input: prom.body, encoding: 'utf8' });
      expect(`${checked.status} ${checked.stdout}${checked.stderr}`).toBe('0 ');
    }
    await new Promise((resolve) => server.close(resolve));
    const text = renderHostStatsText(await collectHostStats({ dir }), { title: 'svc' });
    expect(text).toMatch(/^svc: 1 process \(pid \d+\)\n {2}web\n {4}latency \(ms\) +n 1 +mean 12\.5 ms +p50 12\.\d ms/);
    await exposure.close();
  });
});
