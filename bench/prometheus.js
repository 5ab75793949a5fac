'use strict';
// A Prometheus scrape of 10,000 series: how long it takes, and the longest the event loop is held
// up meanwhile, for tomograph (prometheusText at once, and prometheusHandler serving it in slices
// over HTTP) against prom-client's register.metrics() on the same series, in one process,
// rotating the order each round, medians over the rounds.
// The series: 40 counters, 30 gauges and 30 histograms (summaries: 6 quantiles, _sum, _count),
// each with 100 label sets (route x status), 20 values per histogram series; then 50 counters and
// 50 gauges of 100 label sets.
// Stall: a chain of setImmediate callbacks runs beside the work; the longest gap between two of
// them is the longest time the loop could not answer anything else, in CPU time of this process
// (what it would be on an idle core) and in wall-clock time (which on a shared machine also
// holds the time other processes had the core). The HTTP scraper is a child process, as
// Prometheus is another process: its reading and parsing are not the app's stall.
// Run: npm run build && node bench/prometheus.js [--rounds 9]
const http = require('node:http');
const { fork } = require('node:child_process');
const promClient = require('prom-client');
const { MetricsRegistry } = require('../dist/lib/metrics');
const { PrometheusRenderer, prometheusHandler, prometheusText } = require('../dist/exporters/prometheus');
const { metricsByPath, renderStatsPage } = require('../dist/middleware/stats-page-html');
const { median, numberOption, rotate } = require('./_util');

const ROUNDS = numberOption('rounds', 9);
// Two workloads of 10,000 series: the mixed one, and one without histograms, whose collect() is
// cheap, so the stall left is the rendering's own.
const WORKLOADS = [
  { name: 'mixed', counters: 40, gauges: 30, histograms: 30 },
  { name: 'counters and gauges only', counters: 50, gauges: 50, histograms: 0 },
];
const LABEL_SETS = 100;
const VALUES = 20;
const QUANTILES = [0.5, 0.75, 0.95, 0.98, 0.99, 0.999];

const labelSets = [];
for (let r = 0; r < LABEL_SETS / 5; r++) {
  for (const status of ['200', '201', '404', '409', '500']) labelSets.push({ route: `/api/resource${r}/:id`, status });
}
const value = (i, j) => 1 + ((i * 7919 + j * 104729) % 1000) / 10;

function buildTomograph({ counters: COUNTERS, gauges: GAUGES, histograms: HISTOGRAMS }) {
  const registry = new MetricsRegistry();
  for (let m = 0; m < COUNTERS; m++) {
    const c = registry.counter(`app.c${m}`, { description: `counter ${m}`, labels: ['route', 'status'] });
    labelSets.forEach((labels, i) => c.labels(labels).inc(i + 1));
  }
  for (let m = 0; m < GAUGES; m++) {
    const g = registry.gauge(`app.g${m}`, { description: `gauge ${m}`, labels: ['route', 'status'] });
    labelSets.forEach((labels, i) => g.labels(labels).set(i * 1.5));
  }
  for (let m = 0; m < HISTOGRAMS; m++) {
    // A window longer than the run, so every round renders the quantile lines.
    const h = registry.histogram(`app.h${m}`, { description: `histogram ${m}`, unit: 'ms', labels: ['route', 'status'], windowMs: 3_600_000 });
    labelSets.forEach((labels, i) => {
      const child = h.labels(labels);
      for (let j = 0; j < VALUES; j++) child.record(value(i, j));
    });
  }
  return registry;
}

