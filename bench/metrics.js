'use strict';
/**
 * Metrics hot paths and memory (issue 10), one process, rotating rounds, medians:
 *  - tomograph counter.inc (plain and a bound labelled child), histogram.record, a metric below
 *    the level (counter.inc and histogram.record on the shared no-op);
 *  - prom-client 15 Counter.inc, Histogram.observe (default buckets), Summary.observe (default
 *    percentiles, and with maxAgeSeconds 60 / ageBuckets 6: the sliding window tomograph keeps);
 *  - hot-shots 17 increment and timing, called directly on a real UDP client (buffered,
 *    maxBufferSize 8192) sending to a sink socket on 127.0.0.1: no mock.
 * Then retained memory per histogram with a full window (6 sub-windows of values) and per
 * counter, and how long collect() and snapshot() take over 10,000 series.
 *
 *   node --expose-gc bench/metrics.js [--ops 2000000] [--rounds 9] [--instructions]
 *
 * `--instructions` adds callgrind instruction counts per operation (needs valgrind): wall-clock
 * nanoseconds on a shared, loaded machine move by tens of percent between runs; instruction
 * counts repeat to ~0.1%. Needs `npm run build` first (it loads dist/).
 */
const dgram = require('node:dgram');
const path = require('node:path');
const { median, numberOption, rotate } = require('./_util');

const metrics = require(path.join(__dirname, '..', 'dist', 'lib', 'metrics'));
const prom = require('prom-client');
const StatsD = require('hot-shots');

const OPS = numberOption('ops', 2_000_000);
const ROUNDS = numberOption('rounds', 9);

// Latencies in ms, lognormal around 20 ms: what a histogram of request times sees.
function latencies(n, seed) {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const normal = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    out[i] = Math.exp(Math.log(20) + 1.2 * normal);
  }
  return out;
}
const VALUES = latencies(4096, 7);

/** Every variant: a name and a loop of `n` operations. Each loop is its own function, so each call site stays monomorphic. */
function makeVariants(statsd) {
  const registry = new metrics.MetricsRegistry({ onDiagnostic() {} });
  registry.configure({ level: 'info' });
  const counter = registry.counter('bench.counter');
  const child = registry.counter('bench.labelled', { labels: ['status'] }).labels({ status: '200' });
  const histogram = registry.histogram('bench.histogram', { unit: 'ms' });
  const disabledCounter = registry.counter('bench.debug.counter', { level: 'debug' });
  const disabledHistogram = registry.histogram('bench.debug.histogram', { level: 'debug' });

  const promRegistry = new prom.Registry();
  const promCounter = new prom.Counter({ name: 'bench_counter', help: 'h', registers: [promRegistry] });
  const promHistogram = new prom.Histogram({ name: 'bench_histogram', help: 'h', registers: [promRegistry] });
  const promSummary = new prom.Summary({ name: 'bench_summary', help: 'h', registers: [promRegistry] });
  const promSummaryWindow = new prom.Summary({
    name: 'bench_summary_window', help: 'h', maxAgeSeconds: 60, ageBuckets: 6, registers: [promRegistry],
  });

  return {
    'empty loop (baseline)': (n) => {
      let x = 0;
      for (let i = 0; i < n; i++) x += VALUES[i & 4095];
      return x;
    },
    'tomograph counter.inc': (n) => {
      for (let i = 0; i < n; i++) counter.inc();
    },
    'tomograph labelled child .inc': (n) => {
      for (let i = 0; i < n; i++) child.inc();
    },
    'tomograph histogram.record': (n) => {
      for (let i = 0; i < n; i++) histogram.record(VALUES[i & 4095]);
    },
    'tomograph disabled counter.inc': (n) => {
      for (let i = 0; i < n; i++) disabledCounter.inc();
    },
    'tomograph disabled histogram.record': (n) => {
      for (let i = 0; i < n; i++) disabledHistogram.record(VALUES[i & 4095]);
    },
    'prom-client Counter.inc': (n) => {
      for (let i = 0; i < n; i++) promCounter.inc();
    },
    'prom-client Histogram.observe': (n) => {
      for (let i = 0; i < n; i++) promHistogram.observe(VALUES[i & 4095]);
    },
    'prom-client Summary.observe': (n) => {
      for (let i = 0; i < n; i++) promSummary.observe(VALUES[i & 4095]);
    },
    'prom-client Summary.observe (60 s window)': (n) => {
      for (let i = 0; i < n; i++) promSummaryWindow.observe(VALUES[i & 4095]);
    },
    'hot-shots increment (UDP)': (n) => {
      for (let i = 0; i < n; i++) statsd.increment('bench.counter');
    },
    'hot-shots timing (UDP)': (n) => {
      for (let i = 0; i < n; i++) statsd.timing('bench.histogram', VALUES[i & 4095]);
    },
  };
}

