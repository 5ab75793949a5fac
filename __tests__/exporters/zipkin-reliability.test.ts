/**
 * The ZipkinExporter under a Tracer in a real child process (compiled to a private temp
 * directory, so test files running in parallel never share a build): a collector outage with
 * a steady producer, recovery on the same port, and shutdown that lets the process exit.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ZipkinCollector } from '../helpers/zipkin-collector';

const ROOT = path.resolve(__dirname, '../..');
const CHILD = path.join(ROOT, '__tests__/fixtures/zipkin-child.js');
let dist: string;

beforeAll(async () => {
  dist = mkdtempSync(path.join(tmpdir(), 'tomograph-zipkin-'));
  const tsc = require.resolve('typescript/bin/tsc');
  // Only the files the child needs, with the project's compiler settings. tsc emits even when
  // someone else's work in progress has a type error, so the check is that the output exists.
  await new Promise<void>((resolve) => {
    execFile(
      process.execPath,
      [tsc, '--outDir', dist, '--rootDir', ROOT, '--module', 'commonjs', '--target', 'ES2022', '--moduleResolution', 'node',
        '--strict', '--esModuleInterop', '--skipLibCheck', '--types', 'node',
        path.join(ROOT, 'lib/index.ts'), path.join(ROOT, 'exporters/zipkin.ts')],
      { cwd: ROOT },
      () => resolve(),
    );
  });
  for (const file of ['lib/index.js', 'exporters/zipkin.js']) {
    if (!existsSync(path.join(dist, file))) throw new Error(`compiling for the child failed: no ${file}`);
  }
}, 60_000);

afterAll(() => {
  if (dist !== undefined) rmSync(dist, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From spawn to exit, in milliseconds. */
  elapsedMs: number;
  report: Record<string, unknown>;
  stderr: string;
}

/** Runs the child script and resolves when it exits by itself (killed, and failed, after `limitMs`). */
function runChild(
  args: string[],
  options: { ipc?: boolean; limitMs: number; onMessage?: (message: unknown, child: ChildProcess) => void },
): Promise<Run> {
  const started = Date.now();
  const child = spawn(process.execPath, [CHILD, ...args], {
    cwd: ROOT,
    env: { ...process.env, TOMOGRAPH_DIST: dist, NODE_PATH: path.join(ROOT, 'node_modules') },
    stdio: options.ipc === true ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  if (options.onMessage !== undefined) child.on('message', (message) => options.onMessage?.(message, child));
  const killer = setTimeout(() => child.kill('SIGKILL'), options.limitMs);
  return new Promise<Run>((resolve) => {
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      const line = stdout.trim().split('\n').pop() ?? '';
      let report: Record<string, unknown> = {};
      try {
        report = JSON.parse(line) as Record<string, unknown>;
      } catch {
        report = { unparsed: stdout };
      }
      // Streams may still hold the last bytes at 'exit'; the report line is written well before.
      resolve({ code, signal, elapsedMs: Date.now() - started, report, stderr });
    });
  });
}

interface Stats {
  spansFinished: number;
  spansExported: number;
  spansQueued: number;
  spansDropped: Record<string, number>;
}

const dropped = (stats: Stats) => Object.values(stats.spansDropped).reduce((a, b) => a + b, 0);

let collector: ZipkinCollector;
beforeEach(async () => {
  collector = await ZipkinCollector.start();
});
afterEach(async () => {
  await collector.stop();
});

