'use strict';
/**
 * Preloaded (`node -r ./bench/_eld.js`) into a `bench/worker-export.js` server: the event loop's
 * delay, from `perf_hooks.monitorEventLoopDelay` (1 ms resolution), over IPC.
 *   'eld-reset' -> { eldReset: true }   starts the measured window
 *   'eld'       -> { eld: { p50, p99, max, mean } } in milliseconds, since the reset
 */
const { monitorEventLoopDelay } = require('node:perf_hooks');

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
