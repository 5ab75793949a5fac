'use strict';
/** Small pieces every benchmark script shares. */
const { spawn, spawnSync } = require('node:child_process');

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

/** Reads `--name value` from the command line as a string, else `fallback`. */
function stringOption(name, fallback, argv = process.argv.slice(2)) {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
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

/** Sends `message` to a forked child and resolves with the child's next message. */
function ask(child, message) {
  return new Promise((resolve) => {
    child.once('message', resolve);
    child.send(message);
  });
}

/**
 * autocannon (its CLI, JSON output) against `url` for `duration` seconds with `connections`,
 * on core 1 when `pin`; at `rate` requests/s in all when given, else as fast as it can. Rejects
 * when any answer is not 2xx or fails, so a broken server never passes for a fast one.
 */
function autocannon({ url, connections, duration, rate, pin }) {
  const cli = require.resolve('autocannon/autocannon.js');
  const argv = [process.execPath, cli, '-c', String(connections), '-d', String(duration), '-j'];
  if (rate !== undefined) argv.push('-R', String(rate));
  argv.push(url);
  const cmd = pin ? ['taskset', ['-c', '1', ...argv]] : [argv[0], argv.slice(1)];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0], cmd[1], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`autocannon failed (${code}): ${err}`));
      const result = JSON.parse(out);
      if (result.non2xx > 0 || result.errors > 0) {
        return reject(new Error(`autocannon saw ${result.non2xx} non-2xx and ${result.errors} errors on ${url}`));
      }
      resolve(result);
    });
  });
}

/** `callgrind_control <flag> <pid>` (`-z` zeroes the counters, `-d` dumps them); rejects if it fails. */
function callgrindControl(flag, pid) {
  return new Promise((resolve, reject) => {
    const child = spawn('callgrind_control', [flag, String(pid)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (out += chunk));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`callgrind_control ${flag} ${pid} failed (${code}): ${out}`))));
  });
}

/**
 * The Zipkin sink of the HTTP benchmarks (`_http-sink.js`) in its own process, on core 1 when
 * `pin`; resolves with the child and the port it listens on (its first line of output).
 */
function startZipkinSink({ pin = false } = {}) {
  const argv = [process.execPath, require('node:path').join(__dirname, '_http-sink.js')];
  const cmd = pin ? ['taskset', ['-c', '1', ...argv]] : [argv[0], argv.slice(1)];
  const child = spawn(cmd[0], cmd[1], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('error', reject);
    child.stdout.on('data', function onData(chunk) {
      out += chunk;
      if (!out.includes('\n')) return;
      child.stdout.off('data', onData);
      resolve({ child, port: Number(out.trim()) });
    });
  });
}

module.exports = { median, numberOption, stringOption, rotate, hasTaskset, nextMessage, ask, autocannon, callgrindControl, startZipkinSink };
