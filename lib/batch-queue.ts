import { codes } from './codes';
import { type Diagnostics, errorMessage } from './diagnostics';
import { isThenable } from './thenable';
import type { Exporter, FinishedSpan } from './types';

/** Sizes and times of the export pipeline. */
export interface QueueOptions {
  /** Spans held at most, waiting or being exported. */
  maxQueueSize: number;
  /** Spans per `export` call at most. */
  maxBatchSize: number;
  /** How long a span may wait for a batch to fill, in milliseconds. */
  scheduledDelayMs: number;
  /**
   * How long one `export` call may take, and the queue's `flush()` or `shutdown()` as a whole
   * (whatever the backlog), in milliseconds.
   */
  exportTimeoutMs: number;
  /** The tracer's resource attributes, handed to exporters by `attach`. */
  resource?: Readonly<Record<string, string | number | boolean>>;
}

/** Counts for one exporter. */
export interface ExporterStats {
  name: string;
  /** Spans this exporter accepted. */
  exported: number;
  /** Spans in calls that threw, rejected or timed out. */
  failed: number;
  /** Calls that timed out. */
  timeouts: number;
  /** Spans dropped for this exporter because it fell too far behind the others. */
  skipped: number;
}

/** Why finished spans were dropped. Each span is counted once. */
export interface DropCounts {
  /** The queue was full when the span ended. */
  queueFull: number;
  /** An exporter threw, rejected or timed out on the span's batch. */
  exportFailed: number;
  /** A slow exporter was skipped past the span to keep the queue within bounds. */
  exporterBusy: number;
  /** No exporter was configured. */
  noExporter: number;
  /** The span ended after `shutdown()`. */
  shutdown: number;
  /** The span was still queued or being exported when `shutdown()` ran out of time (`exportTimeoutMs`). */
  shutdownTimeout: number;
}

interface Batch {
  /** Cut order. */
  readonly seq: number;
  readonly spans: readonly FinishedSpan[];
  /** Lanes that have not finished with this batch yet. */
  waiting: number;
  failed: boolean;
  skipped: boolean;
  /** Given up at shutdown's deadline: counted as dropped, and a late outcome is ignored. */
  abandoned: boolean;
}

interface Lane {
  readonly exporter: Exporter;
  readonly stats: ExporterStats;
  /** Batches for this exporter, oldest first; `backlog[0]` is in flight when `busy`. */
  backlog: Batch[];
  busy: boolean;
}

/**
 * One bounded queue of finished spans, cut into batches that go to every exporter. Each
 * exporter works through the batches in its own lane, one call at a time, each call bounded
 * by a timeout, so an exporter that throws, rejects or hangs never holds up the others: when
 * the queue is full, the lane furthest behind gives up its oldest waiting batch before any new
 * span is refused. Every span is counted once as exported (every exporter took it), dropped
 * (with the reason), or still queued.
 */
export class BatchQueue {
  readonly drops: DropCounts = { queueFull: 0, exportFailed: 0, exporterBusy: 0, noExporter: 0, shutdown: 0, shutdownTimeout: 0 };
  exported = 0;
  exportErrors = 0;

  /**
   * The batch being filled: `buffered` spans at its start. Made at its full size (up to
   * `MAX_PREALLOCATED`) and filled by index, so adding a span never grows and copies it: `push`
   * onto an empty array copied each span about 2.5 times before a batch of 512 was full.
   */
  private buffer: FinishedSpan[];
  private buffered = 0;
  /** Spans held in batches that are not settled yet. */
  private batchedSpans = 0;
  private readonly lanes: Lane[];
  private timer: NodeJS.Timeout | undefined;
  private nextSeq = 0;
  /** Batches cut and not settled yet, oldest first (a Set iterates in insertion order). */
  private readonly open = new Set<Batch>();
  /** `flush()` calls waiting for every batch up to `seq` to settle. */
  private settleWaiters: { seq: number; resolve: () => void }[] = [];
  private queueFullReported = false;
  private closed = false;

