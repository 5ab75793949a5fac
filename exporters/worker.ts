import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { defaultTracer } from '../lib/api';
import { codes } from '../lib/codes';
import { Diagnostics, errorMessage } from '../lib/diagnostics';
import { RUNS_IN_WORKER } from '../lib/env-exporters';
import { EXPORT_RANKED_METRICS, type RankedMetricsExporter, type RankedUpdate } from '../lib/metrics/export-loop';
import type { MetricsUpdate } from '../lib/metrics/types';
import { describeValue, invalidOption } from '../lib/options';
import type { DiagnosticEvent, Exporter, ExporterHost, FinishedSpan } from '../lib/types';
import { packMetrics } from './worker-metrics';
import { BatchPacker } from './worker-pack';
import { type ResolvedSpec, resolveSpecs, type ToMain, type ToWorker, type WorkerExporterSpec } from './worker-protocol';

export type { WorkerExporterSpec } from './worker-protocol';

/** Options for `WorkerExporter`. */
export interface WorkerExporterOptions {
  /** The exporters to run in the worker, described by data (see `WorkerExporterSpec`). Required. */
  exporters: readonly WorkerExporterSpec[];
  /** Longest time one exporter may take over one batch (or a flush) in the worker, in milliseconds. Default 10000. */
  exportTimeoutMs?: number;
  /**
   * How long the constructor waits for the worker to start and make its exporters, so a wrong
   * exporter option throws here, in milliseconds. Past it, the worker carries on starting and a
   * failure is reported through diagnostics instead. Default 5000.
   */
  startTimeoutMs?: number;
  /** Restarts of a worker that died, at most this many a minute; past it, batches fail until the minute is over. Default 10. */
  maxRestartsPerMinute?: number;
  /** Receives this exporter's faults. Default: the tracer's `onDiagnostic` (through `attach`). */
  onDiagnostic?: (event: DiagnosticEvent) => void;
  /**
   * The worker thread's nice value on Linux, 0 (the app's own) to 19 (lowest), so the kernel runs
   * the app's thread first when both want the same core. Default 10: on one shared core at half
   * load it kept the app's event-loop delay at untraced level, where 0 added 2 ms and 19 starved
   * the worker until spans were dropped (BENCHMARKS.md). Ignored elsewhere: there, a priority
   * applies to the whole process.
   */
  priority?: number;
}

interface Pending {
  readonly spans: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

const KNOWN_OPTIONS = new Set(['exporters', 'exportTimeoutMs', 'startTimeoutMs', 'maxRestartsPerMinute', 'onDiagnostic', 'priority']);
/** `os.constants.priority.PRIORITY_BELOW_NORMAL`: see BENCHMARKS.md, "Export in a worker thread", for why. */
const DEFAULT_PRIORITY = 10;
const LOWEST_PRIORITY = 19;
const WORKER_FILE = join(__dirname, 'worker-thread.js');
const MINUTE_MS = 60_000;

/**
 * Runs exporters in a `worker_threads` Worker, off the app's event loop: each batch the tracer
 * hands over is packed into one buffer of numbers (transferred) and one string of the text
 * (`worker-pack.ts`, format in `worker-format.ts`) and crosses with one `postMessage`; the worker
 * unpacks it (`worker-unpack.ts`) and runs its exporters (Zipkin's JSON encoding and POST,
 * StatsD's naming and sends). The batch counts as exported once every exporter in the
 * worker took it. A worker that dies is restarted; the spans it held fail (counted as dropped,
 * `exportFailed`, and reported as `TOMOGRAPH_EXPORT_WORKER_EXITED`). The worker never keeps the
 * process alive while it is idle.
 */
export class WorkerExporter implements Exporter, RankedMetricsExporter {
  /** `exportIn: 'worker'` takes this exporter as it is: its work already runs in a worker. */
  readonly [RUNS_IN_WORKER] = true;
  private readonly specs: readonly ResolvedSpec[];
  private readonly exportTimeoutMs: number;
  private readonly maxRestartsPerMinute: number;
  private readonly priority: number;
  private readonly packer = new BatchPacker();
  private readonly pending = new Map<number, Pending>();
  private diagnostics: Pick<Diagnostics, 'report'>;
  private readonly hasOwnListener: boolean;
  private resource: Readonly<Record<string, string | number | boolean>> | undefined;
  private worker: Worker | undefined;
  private port: MessagePort | undefined;
  private nextSeq = 0;
  private restartTimesMs: number[] = [];
  private closed = false;
  private shutdownPromise: Promise<void> | undefined;

