import { performance } from 'node:perf_hooks';

/** A source of time for spans. Injected, so tests can drive time without sleeping. */
export interface Clock {
  /** Epoch microseconds (integer), never going backwards. */
  nowUs(): number;
}

/**
 * Monotonic time anchored once to the epoch: `performance.timeOrigin` is read a single time,
 * and every reading after that only adds `performance.now()`, so a wall-clock step (NTP, a
 * user changing the date) can never make a duration negative.
 */
export function monotonicClock(): Clock {
  const originUs = performance.timeOrigin * 1000;
  return { nowUs: () => Math.floor(originUs + performance.now() * 1000) };
}

/** A clock that moves only when told to: for tests. Starts at `startUs` (epoch microseconds). */
export class ManualClock implements Clock {
  constructor(private timeUs = 1_700_000_000_000_000) {}
  nowUs(): number {
    return this.timeUs;
  }
  /** Moves time forward by `us` microseconds. */
  advance(us: number): void {
    this.timeUs += Math.floor(us);
  }
}
