import type { MetricLevel, MetricType } from './types';

/** What kind of entry a name holds: the four metric types and the two derived ones. */
export type MetricKind = MetricType | 'sumOf' | 'countByValue';

/** A metric's settings, fixed when it is created and shared by all its series. */
export interface MetricInfo {
  readonly kind: MetricKind;
  readonly type: MetricType;
  /** `''` when none was given. */
  readonly description: string;
  readonly unit: string | undefined;
  readonly labelNames: readonly string[];
  readonly maxSeries: number;
  readonly level: MetricLevel;
  /** The level's index in `LEVELS`. */
  readonly rank: number;
  /** Histograms: the window in milliseconds. */
  readonly windowMs: number;
}

/** What every series needs from its registry. */
export interface SeriesHost {
  /** Epoch milliseconds, cheap enough for every record (see coarse-clock.ts). */
  readonly now: () => number;
  /** Histogram values kept per series per interval for exporters; 0 when there are no exporters. */
  readonly sampleLimit: number;
  /** Counts and reports a value a metric could not take. Never throws. */
  invalid(name: string, value: unknown, why: string): void;
  /** Counts and reports a `.labels()` call sent to the overflow series. */
  overflowed(name: string, first: boolean): void;
}

/** Label values shared by every unlabelled series. */
export const NO_LABELS: readonly string[] = Object.freeze([]);

/** What a series of a labelled metric keeps of its family: `.labels()` on a series binds through it. */
export interface LabelBinder {
  labels(values: import('./types').LabelValues): unknown;
}