function buildPromClient({ counters: COUNTERS, gauges: GAUGES, histograms: HISTOGRAMS }) {
  const register = new promClient.Registry();
  for (let m = 0; m < COUNTERS; m++) {
    const c = new promClient.Counter({ name: `app_c${m}_total`, help: `counter ${m}`, labelNames: ['route', 'status'], registers: [register] });
    labelSets.forEach((labels, i) => c.inc(labels, i + 1));
  }
  for (let m = 0; m < GAUGES; m++) {
    const g = new promClient.Gauge({ name: `app_g${m}`, help: `gauge ${m}`, labelNames: ['route', 'status'], registers: [register] });
    labelSets.forEach((labels, i) => g.set(labels, i * 1.5));
  }
  for (let m = 0; m < HISTOGRAMS; m++) {
    // The sliding-window summary, as close as prom-client comes to ours (quantiles of the last minute).
    const s = new promClient.Summary({
      name: `app_h${m}`, help: `histogram ${m}`, labelNames: ['route', 'status'], percentiles: QUANTILES,
      maxAgeSeconds: 3600, ageBuckets: 6, registers: [register],
    });
    labelSets.forEach((labels, i) => {
      for (let j = 0; j < VALUES; j++) s.observe(labels, value(i, j));
    });
  }
  return register;
}

/** CPU time of this process so far, in ms (user + system). */
function cpuMs() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * Runs `work` (sync or async) beside a setImmediate chain: total ms, and the longest gap between
 * two ticks both in wall-clock ms and in CPU ms. On a machine shared with other work the wall
 * gap includes time the OS gave to other processes; the CPU gap is the work done without
 * yielding, which is what the event loop's stall would be on an idle core.
 */
async function measure(work) {
  let last = performance.now();
  let lastCpu = cpuMs();
  let maxGap = 0;
  let maxCpuGap = 0;
  let running = true;
  const tick = () => {
    const now = performance.now();
    const cpu = cpuMs();
    if (now - last > maxGap) maxGap = now - last;
    if (cpu - lastCpu > maxCpuGap) maxCpuGap = cpu - lastCpu;
    last = now;
    lastCpu = cpu;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const t0 = performance.now();
  const c0 = cpuMs();
  const result = await work();
  const totalMs = performance.now() - t0;
  const totalCpuMs = cpuMs() - c0;
  running = false;
  // The gap that holds the work's end counts too.
  const end = performance.now();
  const endCpu = cpuMs();
  if (end - last > maxGap) maxGap = end - last;
  if (endCpu - lastCpu > maxCpuGap) maxCpuGap = endCpu - lastCpu;
  return { totalMs, totalCpuMs, maxGap, maxCpuGap, bytes: typeof result === 'number' ? result : Buffer.byteLength(result) };
}

// The scraper runs in a child process, as Prometheus would: reading 2 MB off the socket and
// parsing HTTP is the scraper's work, and counted here it would show up as the app's stall.
let scraper;
let scrapeId = 0;
const pendingScrapes = new Map();
function startScraper() {
  scraper = fork(__filename, ['--scraper'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  scraper.on('message', ({ id, bytes, error }) => {
    const pending = pendingScrapes.get(id);
    pendingScrapes.delete(id);
    if (error !== undefined) pending.reject(new Error(error));
    else pending.resolve(bytes);
  });
}
function scrape(port) {
  return new Promise((resolve, reject) => {
    const id = ++scrapeId;
    pendingScrapes.set(id, { resolve, reject });
    scraper.send({ id, port });
  });
}
function runScraper() {
  const keepAlive = new http.Agent({ keepAlive: true });
  process.on('message', ({ id, port }) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics', agent: keepAlive, headers: { 'accept-encoding': 'identity' } }, (res) => {
      let bytes = 0;
      res.on('data', (chunk) => (bytes += chunk.length));
      res.on('end', () => process.send({ id, bytes }));
    }).on('error', (error) => process.send({ id, error: String(error) }));
  });
  process.on('disconnect', () => keepAlive.destroy());
}

