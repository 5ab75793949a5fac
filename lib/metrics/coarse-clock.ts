/**
 * Epoch milliseconds for the recording hot path, refreshed once a second by one shared, unref'd
 * timer: a histogram needs the time to pick its sub-window and a meter to tick, and reading a
 * field is nearly free where `Date.now()` costs tens of nanoseconds per call. Readers (snapshot,
 * collect, updates) refresh it first, so what they show is exact to the millisecond; only the
 * sub-window a value lands in can be up to a second late.
 */
let nowMs = Date.now();
let timer: NodeJS.Timeout | undefined;

/** The coarse time, epoch ms. */
export function coarseNowMs(): number {
  return nowMs;
}

/** Reads the real time and refreshes the coarse one. */
export function preciseNowMs(): number {
  nowMs = Date.now();
  return nowMs;
}

/** Starts the shared ticker (idempotent). It never keeps the process alive. */
export function startCoarseClock(): void {
  if (timer !== undefined) return;
  nowMs = Date.now();
  timer = setInterval(preciseNowMs, 1000);
  timer.unref();
}