  /** Throws a TypeError (code `TOMOGRAPH_ERR_INVALID_OPTION`) on a wrong option, including one the worker's exporters refuse. */
  constructor(options: WorkerExporterOptions) {
    if (options === null || typeof options !== 'object') throw invalidOption('WorkerExporter takes an options object');
    for (const key of Object.keys(options)) {
      if (!KNOWN_OPTIONS.has(key)) throw invalidOption(`WorkerExporter: unknown option "${key}"`);
    }
    this.specs = resolveSpecs(options.exporters);
    this.exportTimeoutMs = positive('exportTimeoutMs', options.exportTimeoutMs, 10000);
    const startTimeoutMs = positive('startTimeoutMs', options.startTimeoutMs, 5000);
    this.maxRestartsPerMinute = positive('maxRestartsPerMinute', options.maxRestartsPerMinute, 10);
    this.priority = niceValue(options.priority);
    if (options.onDiagnostic !== undefined && typeof options.onDiagnostic !== 'function') {
      throw invalidOption(`WorkerExporter: onDiagnostic must be a function, not ${describeValue(options.onDiagnostic)}`);
    }
    this.diagnostics = new Diagnostics(options.onDiagnostic);
    this.hasOwnListener = options.onDiagnostic !== undefined;
    if (!existsSync(WORKER_FILE)) {
      throw invalidOption(`WorkerExporter: ${WORKER_FILE} is missing: the export worker runs from the compiled package`);
    }
    this.start(startTimeoutMs);
  }

  /** The worker thread now running (undefined after `shutdown()`): for its `threadId`, and for tests. */
  get thread(): Worker | undefined {
    return this.worker;
  }

  /** Takes the tracer's diagnostics (unless given `onDiagnostic`) and resource, and hands the resource to the worker's exporters. */
  attach(tracer: ExporterHost): void {
    if (!this.hasOwnListener) this.diagnostics = tracer;
    this.resource = tracer.resource ?? {};
    this.post({ type: 'attach', resource: this.resource });
  }

  /** Packs and transfers the batch; settles once every exporter in the worker has taken it (or failed). */
  export(spans: readonly FinishedSpan[]): Promise<void> | void {
    if (this.closed || spans.length === 0) return;
    if (this.worker === undefined && !this.restart()) {
      return Promise.reject(new Error('the export worker is down (restarted too often this minute)'));
    }
    const batch = this.packer.pack(spans);
    const seq = this.nextSeq++;
    return this.call({ type: 'batch', seq, count: batch.count, numbers: batch.numbers, text: batch.text }, spans.length, [batch.numbers]);
  }

  /**
   * Sends a metrics update to the worker's exporters that take them (`StatsdExporter`, or a class
   * of your own with `exportMetrics`), each filtering by its own `level`: give this exporter to
   * `configureMetrics({ exporters })`, beside or instead of the tracer's `exporters`. Settles once
   * every exporter in the worker took it. (An update given here directly has every entry kept.)
   */
  exportMetrics(update: MetricsUpdate): Promise<void> | void {
    const zeros = (entries: readonly unknown[]): number[] => new Array<number>(entries.length).fill(0);
    return this[EXPORT_RANKED_METRICS]({
      update,
      ranks: { counters: zeros(update.counters), gauges: zeros(update.gauges), meters: zeros(update.meters), histograms: zeros(update.histograms) },
    });
  }

  /** `exportMetrics` from the metrics export loop: the update with each entry's level rank, packed and transferred. */
  [EXPORT_RANKED_METRICS](ranked: RankedUpdate): Promise<void> | void {
    if (this.closed) return;
    if (this.worker === undefined && !this.restart()) {
      return Promise.reject(new Error('the export worker is down (restarted too often this minute)'));
    }
    const packed = packMetrics(ranked);
    const message = { type: 'metrics', seq: this.nextSeq++, numbers: packed.numbers, text: packed.text, service: defaultTracer.service } as const;
    return this.call(message, 0, [packed.numbers]);
  }

  /** Asks every exporter in the worker to send what it buffers. */
  flush(): Promise<void> {
    if (this.closed || this.worker === undefined) return Promise.resolve();
    return this.call({ type: 'flush', seq: this.nextSeq++ }, 0);
  }

  /** Shuts the worker's exporters down, then lets the worker end. Safe to call twice. */
  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.close();
    return this.shutdownPromise;
  }

  private async close(): Promise<void> {
    if (this.worker === undefined) {
      this.closed = true;
      return;
    }
    const closing = this.call({ type: 'shutdown', seq: this.nextSeq++ }, 0);
    this.closed = true;
    try {
      await closing;
    } finally {
      const worker = this.worker;
      this.worker = undefined;
      this.port?.close();
      this.port = undefined;
      // The worker ends by itself once its exporters closed; terminate() covers one that did not.
      await worker?.terminate();
    }
  }

