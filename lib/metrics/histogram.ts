import { performance } from 'node:perf_hooks';
import { bindLabels } from './counter';
import { LogSketch } from './log-sketch';
import { type LabelBinder, type MetricInfo, NO_LABELS, type SeriesHost } from './metric-info';
import { timeCall } from './timing';
import type { Histogram, LabelValues } from './types';

// Stands in until the first record picks a sub-window (currentEndMs -Infinity forces it); never written.
const NOT_YET = new LogSketch();

/** Sub-windows per window: the window read covers the last 5/6 to 6/6 of `windowMs`. */
export const SUB_WINDOWS = 6;

/**
 * One histogram series: `count` and `sum` since start, and a ring of `SUB_WINDOWS` sketches, each
 * covering `windowMs / SUB_WINDOWS` of wall time, merged on read. A sub-window is cleared and
 * reused when its turn comes round again, so memory stays what the widest sub-window needed.
 */
export class HistogramSeries implements Histogram {
  count = 0;
  sum = 0;
  /** Values since the last exporter update (a uniform sample beyond `host.sampleLimit`), or null when not exporting. */
  pending: number[] | null = null;
  /** How many values were recorded since the last exporter update. */
  pendingCount = 0;
  private current: LogSketch;
  private currentEndMs = -Infinity;
  private readonly ring: (LogSketch | undefined)[] = new Array<LogSketch | undefined>(SUB_WINDOWS).fill(undefined);
  private readonly ringSlots: number[] = new Array<number>(SUB_WINDOWS).fill(-Infinity);
  private readonly subWindowMs: number;

  constructor(
    readonly host: SeriesHost,
    readonly name: string,
    readonly info: MetricInfo,
    readonly labelValues: readonly string[] = NO_LABELS,
    readonly family: LabelBinder | undefined = undefined,
  ) {
    this.subWindowMs = info.windowMs / SUB_WINDOWS;
    this.current = NOT_YET;
    if (host.sampleLimit > 0) this.pending = [];
  }

  record(value: number): void {
    if (typeof value !== 'number' || !(value >= 0) || value === Infinity) {
      this.host.invalid(this.name, value, 'a histogram value must be a finite number >= 0');
      return;
    }
    const now = this.host.now();
    if (now >= this.currentEndMs) this.rotate(now);
    this.count++;
    this.sum += value;
    this.current.add(value);
    const pending = this.pending;
    if (pending !== null) {
      const seen = ++this.pendingCount;
      const limit = this.host.sampleLimit;
      if (seen <= limit) pending.push(value);
      else {
        // Algorithm R: every value so far stays with probability limit / seen.
        const slot = Math.floor(Math.random() * seen);
        if (slot < limit) pending[slot] = value;
      }
    }
  }

  startTimer(): () => number {
    const start = performance.now();
    return () => {
      const ms = performance.now() - start;
      this.record(ms);
      return ms;
    };
  }

  time<R>(fn: () => R): R {
    return timeCall(fn, undefined, [], (ms) => this.record(ms));
  }

  labels(values: LabelValues): Histogram {
    return bindLabels(this, values) as Histogram;
  }

  /**
   * The sub-windows still inside the window at `nowMs`, merged into `merged` (emptied first; a
   * reader's scratch sketch, so reading allocates nothing per series); `n` is 0 when none holds a value.
   */
  window(nowMs: number, merged: LogSketch = new LogSketch(true)): LogSketch {
    const oldest = Math.floor(nowMs / this.subWindowMs) - SUB_WINDOWS;
    let low = Infinity;
    let high = -Infinity;
    for (let i = 0; i < SUB_WINDOWS; i++) {
      const sketch = this.ring[i];
      if (sketch === undefined || this.ringSlots[i] <= oldest || sketch.n === 0) continue;
      const range = sketch.usedRange();
      if (range === undefined) continue;
      if (range[0] < low) low = range[0];
      if (range[1] > high) high = range[1];
    }
    if (low <= high) merged.resetOver(low, high);
    else merged.clear();
    for (let i = 0; i < SUB_WINDOWS; i++) {
      const sketch = this.ring[i];
      if (sketch !== undefined && this.ringSlots[i] > oldest) merged.merge(sketch);
    }
    return merged;
  }

  /** Hands the values since the last update to an update, and starts a new interval. */
  takePending(): { values: number[]; count: number } | undefined {
    if (this.pendingCount === 0) return undefined;
    const taken = { values: this.pending ?? [], count: this.pendingCount };
    this.pending = this.host.sampleLimit > 0 ? [] : null;
    this.pendingCount = 0;
    return taken;
  }

  /** Starts (or stops) keeping values for exporters. */
  setExporting(on: boolean): void {
    if (on && this.pending === null) this.pending = [];
    if (!on) {
      this.pending = null;
      this.pendingCount = 0;
    }
  }

  // Cold: once per sub-window.
  private rotate(nowMs: number): void {
    const slot = Math.floor(nowMs / this.subWindowMs);
    const index = ((slot % SUB_WINDOWS) + SUB_WINDOWS) % SUB_WINDOWS;
    let sketch = this.ring[index];
    if (sketch === undefined) sketch = this.ring[index] = new LogSketch();
    if (this.ringSlots[index] !== slot) {
      sketch.clear();
      this.ringSlots[index] = slot;
    }
    this.current = sketch;
    this.currentEndMs = (slot + 1) * this.subWindowMs;
  }
}
