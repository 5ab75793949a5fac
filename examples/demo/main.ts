/**
 * `npm run demo`: two traced services and the traces they make together.
 *
 * Starts the inventory service and the shop API in processes of their own (`child_process.fork`),
 * sends the shop a few dozen requests, and prints every finished trace as a tree, whole, across
 * both services: each service sends its finished spans here over IPC (ParentProcessExporter),
 * and TraceAssembler prints a trace once the shop's root span and the inventory's part are in.
 * The shop serves the live trace page at `/_traces` (this process relays the inventory's spans
 * to it) and its metrics on the stats page at `/_stats`. Then it keeps serving, with a request
 * every few seconds, until Ctrl-C.
 *
 *   node dist/examples/demo/main.js [--once] [--port <n>]
 *
 * `--once`: stop after the traffic, shut every service down (which flushes every exporter), and
 * exit 0 if every request got the answer it should and every service stopped cleanly.
 * `--port`: the shop's port (default: any free one; the page's URL is printed).
 *
 * The services find their siblings next to this file (`__dirname`), so the compiled demo runs
 * from any output directory; `tomograph/...` resolve through the package's `exports`.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderTraceTree, type TracerStats } from 'tomograph';
import { isMessage, type MainMessage, type ServiceMessage, type WireSpan } from './protocol';
import { TraceAssembler } from './trace-assembler';
import { DEMO_TRAFFIC, drive, send, summarize } from './traffic';

/** A service process, once it listens. */
interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  readonly url: string;
  /** Set by its `stopped` message. */
  stats?: TracerStats;
  /** Resolves with the exit code (or the signal) when the process has ended. */
  readonly exited: Promise<number | string>;
}

const STOP_TIMEOUT_MS = 15_000;
const TRICKLE_EVERY_MS = 3_000;
const out = (text: string): void => void process.stdout.write(text);

async function main(): Promise<number> {
  const { once, port } = options();
  // From the start: a Ctrl-C during the first requests still stops the services in order.
  let wasInterrupted = false;
  const interrupt = interrupted().then(() => void (wasInterrupted = true));
  const dir = mkdtempSync(join(tmpdir(), 'tomograph-demo-'));
  const services: Service[] = [];
  let traces = 0;
  let crossing = 0;
  const assembler = new TraceAssembler({
    services: ['inventory'],
    onTrace: (spans) => {
      traces++;
      if (new Set(spans.map((span) => span.service)).size > 1) crossing++;
      out(renderTraceTree(spans) + '\n\n');
    },
  });
  let stopping = false;
  let failures = 0;
  let crashed!: () => void;
  const crash = new Promise<void>((resolve) => (crashed = resolve));

  try {
    const inventory = await startService('inventory', { DEMO_DATA_DIR: dir }, services);
    const shop = await startService(
      'shop',
      { DEMO_DATA_DIR: dir, DEMO_PORT: String(port), INVENTORY_URL: inventory.url },
      services,
    );
    for (const service of services) {
      service.child.on('message', (message: unknown) => {
        if (!isMessage<ServiceMessage>(message)) return;
        if (message.type === 'spans') {
          assembler.add(message.spans);
          if (service !== shop) relay(shop, message.spans);
        } else if (message.type === 'stopped') {
          service.stats = message.stats;
        }
      });
      void service.exited.then((code) => {
        if (stopping) return;
        failures++;
        out(`${service.name} exited unexpectedly (${code}); stopping the demo\n`);
        crashed();
        void stop();
      });
    }

    out(
      `tomograph demo (data in ${dir})\n` +
        `  shop        ${shop.url}  pid ${shop.child.pid}\n` +
        `  inventory   ${inventory.url}  pid ${inventory.child.pid}\n` +
        `  trace page  ${shop.url}/_traces\n` +
        `  stats page  ${shop.url}/_stats\n\n`,
    );

    const results = await drive(shop.url, DEMO_TRAFFIC);
    const wrong = results.filter((result) => result.status !== result.request.expectStatus);
    for (const result of wrong) {
      out(
        `unexpected: ${result.request.method} ${result.request.path} answered ${result.status || result.error}, ` +
          `expected ${result.request.expectStatus}\n`,
      );
    }
    failures += wrong.length;
    const summary = summarize(results);

    if (!once && !stopping && !wasInterrupted) {
      out(
        `${summary}\n\nTrace page: ${shop.url}/_traces  (a request every ${TRICKLE_EVERY_MS / 1000} s; Ctrl-C to stop)\n` +
          `Stats page: ${shop.url}/_stats\n\n`,
      );
      let i = 0;
      const trickle = setInterval(() => void send(shop.url, DEMO_TRAFFIC[i++ % DEMO_TRAFFIC.length]), TRICKLE_EVERY_MS);
      await Promise.race([interrupt, crash]);
      clearInterval(trickle);
      out('\nstopping…\n');
    }
    failures += await stop();
    assembler.flush();
    out(`${summary}\n`);
    out(`${traces} traces printed, ${crossing} of them across shop and inventory\n`);
    for (const service of services) out(`${service.name}: ${describeStats(service.stats)}\n`);
    out(`trace page was at ${shop.url}/_traces\n`);
    return failures === 0 ? 0 : 1;
  } catch (error) {
    out(`demo failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    await stop();
    return 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  /** Stops the services, the shop first (it calls the inventory); the number that failed to. */
  async function stop(): Promise<number> {
    stopping = true;
    let failed = 0;
    for (const service of [...services].reverse()) {
      if (!(await stopService(service))) failed++;
    }
    return failed;
  }
}

/** Forks `<name>.js` beside this file and waits until it listens. */
function startService(name: string, env: Record<string, string>, services: Service[]): Promise<Service> {
  const child = fork(join(__dirname, `${name}.js`), [], { env: { ...process.env, ...env } });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown): void => {
      if (!isMessage<ServiceMessage>(message) || message.type !== 'ready') return;
      child.off('message', onMessage);
      const service: Service = { name, child, url: `http://127.0.0.1:${message.port}`, exited };
      services.push(service);
      resolve(service);
    };
    child.on('message', onMessage);
    void exited.then((code) => reject(new Error(`${name} exited (${code}) before it was ready`)));
  });
}