async function run(workload) {
  const registry = buildTomograph(workload);
  const register = buildPromClient(workload);
  const series = registry.collect().reduce((n, m) => n + m.series.length, 0);
  const handler = prometheusHandler({ registry });
  const server = http.createServer(handler);
  // Rounds can be far apart on a busy machine: keep the scraper's connection open between them.
  server.keepAliveTimeout = 600_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();

  // Where a handler's longest stall comes from: its one synchronous collect(), or its longest slice.
  const collectMs = [];
  const sliceMs = [];
  const wholeMs = [];
  const statelessMs = [];
  const variants = {
    'tomograph prometheusText() (sync)': () => prometheusText(registry),
    'tomograph prometheusHandler() over HTTP': () => scrape(port),
    'prom-client register.metrics()': () => register.metrics(),
  };
  const names = Object.keys(variants);
  const results = Object.fromEntries(names.map((name) => [name, { totalMs: [], totalCpuMs: [], maxGap: [], maxCpuGap: [], bytes: 0 }]));
  for (let warm = 0; warm < 3; warm++) for (const name of names) await variants[name]();
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of rotate(names, round)) {
      const { totalMs, totalCpuMs, maxGap, maxCpuGap, bytes } = await measure(variants[name]);
      results[name].totalMs.push(totalMs);
      results[name].totalCpuMs.push(totalCpuMs);
      results[name].maxGap.push(maxGap);
      results[name].maxCpuGap.push(maxCpuGap);
      results[name].bytes = bytes;
    }
    // The handler's steps, timed one by one in CPU ms: the longest collection piece and the
    // longest render slice (500 series or 2 ms each, as the handler's defaults).
    const cursor = registry.collectCursor({ states: false });
    const renderer = new PrometheusRenderer([], { more: true });
    let longestCollect = 0;
    let longest = 0;
    while (!renderer.done) {
      const c1 = cpuMs();
      if (renderer.pending || cursor.done) {
        if (cursor.done) renderer.end();
        renderer.next(500, 2);
        longest = Math.max(longest, cpuMs() - c1);
      } else {
        renderer.add(cursor.next(500, 2));
        longestCollect = Math.max(longestCollect, cpuMs() - c1);
      }
    }
    collectMs.push(longestCollect);
    sliceMs.push(longest);
    // The whole collect() at once, with and without the histogram states, for the record.
    let c0 = cpuMs();
    registry.collect();
    wholeMs.push(cpuMs() - c0);
    c0 = cpuMs();
    registry.collect({ states: false });
    statelessMs.push(cpuMs() - c0);
  }
  server.close();

  const base = median(results['prom-client register.metrics()'].totalCpuMs);
  console.log(`### ${workload.name}: ${series} series (${workload.counters} counters, ${workload.gauges} gauges, ` +
    `${workload.histograms} histograms, x ${LABEL_SETS} label sets), ${ROUNDS} rounds, medians\n`);
  console.log('| scrape | CPU ms | prom-client CPU / this | longest stall, CPU ms | wall ms | longest stall, wall ms | bytes |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const name of names) {
    const r = results[name];
    const cpu = median(r.totalCpuMs);
    console.log(`| ${name} | ${cpu.toFixed(1)} | ${(base / cpu).toFixed(2)}x | ${median(r.maxCpuGap).toFixed(2)} | ` +
      `${median(r.totalMs).toFixed(1)} | ${median(r.maxGap).toFixed(2)} | ${r.bytes} |`);
  }
  console.log(`\nThe handler's synchronous steps, CPU ms (medians): longest collection piece (collectCursor, ` +
    `500 series or 2 ms) ${median(collectMs).toFixed(2)}; longest render slice (500 series or 2 ms) ` +
    `${median(sliceMs).toFixed(2)}; for comparison, the whole registry.collect() at once ${median(wholeMs).toFixed(2)} ` +
    `with histogram states, ${median(statelessMs).toFixed(2)} with states: false\n`);

  // The stats page's HTML of the whole tree: one synchronous answer (a page for people, not a scrape).
  const pageMs = [];
  let pageBytes = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const c0 = cpuMs();
    const html = renderStatsPage({
      title: 'bench', base: '/_stats', keys: [], value: registry.snapshot(), metrics: metricsByPath(registry.collect({ states: false })),
      query: '', takenAtMs: Date.now(),
    });
    pageMs.push(cpuMs() - c0);
    pageBytes = html.length;
  }
  console.log(`Stats page HTML of the whole tree (snapshot + collect + render): median ${median(pageMs).toFixed(1)} CPU ms, ${pageBytes} bytes\n`);
}

async function main() {
  startScraper();
  try {
    for (const workload of WORKLOADS) await run(workload);
  } finally {
    scraper.disconnect();
  }
}

if (process.argv.includes('--scraper')) runScraper();
else {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
