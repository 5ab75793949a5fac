'use strict';
/** Small pieces every benchmark script shares. */
const { spawnSync } = require('node:child_process');

/** The median of a list of numbers. */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Reads `--name value` from the command line as a number, else `fallback`. */
function numberOption(name, fallback, argv = process.argv.slice(2)) {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
}

/** `order` rotated by `round`, so no variant always runs first (cold) or last. */
function rotate(order, round) {
  return order.map((_, i) => order[(i + round) % order.length]);
}

/** Whether `taskset` can pin processes to a core here. */
function hasTaskset() {
  return spawnSync('taskset', ['-c', '0', 'true']).status === 0;
}

/** The next IPC message of `type` from a forked child. */
function nextMessage(child, type) {
  return new Promise((resolve) => {
    const on = (m) => {
      if (m.type !== type) return;
      child.off('message', on);
      resolve(m);
    };
    child.on('message', on);
  });
}

module.exports = { median, numberOption, rotate, hasTaskset, nextMessage };