  constructor(
    private readonly options: QueueOptions,
    exporters: readonly Exporter[],
    private readonly diagnostics: Diagnostics,
    /** Runs exporter code with tracing suppressed, so exporting never makes spans. */
    private readonly runSuppressed: <R>(fn: () => R) => R,
  ) {
    this.buffer = this.newBuffer();
    const host = {
      report: (code: string, message: string, detail?: unknown) => diagnostics.report(code, message, detail),
      resource: options.resource ?? {},
    };
    for (const exporter of exporters) {
      if (typeof exporter.attach !== 'function') continue;
      try {
        exporter.attach(host);
      } catch (error) {
        diagnostics.report(codes.EXPORT_FAILED, `tomograph: an exporter's attach() threw: ${errorMessage(error)}`, { error });
      }
    }
    this.lanes = exporters.map((exporter, i) => ({
      exporter,
      stats: { name: exporterName(exporter, i), exported: 0, failed: 0, timeouts: 0, skipped: 0 },
      backlog: [],
      busy: false,
    }));
  }

  /** Spans waiting or in flight. */
  get queued(): number {
    return this.buffered + this.batchedSpans;
  }

  /** Per-exporter counts. */
  exporterStats(): ExporterStats[] {
    return this.lanes.map((lane) => ({ ...lane.stats }));
  }

  /** Takes a finished, sampled span. Never throws, never blocks. */
  add(span: FinishedSpan): void {
    if (this.closed) {
      this.drops.shutdown++;
      return;
    }
    if (this.lanes.length === 0) {
      this.drops.noExporter++;
      return;
    }
    if (this.buffered + this.batchedSpans >= this.options.maxQueueSize && !this.makeRoom()) {
      this.drops.queueFull++;
      if (!this.queueFullReported) {
        this.queueFullReported = true;
        this.diagnostics.report(
          codes.QUEUE_FULL,
          `tomograph: export queue full (${this.options.maxQueueSize} spans); dropping finished spans`,
        );
      }
      return;
    }
    this.queueFullReported = false;
    const buffer = this.buffer;
    const at = this.buffered++;
    if (at < buffer.length) buffer[at] = span;
    else buffer.push(span);
    if (this.buffered >= this.options.maxBatchSize) this.cutBatches(false);
    else if (this.timer === undefined) this.schedule();
  }

  /**
   * Exports everything queued when called, and resolves once each of those spans is settled
   * (exported or dropped), then asks every exporter to flush what it buffers itself; all within
   * `exportTimeoutMs`, whatever the backlog. Spans still out then stay queued (and are sent).
   */
  async flush(): Promise<void> {
    const deadlineMs = Date.now() + this.options.exportTimeoutMs;
    await this.settleQueued(this.options.exportTimeoutMs);
    await Promise.all(this.lanes.map((lane) => this.callLifecycle(lane, 'flush', deadlineMs - Date.now())));
  }

  /**
   * Flushes, then shuts every exporter down, within `exportTimeoutMs` in all: batches get all
   * but the last fifth of it (at most 2 s, left for the exporters' own `shutdown()`); what is
   * still queued or being exported then is dropped (`shutdownTimeout`). Spans that end
   * afterwards are dropped (`shutdown`).
   */
  async shutdown(): Promise<void> {
    // Closed first: a span that ends while the flush runs is counted as dropped (shutdown)
    // rather than left in the buffer after the timer is gone.
    this.closed = true;
    const budgetMs = this.options.exportTimeoutMs;
    const deadlineMs = Date.now() + budgetMs;
    const settled = await this.settleQueued(budgetMs - Math.min(MAX_CLOSE_RESERVE_MS, Math.floor(budgetMs / 5)));
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (!settled) this.abandonAll();
    await Promise.all(
      this.lanes.map(async (lane) => {
        await this.callLifecycle(lane, 'flush', deadlineMs - Date.now());
        await this.callLifecycle(lane, 'shutdown', deadlineMs - Date.now());
      }),
    );
  }

