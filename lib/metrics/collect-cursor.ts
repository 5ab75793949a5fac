import { performance } from 'node:perf_hooks';
import type { CollectCursor, CollectedMetric } from './types';

/** Reads one metric by name at `nowMs`, or undefined when it is gone, disabled or below the level. */
export type ReadMetric = (name: string, nowMs: number) => CollectedMetric | undefined;

/**
 * Walks a fixed list of metric names, reading each whole when its turn comes (see `CollectCursor`).
 * The clock is read once per piece, so every metric of a piece sees the same window.
 */
export class RegistryCursor implements CollectCursor {
  private index = 0;

  constructor(
    private readonly names: readonly string[],
    private readonly read: ReadMetric,
    private readonly nowMs: () => number,
  ) {}

  get done(): boolean {
    return this.index >= this.names.length;
  }

  next(maxSeries = Infinity, budgetMs = Infinity): CollectedMetric[] {
    const out: CollectedMetric[] = [];
    if (this.done) return out;
    const deadline = budgetMs === Infinity ? Infinity : performance.now() + budgetMs;
    const nowMs = this.nowMs();
    const names = this.names;
    let series = 0;
    while (this.index < names.length) {
      const metric = this.read(names[this.index++], nowMs);
      if (metric === undefined) continue;
      out.push(metric);
      // A metric without series still costs a little: count it as one.
      series += Math.max(1, metric.series.length);
      if (series >= maxSeries || (deadline !== Infinity && performance.now() >= deadline)) break;
    }
    return out;
  }
}
