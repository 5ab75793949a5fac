import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MessagePort } from 'node:worker_threads';
import type { DiagnosticEvent } from '../../lib/types';
import { type BuiltPackage, buildPackage } from '../helpers/built-package';
import { runUntilExit } from '../helpers/child-exit';
import { StatsdDaemon } from '../helpers/statsd-daemon';
import { ZipkinCollector } from '../helpers/zipkin-collector';

// Export in a worker thread (tomograph/worker, exportIn: 'worker'), end to end: the worker runs
// from a private build of the package (a worker thread cannot load the TypeScript sources), and
// spans go to the real Zipkin collector and the real statsd daemon.

type Entry = typeof import('../../index');
type WorkerModule = typeof import('../../exporters/worker');
type ZipkinModule = typeof import('../../exporters/zipkin');
type StatsdModule = typeof import('../../exporters/statsd');
type MetricsModule = typeof import('../../lib/metrics');

const CHILD = join(__dirname, '..', 'helpers', 'worker-export-child.js');
const EXIT_LIMIT_MS = 15000;

let built: BuiltPackage | undefined;
let dist: string;
let entry: Entry;
let workerModule: WorkerModule;
let zipkinModule: ZipkinModule;
let statsdModule: StatsdModule;
let metricsModule: MetricsModule;
const collectors: ZipkinCollector[] = [];
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  // The package's own build, beside a link to the repository's node_modules, so it (and its
  // worker thread) finds undici and hot-shots as an installed package would.
  built = await buildPackage();
  dist = join(built.root, 'dist');
  /* eslint-disable @typescript-eslint/no-require-imports */
  entry = require(join(dist, 'index.js')) as Entry;
  workerModule = require(join(dist, 'exporters/worker.js')) as WorkerModule;
  zipkinModule = require(join(dist, 'exporters/zipkin.js')) as ZipkinModule;
  statsdModule = require(join(dist, 'exporters/statsd.js')) as StatsdModule;
  metricsModule = require(join(dist, 'lib/metrics/index.js')) as MetricsModule;
  /* eslint-enable @typescript-eslint/no-require-imports */
}, 180000);

afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

afterAll(async () => {
  await Promise.all(collectors.map((collector) => collector.stop()));
  built?.remove();
});

async function collector(): Promise<ZipkinCollector> {
  const started = await ZipkinCollector.start();
  collectors.push(started);
  return started;
}

type TracerOptions = ConstructorParameters<Entry['Tracer']>[0];

/** A tracer of the built package on a manual clock with sequential ids, shut down after the test. */
function tracer(options: TracerOptions): { tracer: InstanceType<Entry['Tracer']>; clock: InstanceType<Entry['ManualClock']> } {
  const clock = new entry.ManualClock();
  const made = new entry.Tracer({
    serviceName: 'shop', clock, idGenerator: sequentialIds(), host: { address: '10.1.2.3', port: 8080 }, scheduledDelayMs: 60000, ...options,
  });
  closers.push(() => made.shutdown());
  return { tracer: made, clock };
}

function sequentialIds(): { traceId(): string; spanId(): string } {
  let next = 1;
  return {
    traceId: () => (next++).toString(16).padStart(32, '0'),
    spanId: () => (next++).toString(16).padStart(16, '0'),
  };
}

/** The same requests, whatever the exporter: a renamed root, children (one failing), notes, tags. */
async function requests(t: InstanceType<Entry['Tracer']>, clock: InstanceType<Entry['ManualClock']>): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const root = t.startSpan('GET', { kind: 'SERVER' });
    t.trace('select', (span) => {
      span.annotate('cache miss').tag('db.rows', i).tag('db.statement', 'select * from orders where id = ?');
      clock.advance(2000 + i);
    }, { parent: root, kind: 'CLIENT', remote: { service: 'postgres', address: '127.0.0.1', port: 5432 } });
    // The children leave before the root ends (and before it learns its route).
    await t.flush();
    try {
      t.trace('render', () => {
        clock.advance(700);
        throw new Error(`template ${i} missing ☃`);
      }, { parent: root });
    } catch {
      // The request goes on.
    }
    root.updateName('GET /orders/:id').tag('http.status_code', 200).tag('ok', true);
    clock.advance(1000);
    root.end();
  }
  await t.flush();
}

