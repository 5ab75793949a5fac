'use strict';
/**
 * Host-wide stats benchmark (issue 11). Eight processes each expose a 1,000-metric registry
 * (700 counters, 200 gauges, 100 histograms holding values) with `exposeStats`; the parent
 * collects them with `collectHostStats`. It measures
 *   - in each exposing process, the event-loop time one collection costs it: the handler's
 *     synchronous work (collect() + JSON), timed around the real handler by wrapping
 *     `registry.collect` and `JSON.stringify` is not possible from outside, so the child times
 *     the same two calls the handler makes, and separately reports its event-loop utilisation
 *     (performance.eventLoopUtilization) over 10 s while the parent polls every second, against
 *     10 s without polling;
 *   - in the parent, the wall time of one `collectHostStats` across the 8 processes (connect,
 *     read, parse, validate, merge 8 x 1,000 metrics including 100 histogram sketch merges).
 * Medians of the rounds are quoted.
 *
 *   npx tsc -p tsconfig.build.json && node bench/host-stats.js [--rounds 20] [--processes 8]
 */
const { fork } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { median, numberOption, nextMessage } = require('./_util');

const DIST = path.join(__dirname, '..', 'dist');

if (process.argv[2] === '--child') {
  const { MetricsRegistry } = require(path.join(DIST, 'lib', 'metrics'));
  const { exposeStats } = require(path.join(DIST, 'exporters', 'host-stats'));
  const registry = new MetricsRegistry();
  for (let i = 0; i < 700; i++) registry.counter(`svc.area${i % 20}.counter${i}`).inc(i);
  for (let i = 0; i < 200; i++) registry.gauge(`svc.pool${i % 10}.gauge${i}`).set(i);
  for (let i = 0; i < 100; i++) {
    const h = registry.histogram(`svc.latency.route${i}`, { unit: 'ms' });
    for (let k = 1; k <= 1000; k++) h.record(k * 0.37 * (i + 1));
  }
  const exposure = exposeStats({ dir: process.env.DIR, registry });
  exposure.ready.then(() => process.send({ type: 'ready' }));
  process.on('message', (m) => {
    if (m.type === 'sync-cost') {
      // The handler's synchronous work, as it does it: collect() then one JSON document.
      // Wall time is inflated when the machine is busy (the process is descheduled), so the CPU
      // time of the same section is reported too.
      const times = [];
      const cpus = [];
      let bytes = 0;
      for (let i = 0; i < 50; i++) {
        const t = process.hrtime.bigint();
        const cpu = process.cpuUsage();
        const body = JSON.stringify({ v: 1, pid: process.pid, startedAtMs: 0, service: 's', metrics: registry.collect(), gauges: {} });
        const used = process.cpuUsage(cpu);
        times.push(Number(process.hrtime.bigint() - t) / 1e6);
        cpus.push((used.user + used.system) / 1000);
        bytes = body.length;
      }
      times.sort((a, b) => a - b);
      cpus.sort((a, b) => a - b);
      process.send({ type: 'sync-cost', ms: times[times.length >> 1], cpuMs: cpus[cpus.length >> 1], bytes });
    } else if (m.type === 'elu-start') {
      this.elu = performance.eventLoopUtilization();
      process.send({ type: 'elu-started' });
    } else if (m.type === 'elu-stop') {
      const elu = performance.eventLoopUtilization(this.elu);
      process.send({ type: 'elu', activeMs: elu.active });
    } else if (m.type === 'stop') {
      process.exit(0);
    }
  });
  // Keep a little steady work going, as an app would: a timer every 10 ms.
  setInterval(() => {}, 10);
  return;
}

const { collectHostStats } = require(path.join(DIST, 'exporters', 'host-stats'));
const rounds = numberOption('rounds', 20);
const count = numberOption('processes', 8);

const next = nextMessage;

async function eluOver(children, ms, poll) {
  await Promise.all(children.map((c) => {
    const started = next(c, 'elu-started');
    c.send({ type: 'elu-start' });
    return started;
  }));
  const end = Date.now() + ms;
  let polls = 0;
  while (Date.now() < end) {
    if (poll) {
      await collectHostStats({ dir: process.env.BENCH_DIR });
      polls++;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, Math.max(0, end - Date.now()))));
  }
  const values = await Promise.all(children.map((c) => {
    const got = next(c, 'elu');
    c.send({ type: 'elu-stop' });
    return got;
  }));
  return { activeMs: median(values.map((v) => v.activeMs)), polls };
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tomograph-bench-hs-'));
  process.env.BENCH_DIR = dir;
  const children = [];
  for (let i = 0; i < count; i++) children.push(fork(__filename, ['--child'], { env: { ...process.env, DIR: dir } }));
  await Promise.all(children.map((c) => next(c, 'ready')));
  try {
    // Warm-up.
    for (let i = 0; i < 5; i++) await collectHostStats({ dir, timeoutMs: 5000 });
    const walls = [];
    let stats;
    for (let i = 0; i < rounds; i++) {
      const t = process.hrtime.bigint();
      stats = await collectHostStats({ dir, timeoutMs: 5000 });
      walls.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    if (stats.processes !== count) throw new Error(`collected ${stats.processes} of ${count}`);
    const sync = await Promise.all(children.map((c) => {
      const got = next(c, 'sync-cost');
      c.send({ type: 'sync-cost' });
      return got;
    }));
    const idle = await eluOver(children, 10000, false);
    const polled = await eluOver(children, 10000, true);
    const perCollection = (polled.activeMs - idle.activeMs) / polled.polls;
    console.log(`${count} processes x 1,000 metrics (700 counters, 200 gauges, 100 histograms of 1,000 values); medians`);
    console.log('');
    console.log('| measure | value |');
    console.log('|---|---|');
    console.log(`| answer size per process | ${(median(sync.map((s) => s.bytes)) / 1024).toFixed(0)} KiB |`);
    console.log(`| event-loop time per collection in an exposing process: collect() + JSON, wall | ${median(sync.map((s) => s.ms)).toFixed(2)} ms |`);
    console.log(`| same section, CPU time | ${median(sync.map((s) => s.cpuMs)).toFixed(2)} ms |`);
    console.log(`| same, from event-loop utilisation: (active ms polled - idle) / polls, ${polled.polls} polls in 10 s | ${perCollection.toFixed(2)} ms |`);
    console.log(`| collectHostStats wall time across ${count} processes (${rounds} runs) | ${median(walls).toFixed(1)} ms (min ${Math.min(...walls).toFixed(1)}, max ${Math.max(...walls).toFixed(1)}) |`);
  } finally {
    for (const c of children) c.send({ type: 'stop' });
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
