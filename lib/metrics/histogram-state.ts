import { type EncodedSketch, LogSketch } from './log-sketch';
import type { HistogramSnapshot, HistogramState } from './types';

/** The `v` of the states this version writes and reads. */
export const HISTOGRAM_STATE_VERSION = 1;

/** The quantiles a snapshot shows, ascending, and their keys. */
const QUANTILES = [0.5, 0.75, 0.95, 0.98, 0.99, 0.999] as const;
const QUANTILE_KEYS = ['p50', 'p75', 'p95', 'p98', 'p99', 'p999'] as const;

/** A snapshot from cumulative `count`/`sum` and the window's sketch. */
export function summarize(count: number, sum: number, window: LogSketch): HistogramSnapshot {
  const snapshot: HistogramSnapshot = { count, sum };
  const n = window.n;
  if (n === 0) return snapshot;
  snapshot.min = window.min;
  snapshot.max = window.max;
  snapshot.mean = window.mean;
  // The sample standard deviation (n - 1), as Dropwizard reports it; 0 for one value.
  snapshot.stddev = n > 1 ? Math.sqrt(Math.max(0, window.m2) / (n - 1)) : 0;
  const out: number[] = [0, 0, 0, 0, 0, 0];
  window.quantiles(QUANTILES, out);
  for (let i = 0; i < QUANTILE_KEYS.length; i++) snapshot[QUANTILE_KEYS[i]] = out[i];
  return snapshot;
}

/** The JSON-safe state of cumulative `count`/`sum` and a window's sketch. */
export function encodeState(count: number, sum: number, window: LogSketch): HistogramState {
  return { v: HISTOGRAM_STATE_VERSION, count, sum, window: window.n === 0 ? null : window.encode() };
}

/**
 * Merges histogram states (from several series, processes or hosts) into one: counts and sums
 * added, windows merged bucket by bucket, so the merged percentiles are those of all the values
 * together (never sums or averages of percentiles) within the same 1% bound, and min, max and
 * count exact. States of another `v`, or malformed, are left out: check `state.v` against
 * `HISTOGRAM_STATE_VERSION` first to count them.
 */
export function mergeHistogramStates(states: readonly HistogramState[]): HistogramState {
  const merged = new LogSketch(true);
  let count = 0;
  let sum = 0;
  for (const state of states) {
    if (!isState(state)) continue;
    if (state.window !== null && state.window !== undefined && !merged.mergeEncoded(state.window as EncodedSketch)) continue;
    count += state.count;
    sum += state.sum;
  }
  return encodeState(count, sum, merged);
}

/** What `snapshot()` would show for a state: count, sum, and the window's fields when it holds values. */
export function summarizeHistogramState(state: HistogramState): HistogramSnapshot {
  const window = new LogSketch(true);
  if (!isState(state)) return { count: 0, sum: 0 };
  if (state.window !== null && state.window !== undefined) window.mergeEncoded(state.window as EncodedSketch);
  return summarize(state.count, state.sum, window);
}

function isState(state: unknown): state is HistogramState {
  if (state === null || typeof state !== 'object') return false;
  const s = state as HistogramState;
  return s.v === HISTOGRAM_STATE_VERSION && typeof s.count === 'number' && typeof s.sum === 'number';
}