/** Asks a service to stop and waits for it to exit; false when it did not exit cleanly in time. */
async function stopService(service: Service): Promise<boolean> {
  const { child } = service;
  if (child.exitCode === null && child.signalCode === null && child.connected) {
    const message: MainMessage = { type: 'shutdown' };
    child.send(message, (error) => {
      if (error !== null) child.kill();
    });
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS)));
  const code = await Promise.race([service.exited, timeout]);
  clearTimeout(timer);
  if (code === 'timeout') {
    out(`${service.name} did not stop within ${STOP_TIMEOUT_MS / 1000} s; killed\n`);
    child.kill('SIGKILL');
    await service.exited;
    return false;
  }
  return code === 0;
}

/** Passes the inventory's spans to the shop, whose trace page then shows whole traces. */
function relay(shop: Service, spans: WireSpan[]): void {
  if (!shop.child.connected) return;
  const message: MainMessage = { type: 'spans', spans };
  // The shop may be stopping: losing the page's copy then is fine.
  shop.child.send(message, () => undefined);
}

/** Resolves on the first Ctrl-C (SIGINT) or SIGTERM; a second one exits at once. */
function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (): void => {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      process.once('SIGINT', () => process.exit(130));
      resolve();
    };
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  });
}

function describeStats(stats: TracerStats | undefined): string {
  if (stats === undefined) return 'no stats (it did not stop cleanly)';
  const dropped = Object.values(stats.spansDropped).reduce((sum: number, n) => sum + (typeof n === 'number' ? n : 0), 0);
  return `${stats.spansFinished} spans finished, ${stats.spansExported} exported, ${dropped} dropped, ${stats.exportErrors} export errors`;
}

function options(): { once: boolean; port: number } {
  try {
    const { values } = parseArgs({ options: { once: { type: 'boolean' }, port: { type: 'string' } } });
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port ${values.port} is not a port number`);
    return { once: values.once === true, port };
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\nusage: node dist/examples/demo/main.js [--once] [--port <n>]\n`);
    process.exit(2);
  }
}

void main().then((code) => {
  process.exitCode = code;
});
