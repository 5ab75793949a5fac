'use strict';
/**
 * Preloaded (`node -r ./bench/_eld.js`) into a `bench/worker-export.js` server: the event loop's
 * delay, from `perf_hooks.monitorEventLoopDelay` (1 ms resolution), over IPC.
 *   'eld-reset' -> { eldReset: true }   starts the measured window
 *   'eld'       -> { eld: { p50, p99, max, mean } } in milliseconds, since the reset
 * BENCH_IDLE_WORKER=1 (the control variant `untraced-idle-worker`) also starts a worker thread
 * that only waits. Worker threads inherit `-r`: in them (the export worker) this does nothing.
 */
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { isMainThread, Worker } = require('node:worker_threads');

if (isMainThread) {
  if (process.env.BENCH_IDLE_WORKER === '1') {
    new Worker("require('node:worker_threads').parentPort.on('message', () => {})", { eval: true }).unref();
  }
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  process.on('message', (message) => {
    if (message === 'eld-reset') {
      histogram.reset();
      process.send({ eldReset: true });
    } else if (message === 'eld') {
      const ms = (ns) => ns / 1e6;
      process.send({
        eld: { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max), mean: ms(histogram.mean) },
      });
    }
  });
}
