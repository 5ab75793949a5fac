import { type ChildProcess, execFile, fork } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectHostStats } from 'tomograph/host-stats';
import { buildDemo, type DemoBuild } from '../helpers/demo-build';

const CHILD = join(__dirname, '..', 'fixtures', 'host-stats-child.js');
const CLUSTER = join(__dirname, '..', 'fixtures', 'host-stats-cluster.js');

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode as number, body }));
    }).on('error', reject);
  });
}

/** One sample's value from Prometheus text. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  if (line === undefined) throw new Error(`no sample ${series} in:\n${text}`);
  return Number(line.slice(series.length + 1));
}

function valuesFor(i: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < 1000; k++) out.push(10 ** i * (1 + (9 * k) / 999));
  return out;
}

function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

interface Child {
  proc: ChildProcess;
  pid: number;
  index: number;
  exited: Promise<void>;
}

function next(proc: ChildProcess, type: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const on = (message: Record<string, unknown>): void => {
      if (message?.type !== type) return;
      proc.off('message', on);
      resolve(message);
    };
    proc.on('message', on);
  });
}

// One private build of the package for every child of this file.
let build: DemoBuild;
beforeAll(async () => {
  build = await buildDemo();
}, 180000);
afterAll(() => build?.remove());

describe('host-wide stats across real processes', () => {
  let dir: string;
  let children: Child[] = [];


  beforeEach(async () => {
    dir = join(mkdtempSync(join(tmpdir(), `tomograph-hsp-${process.pid}-`)), 'svc');
    children = await Promise.all([0, 1, 2, 3].map(async (index) => {
      const proc = fork(CHILD, [], { env: { ...process.env, DIST: join(build.root, 'dist'), DIR: dir, INDEX: String(index) }, stdio: 'inherit' });
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      const ready = await next(proc, 'ready');
      expect(ready.ok).toBe(true);
      return { proc, pid: proc.pid as number, index, exited };
    }));
  });

  afterEach(async () => {
    for (const child of children) {
      if (child.proc.exitCode === null && child.proc.signalCode === null) {
        child.proc.kill('SIGCONT');
        child.proc.kill('SIGKILL');
      }
    }
    await Promise.all(children.map((c) => c.exited));
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });

  test('four processes merge: counters sum, gauges per rule, meters sum, histograms merge truly', async () => {
    const stats = await collectHostStats({ dir });
    expect(stats.processes).toBe(4);
    expect(stats.pids).toEqual(children.map((c) => c.pid).sort((a, b) => a - b));
    const tree = stats.stats as Record<string, Record<string, unknown>>;
    expect(tree.jobs.done).toBe(100 + 200 + 300 + 400);
    expect(tree.jobs.by_queue).toEqual({ even: 2, odd: 2 });
    expect(tree.pool.limit).toBe(50);
    expect(tree.queue.length).toBe(1 + 2 + 3 + 4);
    expect(tree.heap.mb).toEqual(Object.fromEntries(children.map((c) => [String(c.pid), 10 + c.index])));
    expect((tree.jobs.rate as { count: number }).count).toBe(40);
    const latency = (tree.jobs as { latency: Record<string, number> }).latency;
    const all = [0, 1, 2, 3].flatMap(valuesFor);
    expect(latency.count).toBe(4000);
    expect(latency.min).toBe(1);
    expect(latency.max).toBe(10000);
    for (const [key, q] of [['p50', 0.5], ['p75', 0.75], ['p95', 0.95], ['p99', 0.99], ['p999', 0.999]] as const) {
      const exact = exactQuantile(all, q);
      expect(Math.abs(latency[key] - exact) / exact).toBeLessThanOrEqual(0.01);
    }
  });

  test('SIGKILL: the dead process socket is removed; a normal exit keeps its totals', async () => {
    const [killed, leaving] = children;
    killed.proc.kill('SIGKILL');
    await killed.exited;
    const socket = join(dir, `${killed.pid}.sock`);
    expect(existsSync(socket)).toBe(true); // nobody removed it: the process had no chance
    const afterKill = await collectHostStats({ dir });
    expect(afterKill.removedSockets).toBe(1);
    expect(existsSync(socket)).toBe(false);
    expect(afterKill.processes).toBe(3);
    expect((afterKill.stats as { jobs: { done: number } }).jobs.done).toBe(900); // SIGKILL loses its 100

    leaving.proc.send('inc');
    await next(leaving.proc, 'inced');
    leaving.proc.send('exit');
    await leaving.exited;
    expect(existsSync(join(dir, `${leaving.pid}.sock`))).toBe(false);
    const afterExit = await collectHostStats({ dir });
    expect(afterExit.processes).toBe(2);
    expect(afterExit.retiredProcesses).toBe(1);
    // 201 from the process that exited normally stays in the host total: rate() sees no drop.
    expect((afterExit.stats as { jobs: { done: number } }).jobs.done).toBe(901);
    expect((afterExit.stats as { jobs: { latency: { count: number } } }).jobs.latency.count).toBe(3000);
    // Its gauges left with it.
    expect((afterExit.stats as { queue: { length: number } }).queue.length).toBe(3 + 4);
  });

  test('SIGSTOP: a hung process is skipped after timeoutMs and reported; it counts again once resumed', async () => {
    const stopped = children[2];
    stopped.proc.kill('SIGSTOP');
    const started = Date.now();
    const during = await collectHostStats({ dir, timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(during.processes).toBe(3);
    expect(during.skipped).toEqual([{ pid: stopped.pid, reason: 'timeout', detail: 'no answer in 300 ms' }]);
    expect((during.stats as { jobs: { done: number } }).jobs.done).toBe(1000 - 300);
    expect(existsSync(join(dir, `${stopped.pid}.sock`))).toBe(true); // hung is not dead
    stopped.proc.kill('SIGCONT');
    const after = await collectHostStats({ dir, timeoutMs: 5000 });
    expect(after.processes).toBe(4);
    expect(after.skipped).toEqual([]);
  });

  test('tomograph-stats prints the merged tree (text, json, prometheus) from the built bin', async () => {
    const bin = join(build.root, 'dist', 'bin', 'tomograph-stats.js');
    const run = (...args: string[]): Promise<string> => new Promise((resolve, reject) => {
      execFile(process.execPath, [bin, ...args], (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(stdout)));
    });
    const text = await run('--dir', dir);
    const pids = children.map((c) => c.pid).sort((a, b) => a - b);
    expect(text).toContain(`${dir}: 4 processes (pid ${pids.join(', ')})\n`);
    expect(text).toMatch(/\n {2}jobs\n/);
    expect(text).toMatch(/\n {4}done +1,000\n/);
    expect(text).toMatch(/\n {4}latency \(ms\) +n 4,000 +mean [\d.]+ s +p50 [\d.]+ ms +p95 [\d.]+ s +p99 [\d.]+ s +max 10 s\n/);
    const json = JSON.parse(await run('--dir', dir, '--format', 'json'));
    expect(json).toMatchObject({ processes: 4, stats: { jobs: { done: 1000 } } });
    const prom = await run('--dir', dir, '--format', 'prometheus');
    expect(sample(prom, 'jobs_done_total')).toBe(1000);
    await expect(run('--format', 'yaml')).rejects.toThrow(/--format must be json, text or prometheus/);
  });
});

describe('a Node cluster: the primary serves its workers merged in one scrape', () => {
  let dir: string;
  let primary: ChildProcess;
  let primaryExited: Promise<void>;

  afterAll(async () => {
    if (primary !== undefined && primary.exitCode === null) {
      primary.send('stop');
      await primaryExited;
    }
    if (dir !== undefined) rmSync(join(dir, '..'), { recursive: true, force: true });
  });

  test('gauges not multiplied, percentiles merged, a silent worker skipped, an exited worker totals kept', async () => {
    dir = join(mkdtempSync(join(tmpdir(), `tomograph-hsc-${process.pid}-`)), 'svc');
    primary = fork(CLUSTER, [], { env: { ...process.env, DIST: join(build.root, 'dist'), DIR: dir, WORKERS: '3' }, stdio: 'inherit' });
    primaryExited = new Promise((resolve) => primary.once('exit', () => resolve()));
    const { port, workers } = (await next(primary, 'listening')) as { port: number; workers: number[] };

    const scrape = await get(port, '/?format=prometheus');
    expect(scrape.status).toBe(200);
    expect(sample(scrape.body, 'tomograph_host_processes')).toBe(3);
    expect(sample(scrape.body, 'http_requests_total')).toBe(1000 + 2000 + 3000);
    expect(sample(scrape.body, 'config_max_connections')).toBe(200); // prom-client would say 600
    expect(sample(scrape.body, 'connections_open')).toBe(15);
    const all = [
      ...Array.from({ length: 1000 }, (_, k) => (k + 1) / 100),
      ...Array.from({ length: 2000 }, (_, k) => 1000 + (k % 1000) + 1),
    ];
    for (const q of [0.5, 0.99]) {
      const exact = exactQuantile(all, q);
      expect(Math.abs(sample(scrape.body, `http_latency{quantile="${q}"}`) - exact) / exact).toBeLessThanOrEqual(0.01);
    }

    const exited = next(primary, 'worker-exited');
    primary.send({ cmd: 'exit-worker', pid: workers[0] });
    expect((await exited).pid).toBe(workers[0]);
    const afterExit = await get(port, '/?format=prometheus');
    expect(sample(afterExit.body, 'tomograph_host_processes')).toBe(2);
    // The exited worker's 1000 (or whichever it had) stay: the host counter never goes down.
    expect(sample(afterExit.body, 'http_requests_total')).toBe(6000);
    expect(sample(afterExit.body, 'http_latency_count')).toBe(3000);

    process.kill(workers[1], 'SIGSTOP');
    try {
      const silent = await get(port, '/');
      expect(silent.status).toBe(200);
      const json = JSON.parse(silent.body);
      expect(json.processes).toBe(1);
      expect(json.skipped).toEqual([{ pid: workers[1], reason: 'timeout', detail: 'no answer in 300 ms' }]);
    } finally {
      process.kill(workers[1], 'SIGCONT');
    }
  }, 60000);
});

describe('GraphiteExporter never keeps the process alive', () => {
  test('a process with an exporter to an unreachable carbon exits by itself; shutdown() returns by its deadline', async () => {
    const script = `
      const { GraphiteExporter } = require(${JSON.stringify(join(build.root, 'dist', 'exporters', 'graphite.js'))});
      const registry = { snapshot: () => ({ a: 1 }) };
      // Nothing listens on port 1; the first exporter is never shut down, the second is.
      const idle = new GraphiteExporter({ port: 1, registry, intervalMs: 1000, onDiagnostic: () => {} });
      idle.push();
      const closing = new GraphiteExporter({ port: 1, registry, shutdownTimeoutMs: 200, onDiagnostic: () => {} });
      const started = Date.now();
      closing.shutdown().then(() => console.log('shutdown ' + (Date.now() - started < 1500)));
    `;
    const started = Date.now();
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['-e', script], { timeout: 20000 }, (error, stdout, stderr) => (error ? reject(new Error(stderr || error.message)) : resolve(stdout)));
    });
    expect(out).toBe('shutdown true\n');
    expect(Date.now() - started).toBeLessThan(10000);
  });

  test('shutdown() as the last thing a script does still delivers every buffered line, then the process exits', async () => {
    let lines = 0;
    let ended: () => void = () => {};
    const endedPromise = new Promise<void>((resolve) => (ended = resolve));
    const server = net.createServer((socket) => {
      socket.on('data', (data: Buffer) => {
        for (const byte of data) if (byte === 10) lines++;
      });
      socket.on('end', () => ended());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const script = `
      const { GraphiteExporter } = require(${JSON.stringify(join(build.root, 'dist', 'exporters', 'graphite.js'))});
      const tree = {};
      for (let i = 0; i < 20000; i++) tree['m' + i] = i;
      new GraphiteExporter({ port: ${(server.address() as net.AddressInfo).port}, registry: { snapshot: () => tree }, maxBufferedLines: 100000 }).shutdown();
    `;
    await new Promise<void>((resolve, reject) => {
      execFile(process.execPath, ['-e', script], { timeout: 20000 }, (error, _stdout, stderr) => (error ? reject(new Error(stderr || error.message)) : resolve()));
    });
    await endedPromise;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(lines).toBe(20000);
  });
});