it('rides out a collector outage within its bounds, then resumes on the same tracer', async () => {
  await collector.stop();
  const run = await runChild(['outage', collector.url], {
    ipc: true,
    limitMs: 60_000,
    onMessage: (message, child) => {
      if ((message as { type?: string }).type === 'restart') void collector.restart().then(() => child.send('restarted'));
    },
  });
  const report = run.report as {
    samples: number; violations: string[]; maxQueued: number; maxListeners: number; unhandled: string[];
    warnings: string[]; afterRestart: string[]; diagnostics: Record<string, number>;
    listenerSnapshots: { max: number; detail: Record<string, number>; sockets: number }[];
    down: { stats: Stats; zipkin: { posts: number; spansSent: number } }; up: { stats: Stats };
  };
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0); // exited by itself, after disconnecting
  expect(report.samples).toBeGreaterThan(300);
  expect(report.violations).toEqual([]);
  expect(report.unhandled).toEqual([]);
  expect(report.warnings.filter((w) => w.includes('MaxListenersExceeded'))).toEqual([]);

  // While down: the queue filled to its bound and dropped the rest, every span accounted for.
  const down = report.down.stats;
  expect(report.maxQueued).toBeLessThanOrEqual(256);
  expect(down.spansFinished).toBe(9000);
  expect(down.spansExported).toBe(0);
  expect(down.spansDropped.queueFull).toBeGreaterThan(0);
  expect(down.spansDropped.exportFailed).toBeGreaterThan(0);
  expect(down.spansFinished).toBe(down.spansExported + down.spansQueued + dropped(down));
  expect(report.down.zipkin.posts).toBeGreaterThan(3);
  expect(report.diagnostics.TOMOGRAPH_EXPORT_FAILED).toBeGreaterThan(0);

  // Back up: everything produced after recovery arrived, exactly once, valid.
  const received = collector.spans.map((s) => s.id as string);
  expect(new Set(received).size).toBe(received.length);
  expect(report.afterRestart).toHaveLength(1200);
  const got = new Set(received);
  expect(report.afterRestart.filter((id) => !got.has(id))).toEqual([]);
  expect(report.up.stats.spansDropped.queueFull).toBe(down.spansDropped.queueFull);
  expect(report.up.stats.spansExported).toBe(received.length);
  expect(collector.problems).toEqual([]);

  // Listeners on sockets stay at what Node's HTTP client itself adds during one request (a leak
  // would grow with the hundreds of posts made), and the pooled socket's are identical between
  // snapshots taken hundreds of spans apart.
  expect(report.maxListeners).toBeLessThanOrEqual(5);
  expect(report.listenerSnapshots).toHaveLength(4);
  const [first, ...rest] = report.listenerSnapshots;
  for (const later of rest) expect(later.detail).toEqual(first.detail);
  expect(collector.connections).toBeLessThanOrEqual(3);
}, 90_000);

it('shutdown() flushes within its deadline and the process exits by itself', async () => {
  const run = await runChild(['shutdown', collector.url, '500'], { limitMs: 20_000 });
  const report = run.report as { shutdownMs: number; ids: string[]; stats: Stats; unhandled: string[] };
  expect(run.signal).toBeNull();
  expect(run.code).toBe(0);
  expect(report.unhandled).toEqual([]);
  expect(report.shutdownMs).toBeLessThan(3000);
  expect(report.stats.spansExported).toBe(500);
  expect(collector.spans.map((s) => s.id).sort()).toEqual([...report.ids].sort());
  expect(collector.problems).toEqual([]);
}, 30_000);

it('exits by itself when the collector is down', async () => {
  await collector.stop();
  const run = await runChild(['shutdown', collector.url, '100'], { limitMs: 20_000 });
  const report = run.report as { shutdownMs: number; stats: Stats; zipkin: { posts: number } };
  expect(run.signal).toBeNull();
  expect(run.code).toBe(0);
  expect(report.zipkin.posts).toBe(3); // one try and maxRetries 2
  expect(report.stats.spansDropped.exportFailed).toBe(100);
  expect(run.elapsedMs).toBeLessThan(10_000);
}, 30_000);

it('exits by itself when the collector hangs', async () => {
  collector.answer = 'hang';
  const run = await runChild(['shutdown', collector.url, '100', '300'], { limitMs: 20_000 });
  const report = run.report as { shutdownMs: number; stats: Stats; zipkin: { posts: number } };
  expect(run.signal).toBeNull();
  expect(run.code).toBe(0);
  expect(report.stats.spansDropped.exportFailed).toBe(100);
  expect(report.shutdownMs).toBeLessThan(3500);
  expect(collector.posts.length).toBe(3);
}, 30_000);

it('shutdown() with a backlog of batches to a collector that accepts and never answers: done within exportTimeoutMs, the rest counted, the process exits', async () => {
  collector.answer = 'hang';
  // 2048 spans in 8 batches; the queue's exportTimeoutMs is 3000, Zipkin's timeoutMs its default.
  // One batch after another, each waiting out its timeout, that was 8 x 3 s.
  const run = await runChild(['shutdown', collector.url, '2048', 'default', '256'], { limitMs: 40_000 });
  const report = run.report as { shutdownMs: number; stats: Stats; unhandled: string[]; uptimeMs: number };
  expect(run.signal).toBeNull();
  expect(run.code).toBe(0);
  expect(report.unhandled).toEqual([]);
  expect(report.shutdownMs).toBeLessThan(4000); // exportTimeoutMs 3000, and a busy machine
  const stats = report.stats;
  expect(stats.spansExported).toBe(0);
  expect(stats.spansQueued).toBe(0);
  expect(stats.spansDropped.shutdownTimeout).toBe(2048);
  expect(stats.spansFinished).toBe(dropped(stats));
  // Zipkin's shutdown() waits 2 s at most for the POST still in flight, then closes its socket:
  // the process ends soon after its report (spawn to exit, less its own uptime at the report).
  expect(run.elapsedMs - report.uptimeMs).toBeLessThan(4000);
}, 60_000);