  private call(message: ToWorker & { seq: number }, spans: number, transfer: ArrayBuffer[] = []): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.set(message.seq, { spans, resolve, reject });
      if (this.pending.size === 1) this.port?.ref();
      if (!this.post(message, transfer)) this.settle(message.seq, 'the export worker could not take the message');
    });
  }

  private post(message: ToWorker, transfer: ArrayBuffer[] = []): boolean {
    const port = this.port;
    if (port === undefined) return false;
    try {
      port.postMessage(message, transfer);
      return true;
    } catch (error) {
      this.diagnostics.report(codes.EXPORT_FAILED, `tomograph: could not post to the export worker: ${errorMessage(error)}`, { error });
      return false;
    }
  }

  private settle(seq: number, error: string | undefined): void {
    const pending = this.pending.get(seq);
    if (pending === undefined) return;
    this.pending.delete(seq);
    if (this.pending.size === 0) this.port?.unref();
    if (error === undefined) pending.resolve();
    else pending.reject(new Error(error));
  }

  /** Starts a worker; with `waitMs`, blocks up to that long for it to make its exporters, and throws their option error. */
  private start(waitMs?: number): void {
    const channel = new MessageChannel();
    const started = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(WORKER_FILE, {
      name: 'tomograph-export',
      workerData: { specs: this.specs, exportTimeoutMs: this.exportTimeoutMs, priority: this.priority, port: channel.port2, started },
      transferList: [channel.port2],
    });
    worker.unref();
    const port = channel.port1;
    this.worker = worker;
    this.port = port;
    if (waitMs !== undefined) {
      // Configure-time only: a wrong exporter option must fail here, as the main-thread exporters' do.
      Atomics.wait(started, 0, 0, waitMs);
      const first = receiveMessageOnPort(port)?.message as ToMain | undefined;
      if (first?.type === 'start-failed') {
        port.close();
        void worker.terminate();
        this.worker = undefined;
        this.port = undefined;
        const error = new TypeError(first.message) as TypeError & { code?: string };
        error.code = first.code ?? codes.INVALID_OPTION;
        throw error;
      }
    }
    port.on('message', (message: ToMain) => this.onMessage(message));
    port.unref();
    worker.on('error', (error) => {
      this.diagnostics.report(codes.EXPORT_WORKER_EXITED, `tomograph: the export worker failed: ${errorMessage(error)}`, { error });
    });
    worker.on('exit', (exitCode) => this.onExit(worker, exitCode));
    if (this.resource !== undefined) this.post({ type: 'attach', resource: this.resource });
  }

  private onMessage(message: ToMain): void {
    switch (message.type) {
      case 'done':
        this.settle(message.seq, message.error);
        return;
      case 'diagnostic':
        this.diagnostics.report(message.code, message.message, message.detail);
        return;
      case 'start-failed':
        this.diagnostics.report(codes.EXPORT_FAILED, `tomograph: the export worker could not make its exporters: ${message.message}`);
        return;
      default:
    }
  }

  /** The worker ended: what it held failed; unless we are shutting down, a new one starts. */
  private onExit(worker: Worker, exitCode: number): void {
    if (worker !== this.worker) return;
    this.worker = undefined;
    this.port?.close();
    this.port = undefined;
    let spans = 0;
    for (const pending of this.pending.values()) spans += pending.spans;
    const seqs = [...this.pending.keys()];
    for (const seq of seqs) this.settle(seq, `the export worker exited (code ${exitCode}) before finishing`);
    if (this.closed) return;
    this.diagnostics.report(
      codes.EXPORT_WORKER_EXITED,
      `tomograph: the export worker exited (code ${exitCode}); ${spans} spans it held were dropped; restarting it`,
      { exitCode, spans },
    );
    this.restart();
  }

  /** Starts a new worker unless too many started this minute. */
  private restart(): boolean {
    const now = Date.now();
    this.restartTimesMs = this.restartTimesMs.filter((t) => now - t < MINUTE_MS);
    if (this.restartTimesMs.length >= this.maxRestartsPerMinute) return false;
    this.restartTimesMs.push(now);
    try {
      this.start();
      return true;
    } catch (error) {
      this.diagnostics.report(codes.EXPORT_WORKER_EXITED, `tomograph: the export worker could not start: ${errorMessage(error)}`, { error });
      return false;
    }
  }
}

function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw invalidOption(`WorkerExporter: ${name} must be a positive integer, not ${describeValue(value)}`);
  }
  return value;
}

function niceValue(value: unknown): number {
  if (value === undefined) return DEFAULT_PRIORITY;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > LOWEST_PRIORITY) {
    throw invalidOption(`WorkerExporter: priority must be an integer nice value from 0 to ${LOWEST_PRIORITY}, not ${describeValue(value)}`);
  }
  return value;
}