  /**
   * Cuts what is buffered into batches and resolves true once every batch cut so far has
   * settled, or false after `limitMs`. Waits by batch, not by span count: a newer batch skipped
   * for a lagging exporter settles before an older one still in flight.
   */
  private settleQueued(limitMs: number): Promise<boolean> {
    this.cutBatches(true);
    const seq = this.nextSeq - 1;
    if (this.oldestOpenSeq() > seq) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const waiter = {
        seq,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        this.settleWaiters = this.settleWaiters.filter((w) => w !== waiter);
        resolve(false);
      }, Math.max(0, limitMs));
      timer.unref();
      this.settleWaiters.push(waiter);
    });
  }

  /**
   * Shutdown's deadline passed: every batch still open is dropped (`shutdownTimeout`) and each
   * lane forgets it, so an export call that settles later changes no count.
   */
  private abandonAll(): void {
    for (const batch of this.open) {
      batch.abandoned = true;
      this.batchedSpans -= batch.spans.length;
      this.drops.shutdownTimeout += batch.spans.length;
    }
    this.open.clear();
    for (const lane of this.lanes) {
      lane.backlog = [];
      lane.busy = false;
    }
    const waiters = this.settleWaiters;
    this.settleWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  private schedule(): void {
    // Made under the suppressed context: a timer keeps the async context it was made in, and the
    // span that ended here may sit in a request's context (or under a span start() never stopped)
    // that would otherwise stay reachable until the timer fires.
    this.timer = this.runSuppressed(() => setTimeout(this.onScheduled, this.options.scheduledDelayMs));
    this.timer.unref();
  }

  private readonly onScheduled = (): void => {
    this.timer = undefined;
    this.cutBatches(true);
  };

  /** Moves buffered spans into batches for every lane: full batches only, or all of them. */
  private cutBatches(all: boolean): void {
    const size = this.options.maxBatchSize;
    while (this.buffered >= size || (all && this.buffered > 0)) {
      const buffer = this.buffer;
      const count = this.buffered;
      let spans: FinishedSpan[];
      if (count <= size) {
        // The whole buffer goes, cut to what it holds; the next batch gets a new one.
        if (buffer.length !== count) buffer.length = count;
        spans = buffer;
        this.buffer = this.newBuffer();
        this.buffered = 0;
      } else {
        spans = buffer.slice(0, size);
        this.buffer = buffer.slice(size, count);
        this.buffered = count - size;
      }
      const batch: Batch = {
        seq: this.nextSeq++, spans, waiting: this.lanes.length, failed: false, skipped: false, abandoned: false,
      };
      this.open.add(batch);
      this.batchedSpans += spans.length;
      for (const lane of this.lanes) {
        lane.backlog.push(batch);
        if (!lane.busy) this.sendNext(lane);
      }
    }
    if (this.buffered > 0 && this.timer === undefined) this.schedule();
  }

  private newBuffer(): FinishedSpan[] {
    // Holes until filled; never handed out before it is cut to what it holds.
    return new Array<FinishedSpan>(Math.min(this.options.maxBatchSize, MAX_PREALLOCATED));
  }

  /**
   * Frees space by skipping the oldest waiting batch of the lane furthest behind the others,
   * where that lane is the last one holding it (so skipping it really frees memory). False if
   * no lane can.
   */
  private makeRoom(): boolean {
    let laggard: Lane | undefined;
    let shortest = Infinity;
    for (const lane of this.lanes) {
      shortest = Math.min(shortest, lane.backlog.length);
      const candidate = lane.backlog[lane.busy ? 1 : 0];
      if (candidate === undefined || candidate.waiting !== 1) continue;
      if (laggard === undefined || lane.backlog.length > laggard.backlog.length) laggard = lane;
    }
    // Only a lane behind the others is skipped; when every exporter is equally behind (or there
    // is only one), the queue is simply full and the new span is the one dropped.
    if (laggard === undefined || laggard.backlog.length <= shortest) return false;
    const [batch] = laggard.backlog.splice(laggard.busy ? 1 : 0, 1);
    laggard.stats.skipped += batch.spans.length;
    batch.skipped = true;
    this.diagnostics.report(
      codes.EXPORTER_BUSY,
      `tomograph: exporter ${laggard.stats.name} is behind; skipped ${batch.spans.length} spans for it`,
      { exporter: laggard.stats.name, spans: batch.spans.length },
    );
    this.laneDone(batch);
    return true;
  }

  private sendNext(lane: Lane): void {
    const batch = lane.backlog[0];
    if (batch === undefined) return;
    lane.busy = true;
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (error: unknown, timedOut: boolean) => {
      if (finished) return;
      finished = true;
      if (timer !== undefined) clearTimeout(timer);
      if (batch.abandoned) return;
      if (error === undefined) {
        lane.stats.exported += batch.spans.length;
      } else {
        batch.failed = true;
        this.exportErrors++;
        lane.stats.failed += batch.spans.length;
        if (timedOut) lane.stats.timeouts++;
        this.diagnostics.report(
          timedOut ? codes.EXPORT_TIMEOUT : codes.EXPORT_FAILED,
          timedOut
            ? `tomograph: exporter ${lane.stats.name} did not finish within ${this.options.exportTimeoutMs} ms`
            : `tomograph: exporter ${lane.stats.name} failed: ${errorMessage(error)}`,
          { exporter: lane.stats.name, spans: batch.spans.length, error },
        );
      }
      lane.backlog.shift();
      lane.busy = false;
      this.laneDone(batch);
      this.sendNext(lane);
    };
    let result: void | Promise<void>;
    try {
      result = this.runSuppressed(() => lane.exporter.export(batch.spans));
    } catch (error) {
      finish(error ?? new Error('exporter threw'), false);
      return;
    }
    if (!isThenable(result)) {
      finish(undefined, false);
      return;
    }
    timer = setTimeout(() => finish(new Error('export timed out'), true), this.options.exportTimeoutMs);
    timer.unref();
    try {
      result.then(
        () => finish(undefined, false),
        (error: unknown) => finish(error ?? new Error('exporter rejected'), false),
      );
    } catch (error) {
      finish(error, false);
    }
  }

  /** One lane is done with `batch`; when all are, its spans are counted and released. */
  private laneDone(batch: Batch): void {
    if (--batch.waiting > 0) return;
    const n = batch.spans.length;
    this.batchedSpans -= n;
    if (batch.failed) this.drops.exportFailed += n;
    else if (batch.skipped) this.drops.exporterBusy += n;
    else this.exported += n;
    this.open.delete(batch);
    if (this.settleWaiters.length > 0) {
      const oldest = this.oldestOpenSeq();
      this.settleWaiters = this.settleWaiters.filter((waiter) => {
        if (oldest <= waiter.seq) return true;
        waiter.resolve();
        return false;
      });
    }
  }

  private oldestOpenSeq(): number {
    const first = this.open.values().next();
    return first.done === true ? Infinity : first.value.seq;
  }

  /** Calls an exporter's `flush` or `shutdown` and waits for it `limitMs` at most. */
  private async callLifecycle(lane: Lane, method: 'flush' | 'shutdown', limitMs: number): Promise<void> {
    const fn = lane.exporter[method];
    if (typeof fn !== 'function') return;
    let timer: NodeJS.Timeout | undefined;
    const waitMs = Math.max(0, limitMs);
    try {
      await Promise.race([
        this.runSuppressed(() => fn.call(lane.exporter)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`${method} did not finish within the ${waitMs} ms left of exportTimeoutMs`)),
            waitMs,
          );
          timer.unref();
        }),
      ]);
    } catch (error) {
      this.diagnostics.report(
        codes.EXPORTER_CLOSE_FAILED,
        `tomograph: exporter ${lane.stats.name} ${method} failed: ${errorMessage(error)}`,
        { exporter: lane.stats.name, error },
      );
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }
}

/** Spans a batch buffer is made for at most; a larger `maxBatchSize` grows it as spans come. */
const MAX_PREALLOCATED = 4096;

/** Shutdown leaves the last fifth of `exportTimeoutMs`, at most this much, to the exporters' own shutdown(). */
const MAX_CLOSE_RESERVE_MS = 2000;

function exporterName(exporter: Exporter, index: number): string {
  const ctor = (exporter as { constructor?: { name?: string } }).constructor;
  const name = ctor !== undefined && ctor !== Object && typeof ctor.name === 'string' ? ctor.name : 'exporter';
  return `${name}#${index}`;
}
