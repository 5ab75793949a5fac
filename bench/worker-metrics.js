'use strict';
/**
 * Metrics updates through the export worker: what the app's thread pays per update when
 * StatsD sends from the main thread (`StatsdExporter.exportMetrics`: naming, formatting, hot-shots
 * buffering, in slices of ~2 ms) against handing the update to a `WorkerExporter` (packing it into
 * one buffer and one string, one `postMessage`), for the same update: `--counters` labelled
 * counters, a tenth as many gauges and meters, and `--histograms` histograms of `--values` values
 * each. The figure is the longest wait of the event loop between two of its turns (a
 * `setImmediate` chain runs beside) while one update is handed over, median over `--updates`
 * updates after `--warmup`; both send to a local UDP sink, and every update is awaited before
 * the next (for the worker, until its StatsD exporter took it).
 *
 *   npm run build && node bench/worker-metrics.js [--counters 2000] [--histograms 200] [--values 20]
 *     [--updates 200] [--warmup 50] [--dist dir]
 */
const dgram = require('node:dgram');
const path = require('node:path');
const { median, numberOption, stringOption } = require('./_util');

const args = process.argv.slice(2);
const counters = numberOption('counters', 2000);
const histograms = numberOption('histograms', 200);
const values = numberOption('values', 20);
const updates = numberOption('updates', 200);
const warmup = numberOption('warmup', 50);
const dist = path.resolve(stringOption('dist', path.join(__dirname, '..', 'dist'), args));

const { StatsdExporter } = require(path.join(dist, 'exporters/statsd'));
const { WorkerExporter } = require(path.join(dist, 'exporters/worker'));
const { EXPORT_RANKED_METRICS } = require(path.join(dist, 'lib/metrics/export-loop'));

/** One update as the registry hands it over: every entry at level rank 0. */
function makeUpdate(round) {
  const delta = (i) => ({ name: `web.requests.r${i % 50}`, labels: [['status', String(200 + (i % 5))], ['route', `/items/${i}`]], delta: 1 + ((i + round) % 7) });
  const counterEntries = Array.from({ length: counters }, (_, i) => delta(i));
  const gauges = Array.from({ length: counters / 10 }, (_, i) => ({ name: `queue.depth.q${i}`, labels: [], value: (i * 7 + round) % 100 }));
  const meters = Array.from({ length: counters / 10 }, (_, i) => ({ name: `jobs.done.j${i}`, labels: [], delta: (i + round) % 9 }));
  const histogramEntries = Array.from({ length: histograms }, (_, i) => ({
    name: `web.latency.h${i}`, labels: [], unit: 'ms', count: values, values: Array.from({ length: values }, (_, v) => 0.5 + ((v * 13 + i + round) % 400) / 3),
  }));
  const zeros = (items) => items.map(() => 0);
  return {
    update: { timestampMs: Date.now(), counters: counterEntries, gauges, meters, histograms: histogramEntries },
    ranks: { counters: zeros(counterEntries), gauges: zeros(gauges), meters: zeros(meters), histograms: zeros(histogramEntries) },
  };
}

/** The longest the event loop waited, between two turns, while one update was handed over. */
async function measure(name, exportOne) {
  const stalls = [];
  for (let i = 0; i < warmup + updates; i++) {
    const ranked = makeUpdate(i);
    let running = true;
    let last = performance.now();
    let longest = 0;
    const turn = () => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
      if (running) setImmediate(turn);
    };
    setImmediate(turn);
    last = performance.now();
    await exportOne(ranked);
    running = false;
    await new Promise((resolve) => setImmediate(resolve));
    if (i >= warmup) stalls.push(longest);
  }
  return { name, ms: median(stalls) };
}

async function main() {
  const sink = dgram.createSocket('udp4');
  let packets = 0;
  sink.on('message', () => packets++);
  await new Promise((resolve) => sink.bind(0, '127.0.0.1', resolve));
  const port = sink.address().port;
  const options = { host: '127.0.0.1', port, service: 'shop', maxValuesPerUpdate: histograms * values };
  const main = new StatsdExporter(options);
  const worker = new WorkerExporter({ exporters: [{ statsd: options }] });
  const results = [];
  // Alternate the two, so neither runs warmer.
  for (let round = 0; round < 3; round++) {
    results.push(await measure('main thread: StatsdExporter.exportMetrics', (ranked) => main.exportMetrics(ranked.update)));
    results.push(await measure('worker: WorkerExporter (pack + postMessage)', (ranked) => worker[EXPORT_RANKED_METRICS](ranked)));
  }
  await Promise.all([main.shutdown(), worker.shutdown()]);
  sink.close();
  const entries = counters + 2 * (counters / 10) + histograms;
  console.log(`worker-metrics: node ${process.version}; one update = ${counters} counters, ${counters / 10} gauges, ${counters / 10} meters, ` +
    `${histograms} histograms x ${values} values (${entries} series); median of ${updates} updates after ${warmup}, 3 alternating runs each; ${packets} packets reached the sink\n`);
  console.log('| where StatsD sends from | longest event-loop stall per update, ms (3 runs) | median |');
  console.log('|---|---:|---:|');
  for (const name of new Set(results.map((r) => r.name))) {
    const runs = results.filter((r) => r.name === name).map((r) => r.ms);
    console.log(`| ${name} | ${runs.map((ms) => ms.toFixed(3)).join(' ')} | ${median(runs).toFixed(3)} |`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
