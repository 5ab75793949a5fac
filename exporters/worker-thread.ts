/**
 * The export worker's entry (run by `WorkerExporter` in a `worker_threads` Worker, never
 * imported): it makes the exporters its specs describe, then unpacks each batch that arrives and
 * runs every exporter on it, and answers each message once it is done, so the main thread can
 * count the batch as exported or failed.
 */
import { setPriority } from 'node:os';
import { type MessagePort, workerData } from 'node:worker_threads';
import { codes } from '../lib/codes';
import { errorMessage } from '../lib/diagnostics';
import { APP_SERVICE_NAME } from '../lib/env-exporters';
import { isThenable } from '../lib/thenable';
import { forRank, type RankedUpdate } from '../lib/metrics/export-loop';
import { levelRank } from '../lib/metrics/names';
import type { ExporterHost, FinishedSpan } from '../lib/types';
import { BatchUnpacker } from './worker-unpack';
import { unpackMetrics } from './worker-metrics';
import { makeExporters, type ResolvedSpec, type ToMain, type ToWorker, type WorkerSideExporter } from './worker-protocol';

interface StartData {
  readonly specs: readonly ResolvedSpec[];
  readonly exportTimeoutMs: number;
  /** This thread's nice value (Linux). */
  readonly priority: number;
  readonly port: MessagePort;
  /** Set to 1 once the exporters are made (or failed to be), so the main thread can stop waiting. */
  readonly started: Int32Array;
}

const data = workerData as StartData;
const port = data.port;

function send(message: ToMain): void {
  try {
    port.postMessage(message);
  } catch {
    // A detail that cannot be cloned: send the message without it.
    if (message.type === 'diagnostic') port.postMessage({ type: 'diagnostic', code: message.code, message: message.message });
  }
}

// On Linux a nice value belongs to a thread, and setpriority(PRIO_PROCESS, 0) sets the calling
// thread's: this thread yields the core to the app's when both are runnable, and the app's own
// priority is untouched. Elsewhere the call would lower the whole process, so it is not made.
if (process.platform === 'linux' && data.priority > 0) {
  try {
    setPriority(data.priority);
  } catch (error) {
    send({ type: 'diagnostic', code: codes.EXPORT_FAILED, message: `tomograph: the export worker could not lower its priority: ${errorMessage(error)}` });
  }
}

let exporters: { name: string; exporter: WorkerSideExporter }[] = [];
try {
  exporters = makeExporters(data.specs);
  send({ type: 'ready' });
} catch (error) {
  send({ type: 'start-failed', message: errorMessage(error), code: (error as { code?: unknown }).code as string | undefined });
}
Atomics.store(data.started, 0, 1);
Atomics.notify(data.started, 0);

const host: ExporterHost & { resource: Readonly<Record<string, string | number | boolean>> } = {
  report: (code, message, detail) => send({ type: 'diagnostic', code, message, detail }),
  resource: {},
};
const unpacker = new BatchUnpacker();

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'attach':
      host.resource = message.resource;
      for (const { exporter } of exporters) {
        try {
          exporter.attach?.(host);
        } catch (error) {
          host.report('TOMOGRAPH_EXPORT_FAILED', `tomograph: an exporter's attach() threw in the export worker: ${errorMessage(error)}`);
        }
      }
      return;
    case 'batch': {
      let spans: readonly FinishedSpan[];
      try {
        spans = unpacker.unpack(message);
      } catch (error) {
        send({ type: 'done', seq: message.seq, error: `the batch could not be unpacked: ${errorMessage(error)}` });
        return;
      }
      void runAll((exporter) => exporter.export?.(spans), message.seq);
      return;
    }
    case 'metrics': {
      let ranked: RankedUpdate;
      try {
        ranked = unpackMetrics(message);
      } catch (error) {
        send({ type: 'done', seq: message.seq, error: `the metrics update could not be unpacked: ${errorMessage(error)}` });
        return;
      }
      for (const { exporter } of exporters) {
        if (APP_SERVICE_NAME in exporter) (exporter as { [APP_SERVICE_NAME]?: string })[APP_SERVICE_NAME] = message.service;
      }
      // Each exporter here has its own level, as it would have on the main thread.
      void runAll((exporter) => exporter.exportMetrics?.(forRank(ranked, exporter.level === undefined ? 0 : levelRank(exporter.level, 'exporter level'))), message.seq);
      return;
    }
    case 'flush':
      void runAll((exporter) => exporter.flush?.(), message.seq);
      return;
    case 'shutdown':
      void runAll((exporter) => exporter.shutdown?.(), message.seq).then(() => port.close());
      return;
    case 'exit':
      // Test hook: the worker dies as a crash would.
      process.exit(message.code);
  }
});

/**
 * Runs `call` on every exporter at once, each bounded by `exportTimeoutMs`, and answers with
 * the failures (none: the batch or call succeeded everywhere).
 */
async function runAll(call: (exporter: WorkerSideExporter) => unknown, seq: number): Promise<void> {
  const failures = await Promise.all(exporters.map(({ name, exporter }) => runOne(name, () => call(exporter))));
  const failed = failures.filter((failure) => failure !== undefined);
  send({ type: 'done', seq, error: failed.length === 0 ? undefined : failed.join('; ') });
}

async function runOne(name: string, call: () => unknown): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = call();
    if (!isThenable(result)) return undefined;
    await Promise.race([
      result,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`did not finish within ${data.exportTimeoutMs} ms`)), data.exportTimeoutMs);
      }),
    ]);
    return undefined;
  } catch (error) {
    const message = errorMessage(error);
    // Built-in exporters already name themselves ("zipkin: POST … failed").
    return message.toLowerCase().startsWith(`${name}:`) ? message : `${name}: ${message}`;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
