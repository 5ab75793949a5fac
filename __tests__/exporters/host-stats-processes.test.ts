import { type ChildProcess, fork } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectHostStats } from 'tomograph/host-stats';
import { buildDemo, type DemoBuild } from '../helpers/demo-build';

const CHILD = join(__dirname, '..', 'fixtures', 'host-stats-child.js');

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

describe('host-wide stats across real processes', () => {
  let build: DemoBuild;
  let dir: string;
  let children: Child[] = [];

  beforeAll(async () => {
    build = await buildDemo();
  }, 180000);

  afterAll(() => build?.remove());

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
});
