import type { Counter, Gauge, Histogram, Meter } from './types';

const zero = (): number => 0;

/**
 * The one shared metric that a metric below the configured level is: every method does nothing,
 * `labels()` returns itself, `time(fn)` just calls `fn`. One object, so every call site stays
 * monomorphic and the call costs next to nothing.
 */
export const NOOP_METRIC: Counter & Gauge & Histogram & Meter = Object.freeze({
  name: '',
  inc(): void {},
  dec(): void {},
  set(): void {},
  record(): void {},
  mark(): void {},
  startTimer: () => zero,
  time<R>(fn: () => R): R {
    return fn();
  },
  labels() {
    return NOOP_METRIC;
  },
});