function byId(spans: Record<string, unknown>[]): Record<string, unknown>[] {
  return [...spans].sort((a, b) => String(a.id).localeCompare(String(b.id)));
}

describe('export in a worker thread', () => {
  it('sends Zipkin exactly the JSON that main-thread export sends', async () => {
    const [onMain, inWorker] = await Promise.all([collector(), collector()]);
    const resource = { 'service.version': '1.2.3' };
    const main = tracer({ exporters: [new zipkinModule.ZipkinExporter({ url: onMain.url })], resource });
    const worker = tracer({ exportIn: 'worker', exporters: [{ zipkin: { url: inWorker.url } }], resource });
    await requests(main.tracer, main.clock);
    await requests(worker.tracer, worker.clock);
    await Promise.all([onMain.waitForSpans(9), inWorker.waitForSpans(9)]);
    expect(inWorker.problems).toEqual([]);
    expect(byId(inWorker.spans)).toEqual(byId(onMain.spans));
    expect(inWorker.spans).toHaveLength(9);
    expect(worker.tracer.stats().spansExported).toBe(9);
    expect(worker.tracer.stats().exporters.map((e) => e.name)).toEqual(['WorkerExporter#0']);
  });

  it('sends StatsD the same metrics, children named after their root\'s final name', async () => {
    const daemon = await StatsdDaemon.start();
    closers.push(() => daemon.close());
    const options = { port: daemon.port, hostname: 'h' };
    const main = tracer({ exporters: [new statsdModule.StatsdExporter({ ...options, prefix: 'main' })] });
    const worker = tracer({ exportIn: 'worker', exporters: [{ statsd: { ...options, prefix: 'wrk' } }] });
    await requests(main.tracer, main.clock);
    await requests(worker.tracer, worker.clock);
    const mainLines = await daemon.until('main-thread lines', () => daemon.linesFor('main.').length >= 12 && daemon.linesFor('main.'));
    const workerLines = await daemon.until('worker lines', () => daemon.linesFor('wrk.').length >= mainLines.length && daemon.linesFor('wrk.'));
    const strip = (lines: string[]) => lines.map((line) => line.replace(/^[a-z]+\./, '')).sort();
    expect(strip(workerLines)).toEqual(strip(mainLines));
    expect(workerLines).toContain('wrk.shop.h.GET_orders_id.children.select.ok:2|ms');
    expect(workerLines.some((line) => line.includes('.GET.'))).toBe(false);
  });

  it('carries metrics updates to the worker\'s exporters, each filtering by its own level, as StatsD lines the main thread would send', async () => {
    const daemon = await StatsdDaemon.start();
    closers.push(() => daemon.close());
    const options = { port: daemon.port, service: 'shop' };
    const main = new statsdModule.StatsdExporter({ ...options, prefix: 'main' });
    const inWorker = new workerModule.WorkerExporter({
      exporters: [{ statsd: { ...options, prefix: 'wrk' } }, { statsd: { ...options, prefix: 'warn', level: 'warn' } }],
    });
    const registry = new metricsModule.MetricsRegistry();
    registry.configure({ exporters: [main, inWorker], intervalMs: 3_600_000 });
    closers.push(() => registry.shutdown());
    registry.counter('web.requests', { labels: ['status', 'city'] }).labels({ status: 200, city: 'Zürich ☃' }).inc(7);
    registry.gauge('queue.depth').set(-3.5);
    registry.meter('jobs.done').mark(3);
    const latency = registry.histogram('web.latency', { unit: 'ms' });
    for (const value of [1, 2.5, 40]) latency.record(value);
    registry.histogram('payload', { unit: 'bytes' }).record(1024);
    registry.counter('alerts', { level: 'error' }).inc(2);
    await registry.flush();
    const mainLines = await daemon.until('main-thread metrics', () => daemon.linesFor('main.').length >= 9 && daemon.linesFor('main.'));
    const workerLines = await daemon.until('worker metrics', () => daemon.linesFor('wrk.').length >= mainLines.length && daemon.linesFor('wrk.'));
    const strip = (lines: string[]) => lines.map((line) => line.replace(/^[a-z]+\./, '')).sort();
    expect(strip(workerLines)).toEqual(strip(mainLines));
    expect(workerLines).toContain('wrk.shop.alerts:2|c');
    expect(workerLines.some((line) => line.startsWith('wrk.shop.web.latency:40|ms'))).toBe(true);
    // The 'warn' exporter in the same worker got the error-level counter only.
    await daemon.until('warn-level metrics', () => daemon.linesFor('warn.').length > 0);
    expect(daemon.linesFor('warn.')).toEqual(['warn.shop.alerts:2|c']);
    expect(registry.stats()).toMatchObject({ updatesExported: 2, exportErrors: 0 });
  });

  it('one WorkerExporter serves the tracer and the metrics: shutting both down in one turn delivers the last spans and the last update', async () => {
    const daemon = await StatsdDaemon.start();
    closers.push(() => daemon.close());
    const shared = new workerModule.WorkerExporter({ exporters: [{ statsd: { port: daemon.port, hostname: 'h', prefix: 'both', service: 'shop' } }] });
    const { tracer: t } = tracer({ exporters: [shared] });
    const registry = new metricsModule.MetricsRegistry();
    registry.configure({ exporters: [shared], intervalMs: 3_600_000 });
    t.trace('checkout', () => undefined);
    registry.counter('orders').inc(4);
    // What tomograph's shutdown() does: both at once.
    await Promise.all([t.shutdown(), registry.shutdown()]);
    await daemon.until('the span and the metric', () => daemon.linesFor('both.').length >= 2);
    expect(daemon.linesFor('both.').sort()).toEqual(['both.shop.h.checkout.ok:0.001|ms', 'both.shop.orders:4|c']);
    expect(t.stats().spansExported).toBe(1);
    expect(registry.stats().updatesExported).toBe(1);
  });

  it('crosses with one postMessage per batch, never one per span', async () => {
    const inWorker = await collector();
    const posts: unknown[][] = [];
    const original = MessagePort.prototype.postMessage;
    const spy = jest.spyOn(MessagePort.prototype, 'postMessage').mockImplementation(function (this: MessagePort, ...args: unknown[]) {
      posts.push(args);
      return (original as (...a: unknown[]) => void).apply(this, args);
    });
    try {
      const { tracer: t } = tracer({ exportIn: 'worker', exporters: [{ zipkin: { url: inWorker.url } }], maxBatchSize: 100, maxQueueSize: 2000 });
      for (let i = 0; i < 1000; i++) t.trace(`op ${i}`, (span) => void span.tag('i', i));
      await t.flush();
      await inWorker.waitForSpans(1000);
    } finally {
      spy.mockRestore();
    }
    const batches = posts.filter(([message]) => (message as { type?: string }).type === 'batch');
    expect(batches).toHaveLength(10);
    for (const [message, transfer] of batches) {
      expect((message as { count: number }).count).toBe(100);
      // The numbers' buffer is transferred, the batch's text is one string.
      expect(transfer).toHaveLength(1);
      expect(typeof (message as { text: unknown }).text).toBe('string');
    }
    // Besides the batches, tomograph posts only its attach and flush messages.
    const others = posts.map(([message]) => (message as { type?: string }).type).filter((type) => type !== 'batch');
    expect(others.filter((type) => type === 'attach' || type === 'flush' || type === 'shutdown')).toEqual(['attach', 'flush']);
  });

  it('restarts a worker that was terminated, counts the spans it held as dropped, and sends later spans', async () => {
    const inWorker = await collector();
    inWorker.answer = 'hang';
    const exited = deferred<DiagnosticEvent>();
    const exporter = new workerModule.WorkerExporter({ exporters: [{ zipkin: { url: inWorker.url, maxRetries: 0 } }] });
    const { tracer: t } = tracer({
      exporters: [exporter],
      onDiagnostic: (event) => event.code === 'TOMOGRAPH_EXPORT_WORKER_EXITED' && exited.resolve(event),
    });
    for (let i = 0; i < 5; i++) t.trace(`held ${i}`, () => undefined);
    const flushed = t.flush();
    await inWorker.nextPost();
    const first = exporter.thread;
    await first?.terminate();
    const event = await exited.promise;
    expect(event.detail).toMatchObject({ spans: 5 });
    await flushed;
    expect(t.stats().spansDropped.exportFailed).toBe(5);
    expect(exporter.thread).toBeDefined();
    expect(exporter.thread).not.toBe(first);

    inWorker.answer = 202;
    for (let i = 0; i < 3; i++) t.trace(`after ${i}`, () => undefined);
    await t.flush();
    await inWorker.waitForSpans(3);
    expect(inWorker.spans.map((span) => span.name)).toEqual(['after 0', 'after 1', 'after 2']);
    expect(t.stats().spansExported).toBe(3);
  });

  it('restarts a worker that exited by itself (process.exit inside it)', async () => {
    const inWorker = await collector();
    const exited = deferred<DiagnosticEvent>();
    const exporter = new workerModule.WorkerExporter({ exporters: [{ zipkin: { url: inWorker.url } }] });
    const { tracer: t } = tracer({
      exporters: [exporter],
      onDiagnostic: (event) => event.code === 'TOMOGRAPH_EXPORT_WORKER_EXITED' && exited.resolve(event),
    });
    // The test hook: the worker calls process.exit(3) as a crash in an exporter could.
    (exporter as unknown as { post(message: unknown): boolean }).post({ type: 'exit', code: 3 });
    expect((await exited.promise).detail).toMatchObject({ exitCode: 3, spans: 0 });
    t.trace('after the crash', () => undefined);
    await t.flush();
    await inWorker.waitForSpans(1);
    expect(t.stats().spansExported).toBe(1);
  });

  it('flush() and shutdown() drain the worker within exportTimeoutMs', async () => {
    const inWorker = await collector();
    const { tracer: t } = tracer({ exportIn: 'worker', exporters: [{ zipkin: { url: inWorker.url } }], maxBatchSize: 256, exportTimeoutMs: 5000 });
    for (let i = 0; i < 2000; i++) t.trace(`op ${i}`, () => undefined);
    const started = Date.now();
    await t.flush();
    expect(inWorker.spans).toHaveLength(2000);
    for (let i = 0; i < 300; i++) t.trace(`late ${i}`, () => undefined);
    await t.shutdown();
    expect(Date.now() - started).toBeLessThan(5000 * 2);
    expect(inWorker.spans).toHaveLength(2300);
    expect(t.stats().spansExported).toBe(2300);
  });

  it('shutdown() gives up on a hanging collector at its deadline, counting what the worker held', async () => {
    const inWorker = await collector();
    inWorker.answer = 'hang';
    const exporter = new workerModule.WorkerExporter({ exporters: [{ zipkin: { url: inWorker.url, maxRetries: 0 } }], exportTimeoutMs: 1500 });
    const diagnostics: string[] = [];
    const { tracer: t } = tracer({ exporters: [exporter], exportTimeoutMs: 1500, onDiagnostic: (event) => diagnostics.push(event.code) });
    for (let i = 0; i < 10; i++) t.trace(`op ${i}`, () => undefined);
    const started = Date.now();
    await t.shutdown();
    expect(Date.now() - started).toBeLessThan(1500 + 1000);
    const dropped = t.stats().spansDropped;
    expect(dropped.exportFailed + dropped.shutdownTimeout).toBe(10);
    expect(diagnostics.length).toBeGreaterThan(0);
    await new Promise<void>((resolve) => {
      const check = (): void => (exporter.thread === undefined ? resolve() : void setTimeout(check, 20));
      check();
    });
  });

  it('a process exporting in a worker exits by itself, with its spans delivered', async () => {
    const inWorker = await collector();
    const result = await runUntilExit(CHILD, { ...process.env, DIST: dist, ZIPKIN_URL: inWorker.url, SPANS: '50' }, EXIT_LIMIT_MS);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ spansExported: 50 });
    expect(inWorker.spans).toHaveLength(50);
  });

  it('refuses, at configure, what cannot run in the worker', () => {
    const configure = (options: TracerOptions) => () => new entry.Tracer({ serviceName: 'shop', ...options });
    const invalid = expect.objectContaining({ code: 'TOMOGRAPH_ERR_INVALID_OPTION' });
    expect(configure({ exportIn: 'worker', exporters: [new zipkinModule.ZipkinExporter({ url: 'http://127.0.0.1:1/' })] }))
      .toThrow(/exporters\[0\] is an exporter object, which cannot run in the export worker/);
    expect(configure({ exportIn: 'worker', exporters: [{ zipkin: { url: 'not a url' } }] })).toThrow(/ZipkinExporter: url/);
    expect(configure({ exportIn: 'worker', exporters: [{ zipkin: { url: 'not a url' } }] })).toThrow(invalid);
    expect(configure({ exportIn: 'worker', exporters: [{ statsd: { lookup: () => undefined } }] as never }))
      .toThrow(/exporters\[0\]\.statsd\.lookup is a function/);
    expect(configure({ exportIn: 'worker', exporters: [{ module: './no-such-exporter' }] })).toThrow(/cannot be found/);
    expect(configure({ exportIn: 'elsewhere' as never })).toThrow(/exportIn must be 'main' or 'worker'/);
    expect(configure({ exporters: [{ zipkin: { url: 'http://127.0.0.1:1/' } }] })).toThrow(/needs exportIn: 'worker'/);
  });

  (process.platform === 'linux' ? it : it.skip)('runs at a lower priority than the app (Linux), leaving the app\'s own as it was', async () => {
    const niceOf = (task: string): number => {
      const stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
      // Fields after the command's closing parenthesis: state is field 3, nice field 19.
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    };
    const appBefore = niceOf(String(process.pid));
    const tasksBefore = new Set(readdirSync('/proc/self/task'));
    const sink = await collector();
    // The constructor returns once the worker has made its exporters, after it set its priority.
    const exporter = new workerModule.WorkerExporter({ exporters: [{ zipkin: { url: sink.url } }], priority: 15 });
    closers.push(() => exporter.shutdown());
    const started = readdirSync('/proc/self/task').filter((task) => !tasksBefore.has(task)).map(niceOf);
    expect(started).toContain(15);
    expect(niceOf(String(process.pid))).toBe(appBefore);
    for (const priority of [-1, 20, 1.5, '10']) {
      expect(() => new workerModule.WorkerExporter({ exporters: [{ zipkin: { url: sink.url } }], priority: priority as number }))
        .toThrow(/priority must be an integer nice value from 0 to 19/);
    }
  });

  it('takes a WorkerExporter as it is, beside exporters described by data', async () => {
    const [one, two] = await Promise.all([collector(), collector()]);
    const ready = new workerModule.WorkerExporter({ exporters: [{ zipkin: { url: one.url } }] });
    const { tracer: t } = tracer({ exportIn: 'worker', exporters: [ready, { zipkin: { url: two.url } }] });
    expect(t.stats().exporters.map((e) => e.name)).toEqual(['WorkerExporter#0', 'WorkerExporter#1']);
    t.trace('both', () => undefined);
    await t.flush();
    await Promise.all([one.waitForSpans(1), two.waitForSpans(1)]);
    expect(t.stats().spansExported).toBe(1);
  });
});

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
