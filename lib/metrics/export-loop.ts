import { codes } from '../codes';
import { errorMessage } from '../diagnostics';
import type { MetricsExporter, MetricsStats, MetricsUpdate } from './types';

/** An update with each entry's level rank beside it, so each exporter's `level` can filter it. */
export interface RankedUpdate {
  readonly update: MetricsUpdate;
  readonly ranks: {
    readonly counters: readonly number[];
    readonly gauges: readonly number[];
    readonly meters: readonly number[];
    readonly histograms: readonly number[];
  };
}

/** An exporter with its level resolved. */
export interface RankedExporter {
  readonly exporter: MetricsExporter;
  /** Entries below this rank are left out of its updates; 0 keeps all. */
  readonly rank: number;
}

/**
 * An exporter that filters by level itself (the export worker, whose exporters each have their own
 * level) takes the whole update with its ranks through this method instead of `exportMetrics`.
 */
export const EXPORT_RANKED_METRICS: unique symbol = Symbol.for('tomograph.exportRankedMetrics');

/** A metrics exporter that takes ranked updates (see `EXPORT_RANKED_METRICS`). */
export interface RankedMetricsExporter extends MetricsExporter {
  [EXPORT_RANKED_METRICS](ranked: RankedUpdate): void | Promise<void>;
}

type Report = (code: string, message: string, detail?: unknown) => void;
type Outcome = 'ok' | 'failed' | 'timeout';

/**
 * The metrics export loop: every `intervalMs`, one update taken from the registry and handed to
 * every exporter (filtered by its level), each call on its own: one that throws, rejects or hangs
 * past `timeoutMs` is counted and reported, and delays no other and never the app. While an
 * exporter's call is still running it gets no new update (counted as busy), so a hung exporter
 * cannot pile up calls.
 */
export class MetricsExportLoop {
  private readonly busy = new Set<MetricsExporter>();
  private timer: NodeJS.Timeout | undefined;
  private shutdownPromise: Promise<void> | undefined;

  constructor(
    private readonly takeUpdate: () => RankedUpdate,
    private readonly exporters: readonly RankedExporter[],
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly counts: MetricsStats,
    private readonly report: Report,
  ) {}

  /** Starts the interval; its timer never keeps the process alive. */
  start(): this {
    this.timer = setInterval(() => void this.exportNow(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /** Takes one update now and hands it to every exporter; resolves when each call settled or timed out. */
  exportNow(): Promise<void> {
    let ranked: RankedUpdate;
    try {
      ranked = this.takeUpdate();
    } catch (error) {
      this.report(codes.METRICS_EXPORT_FAILED, `tomograph: could not take a metrics update: ${errorMessage(error)}`, { error });
      return Promise.resolve();
    }
    return settleAll(this.exporters.map((entry) => this.send(entry, ranked)));
  }

  /** Exports what changed, then flushes every exporter. Never rejects. */
  async flush(): Promise<void> {
    await this.exportNow();
    await settleAll(this.exporters.map(({ exporter }) => this.close(exporter, 'flush')));
  }

  /** Stops the interval, flushes, then shuts every exporter down. Safe to call twice. */
  shutdown(): Promise<void> {
    if (this.shutdownPromise === undefined) {
      if (this.timer !== undefined) clearInterval(this.timer);
      this.shutdownPromise = this.flush().then(() =>
        settleAll(this.exporters.map(({ exporter }) => this.close(exporter, 'shutdown'))),
      );
    }
    return this.shutdownPromise;
  }

  private async send({ exporter, rank }: RankedExporter, ranked: RankedUpdate): Promise<void> {
    if (this.busy.has(exporter)) {
      this.counts.exporterBusy++;
      return;
    }
    this.busy.add(exporter);
    const outcome = await this.call(
      () => (EXPORT_RANKED_METRICS in exporter ? (exporter as RankedMetricsExporter)[EXPORT_RANKED_METRICS](ranked) : exporter.exportMetrics(forRank(ranked, rank))),
      'exportMetrics',
    );
    this.busy.delete(exporter);
    if (outcome === 'ok') this.counts.updatesExported++;
    else if (outcome === 'failed') this.counts.exportErrors++;
    else this.counts.exportTimeouts++;
  }

  private async close(exporter: MetricsExporter, method: 'flush' | 'shutdown'): Promise<void> {
    if (typeof exporter[method] !== 'function') return;
    await this.call(() => exporter[method]?.(), method);
  }

  /** Runs one exporter call with the timeout; resolves with how it went, never rejects. */
  private call(fn: () => unknown, what: string): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      let result: unknown;
      try {
        result = fn();
      } catch (error) {
        this.failed(what, error);
        resolve('failed');
        return;
      }
      if (result === null || typeof result !== 'object' || typeof (result as PromiseLike<unknown>).then !== 'function') {
        resolve('ok');
        return;
      }
      const timer = setTimeout(() => {
        this.report(
          codes.METRICS_EXPORT_TIMEOUT,
          `tomograph: a metrics exporter's ${what}() did not settle within ${this.timeoutMs} ms; given up on`,
        );
        resolve('timeout');
      }, this.timeoutMs);
      timer.unref();
      Promise.resolve(result).then(
        () => {
          clearTimeout(timer);
          resolve('ok');
        },
        (error: unknown) => {
          clearTimeout(timer);
          this.failed(what, error);
          resolve('failed');
        },
      );
    });
  }

  private failed(what: string, error: unknown): void {
    this.report(codes.METRICS_EXPORT_FAILED, `tomograph: a metrics exporter's ${what}() failed: ${errorMessage(error)}`, { error });
  }
}

/** The update an exporter of `rank` gets: the same object when nothing is below its level. */
export function forRank({ update, ranks }: RankedUpdate, rank: number): MetricsUpdate {
  if (rank === 0) return update;
  const keep = <T>(items: readonly T[], itemRanks: readonly number[]): T[] => items.filter((_, i) => itemRanks[i] >= rank);
  return {
    timestampMs: update.timestampMs,
    counters: keep(update.counters, ranks.counters),
    gauges: keep(update.gauges, ranks.gauges),
    meters: keep(update.meters, ranks.meters),
    histograms: keep(update.histograms, ranks.histograms),
  };
}

function settleAll(promises: readonly Promise<unknown>[]): Promise<void> {
  return Promise.allSettled(promises).then(() => undefined);
}