function timeOne(run, n) {
  const start = process.hrtime.bigint();
  run(n);
  return Number(process.hrtime.bigint() - start) / n;
}

function gcHeap() {
  global.gc();
  global.gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/** Retained bytes per histogram after `perSubWindow` values in each of the 6 sub-windows of a 60 s window. */
function bytesPerFullHistogram(values, count, perSubWindow) {
  let nowMs = 0;
  const registry = new metrics.MetricsRegistry({ clock: () => nowMs, onDiagnostic() {} });
  const names = Array.from({ length: count }, (_, i) => `h.n${i}`);
  const before = gcHeap();
  const histograms = names.map((name) => registry.histogram(name));
  for (let sub = 0; sub < 6; sub++) {
    for (const h of histograms) for (let i = 0; i < perSubWindow; i++) h.record(values[(sub * perSubWindow + i) % values.length]);
    nowMs += 10_000;
  }
  nowMs -= 10_000; // still inside the window: all 6 sub-windows are live
  const after = gcHeap();
  const live = registry.collect()[0].series[0].value;
  if (live.count !== 6 * perSubWindow || live.p50 === undefined) throw new Error('window not full');
  return (after - before) / count;
}

function bytesPer(count, make) {
  const names = Array.from({ length: count }, (_, i) => `c_n${i}`);
  const before = gcHeap();
  const kept = make(names);
  const after = gcHeap();
  if (kept.length !== count) throw new Error('unreachable');
  return (after - before) / count;
}

function readCost() {
  const registry = new metrics.MetricsRegistry({ onDiagnostic() {} });
  const family = registry.counter('requests', { labels: ['route', 'status'], maxSeries: 20_000 });
  for (let i = 0; i < 10_000; i++) family.labels({ route: `/r${i % 1000}`, status: String(200 + (i % 10)) }).inc(i);
  const histograms = registry.histogram('latency', { labels: ['route'], maxSeries: 2000 });
  for (let r = 0; r < 1000; r++) {
    const h = histograms.labels({ route: `/r${r}` });
    for (let i = 0; i < 200; i++) h.record(VALUES[(r * 200 + i) & 4095]);
  }
  const out = {};
  for (const [what, fn] of [['collect()', () => registry.collect()], ['snapshot()', () => registry.snapshot()]]) {
    const times = [];
    for (let i = 0; i < 7; i++) {
      const start = process.hrtime.bigint();
      fn();
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    out[what] = median(times);
  }
  return out;
}

/** `--op NAME --count N`: runs one variant N times, for callgrind to count. */
async function opOnly(name, count) {
  const { statsd, close } = await udpClient();
  makeVariants(statsd)[name](count);
  await close();
}

function instructionsPerOp(name, n) {
  const { spawnSync } = require('node:child_process');
  const counts = [n, 3 * n].map((count) => {
    const run = spawnSync('valgrind', [
      '--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, '--single-threaded', __filename,
      '--op', name, '--count', String(count),
    ], { encoding: 'utf8' });
    const match = /Collected : (\d+)/.exec(run.stderr);
    if (match === null) throw new Error(`callgrind failed: ${run.stderr.slice(-500)}`);
    return Number(match[1]);
  });
  return (counts[1] - counts[0]) / (2 * n);
}

async function udpClient() {
  const sink = dgram.createSocket('udp4');
  sink.on('message', () => undefined);
  await new Promise((resolve) => sink.bind(0, '127.0.0.1', resolve));
  const statsd = new StatsD({ host: '127.0.0.1', port: sink.address().port, maxBufferSize: 8192, bufferFlushInterval: 1000, errorHandler() {} });
  const close = async () => {
    await new Promise((resolve) => statsd.close(resolve));
    sink.close();
  };
  return { statsd, close };
}

async function main() {
  const op = process.argv.indexOf('--op');
  if (op >= 0) return opOnly(process.argv[op + 1], numberOption('count', 1e6));
  if (typeof global.gc !== 'function') {
    // bench/run.js starts us without flags: start again with the GC exposed.
    const { spawnSync } = require('node:child_process');
    const rerun = spawnSync(process.execPath, ['--expose-gc', __filename, ...process.argv.slice(2)], { stdio: 'inherit' });
    process.exitCode = rerun.status ?? 1;
    return;
  }
  const { statsd, close } = await udpClient();
  const variants = makeVariants(statsd);
  const names = Object.keys(variants);
  for (const name of names) variants[name](200_000); // warm up every path before timing any
  const results = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of rotate(names, round)) {
      results[name].push(timeOne(variants[name], OPS));
      // Let hot-shots' buffered sends and the sink's reads run between variants.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  await close();
  const withInstructions = process.argv.includes('--instructions');
  const ns = (name) => median(results[name]);
  console.log(`### Hot paths (ns per operation, median of ${ROUNDS} rotating rounds of ${OPS} operations; loop overhead included)\n`);
  console.log(`| operation | ns/op |${withInstructions ? ' instructions/op (callgrind) |' : ''}`);
  console.log(`|---|---:|${withInstructions ? '---:|' : ''}`);
  const instructions = {};
  for (const name of names) {
    // Fewer operations for the slow ones, so valgrind (about 50x slower) finishes in minutes.
    if (withInstructions) instructions[name] = instructionsPerOp(name, Math.max(10_000, Math.min(1_000_000, Math.round(2e7 / ns(name)))));
    console.log(`| ${name} | ${ns(name).toFixed(1)} |${withInstructions ? ` ${instructions[name].toFixed(1)} |` : ''}`);
  }
  const ratio = (a, b) => (ns(b) / ns(a)).toFixed(1);
  console.log('\nRatios (how many times faster tomograph is, same process, medians):\n');
  console.log(`- histogram.record vs prom-client Histogram.observe: ${ratio('tomograph histogram.record', 'prom-client Histogram.observe')}x`);
  console.log(`- histogram.record vs prom-client Summary.observe: ${ratio('tomograph histogram.record', 'prom-client Summary.observe')}x (60 s window: ${ratio('tomograph histogram.record', 'prom-client Summary.observe (60 s window)')}x)`);
  console.log(`- counter.inc vs prom-client Counter.inc: ${ratio('tomograph counter.inc', 'prom-client Counter.inc')}x`);
  console.log(`- counter.inc vs hot-shots increment: ${ratio('tomograph counter.inc', 'hot-shots increment (UDP)')}x; histogram.record vs hot-shots timing: ${ratio('tomograph histogram.record', 'hot-shots timing (UDP)')}x`);
  if (withInstructions) {
    const ir = (a, b) => (instructions[b] / instructions[a]).toFixed(1);
    console.log(`- by instructions: record vs Histogram.observe ${ir('tomograph histogram.record', 'prom-client Histogram.observe')}x, vs Summary.observe ${ir('tomograph histogram.record', 'prom-client Summary.observe')}x`);
  }

  console.log('\n### Retained memory\n');
  console.log('| what | bytes |');
  console.log('|---|---:|');
  console.log(`| tomograph histogram, full 60 s window, latencies (6 × 2000 values) | ${Math.round(bytesPerFullHistogram(VALUES, 200, 2000))} |`);
  console.log(`| tomograph histogram, full 60 s window, log-uniform 1e-3..1e9 (6 × 2000 values) | ${Math.round(bytesPerFullHistogram(Float64Array.from({ length: 12000 }, (_, i) => 10 ** (-3 + (12 * ((i * 7919) % 12000)) / 12000)), 200, 2000))} |`);
  console.log(`| tomograph counter (names made beforehand) | ${Math.round(bytesPer(10_000, (names) => {
    const registry = new metrics.MetricsRegistry();
    return names.map((name) => { const c = registry.counter(name); c.inc(); return c; });
  }))} |`);
  console.log(`| tomograph labelled child counter | ${Math.round(bytesPer(10_000, (names) => {
    const family = new metrics.MetricsRegistry().counter('c', { labels: ['id'], maxSeries: 20_000 });
    return names.map((name) => { const c = family.labels({ id: name }); c.inc(); return c; });
  }))} |`);
  console.log(`| prom-client Counter | ${Math.round(bytesPer(10_000, (names) => {
    const registry = new prom.Registry();
    return names.map((name) => { const c = new prom.Counter({ name, help: 'h', registers: [registry] }); c.inc(); return c; });
  }))} |`);
  console.log(`| prom-client Summary (60 s window, 6 age buckets), latencies (12000 values) | ${Math.round(bytesPer(200, (names) => {
    const registry = new prom.Registry();
    return names.map((name) => {
      const s = new prom.Summary({ name, help: 'h', maxAgeSeconds: 60, ageBuckets: 6, registers: [registry] });
      for (let i = 0; i < 12000; i++) s.observe(VALUES[i & 4095]);
      return s;
    });
  }))} |`);

  const reads = readCost();
  console.log(`\n### Reading 10,000 counter series and 1,000 histogram series (median of 7)\n`);
  console.log(`collect(): ${reads['collect()'].toFixed(1)} ms; snapshot(): ${reads['snapshot()'].toFixed(1)} ms`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
