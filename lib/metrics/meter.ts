import { bindLabels } from './counter';
import { type LabelBinder, type MetricInfo, NO_LABELS, type SeriesHost } from './metric-info';
import type { LabelValues, Meter, MeterSnapshot } from './types';

/** Dropwizard's tick: the moving averages move every 5 seconds. */
export const TICK_MS = 5000;
const TICK_S = TICK_MS / 1000;
const ALPHA_1 = 1 - Math.exp(-TICK_S / 60);
const ALPHA_5 = 1 - Math.exp(-TICK_S / 300);
const ALPHA_15 = 1 - Math.exp(-TICK_S / 900);

/**
 * One meter series: Dropwizard's exponentially weighted moving averages over 1, 5 and 15
 * minutes, ticked lazily (on `mark` and on read) from the registry's clock, so there is no timer
 * per meter; missed ticks are caught up in closed form ((1-α)^k), not in a loop.
 */
export class MeterSeries implements Meter {
  count = 0;
  /** `count` at the last exporter update, for deltas. */
  reported = 0;
  private uncounted = 0;
  private m1 = 0;
  private m5 = 0;
  private m15 = 0;
  private initialized = false;
  private lastTickMs: number;
  private readonly startMs: number;

  constructor(
    readonly host: SeriesHost,
    readonly name: string,
    readonly info: MetricInfo,
    readonly labelValues: readonly string[] = NO_LABELS,
    readonly family: LabelBinder | undefined = undefined,
  ) {
    this.startMs = host.now();
    this.lastTickMs = this.startMs;
  }

  mark(n = 1): void {
    if (typeof n !== 'number' || !(n >= 0) || n === Infinity) {
      this.host.invalid(this.name, n, 'a meter mark must be a finite number >= 0');
      return;
    }
    const now = this.host.now();
    if (now - this.lastTickMs >= TICK_MS) this.tick(now);
    this.count += n;
    this.uncounted += n;
  }

  labels(values: LabelValues): Meter {
    return bindLabels(this, values) as Meter;
  }

  /** Rates at `nowMs`, events per second. */
  snapshot(nowMs: number): MeterSnapshot {
    if (nowMs - this.lastTickMs >= TICK_MS) this.tick(nowMs);
    const elapsedS = (nowMs - this.startMs) / 1000;
    return {
      count: this.count,
      mean: elapsedS > 0 ? this.count / elapsedS : 0,
      m1: this.m1,
      m5: this.m5,
      m15: this.m15,
    };
  }

  private tick(nowMs: number): void {
    const ticks = Math.floor((nowMs - this.lastTickMs) / TICK_MS);
    this.lastTickMs += ticks * TICK_MS;
    const rate = this.uncounted / TICK_S;
    this.uncounted = 0;
    if (this.initialized) {
      this.m1 += ALPHA_1 * (rate - this.m1);
      this.m5 += ALPHA_5 * (rate - this.m5);
      this.m15 += ALPHA_15 * (rate - this.m15);
    } else {
      this.m1 = this.m5 = this.m15 = rate;
      this.initialized = true;
    }
    if (ticks > 1) {
      // The ticks after the first saw no events: each multiplies a rate by (1 - α).
      this.m1 *= Math.pow(1 - ALPHA_1, ticks - 1);
      this.m5 *= Math.pow(1 - ALPHA_5, ticks - 1);
      this.m15 *= Math.pow(1 - ALPHA_15, ticks - 1);
    }
  }
}
