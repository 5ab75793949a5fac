'use strict';
/**
 * Graphite benchmark (issue 11): what `GraphiteExporter` costs per push of a 1,000-metric tree
 * (700 counters, 200 gauges, 100 histograms: 2,100 numeric leaves, so 2,100 lines), and how many
 * lines a second it pushes into a TCP sink that reads as fast as it can (a forked process
 * standing in for carbon, counting newlines). Per round, same process:
 *   - `snapshot()` alone: the registry read every push starts with (the floor),
 *   - `push()` to a connected sink: snapshot + lines + socket writes, CPU per push
 *     (process.cpuUsage, user + system) and wall time until the sink has every line.
 * Variants alternate order every round; medians of the rounds are quoted.
 *
 *   npx tsc -p tsconfig.build.json && node bench/graphite.js [--rounds 7] [--pushes 200]
 */
const { fork } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const { median, numberOption, rotate, nextMessage } = require('./_util');

if (process.argv[2] === '--sink') {
  // The sink: counts lines, tells the parent when the expected number arrived.
  let expected = Infinity;
  let lines = 0;
  const server = net.createServer((socket) => {
    socket.on('data', (chunk) => {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
      if (lines >= expected) {
        process.send({ type: 'got', lines });
        expected = Infinity;
      }
    });
  });
  server.listen(0, '127.0.0.1', () => process.send({ type: 'port', port: server.address().port }));
  process.on('message', (m) => {
    if (m.type === 'expect') {
      expected = m.lines;
      if (lines >= expected) {
        process.send({ type: 'got', lines });
        expected = Infinity;
      }
    } else if (m.type === 'stop') process.exit(0);
  });
  return;
}

const DIST = path.join(__dirname, '..', 'dist');
const { MetricsRegistry } = require(path.join(DIST, 'lib', 'metrics'));
const { GraphiteExporter } = require(path.join(DIST, 'exporters', 'graphite'));

const rounds = numberOption('rounds', 7);
const pushes = numberOption('pushes', 200);

function registryOf1000() {
  const registry = new MetricsRegistry();
  for (let i = 0; i < 700; i++) registry.counter(`svc.area${i % 20}.counter${i}`).inc(i * 1.5);
  for (let i = 0; i < 200; i++) registry.gauge(`svc.pool${i % 10}.gauge${i}`).set(i / 7);
  for (let i = 0; i < 100; i++) {
    const h = registry.histogram(`svc.latency.route${i}`, { unit: 'ms' });
    for (let k = 1; k <= 200; k++) h.record(k * 0.37 + i);
  }
  return registry;
}

const next = nextMessage;

async function main() {
  const sink = fork(__filename, ['--sink']);
  const { port } = await next(sink, 'port');
  const registry = registryOf1000();
  const exporter = new GraphiteExporter({ port, prefix: 'bench', registry, maxBufferedLines: 1e6, intervalMs: 3600000 });
  const leaves = (function count(node) {
    let n = 0;
    for (const v of Object.values(node)) n += typeof v === 'number' ? 1 : v && typeof v === 'object' ? count(v) : 0;
    return n;
  })(registry.snapshot());
  let sent = 0;
  // Warm-up: connect, JIT.
  for (let i = 0; i < 20; i++) exporter.push();
  sent += 20 * leaves;
  sink.send({ type: 'expect', lines: sent });
  await next(sink, 'got');

  const results = { snapshot: [], push: [] };
  const wall = [];
  for (let round = 0; round < rounds; round++) {
    for (const variant of rotate(['snapshot', 'push'], round)) {
      if (variant === 'snapshot') {
        const cpu = process.cpuUsage();
        for (let i = 0; i < pushes; i++) registry.snapshot();
        const used = process.cpuUsage(cpu);
        results.snapshot.push((used.user + used.system) / pushes);
      } else {
        const started = process.hrtime.bigint();
        const cpu = process.cpuUsage();
        for (let i = 0; i < pushes; i++) exporter.push();
        sent += pushes * leaves;
        sink.send({ type: 'expect', lines: sent });
        await next(sink, 'got');
        const used = process.cpuUsage(cpu);
        const ns = Number(process.hrtime.bigint() - started);
        results.push.push((used.user + used.system) / pushes);
        wall.push((pushes * leaves) / (ns / 1e9));
      }
    }
  }
  await exporter.shutdown();
  sink.send({ type: 'stop' });
  const snap = median(results.snapshot);
  const push = median(results.push);
  console.log(`1,000 metrics (700 counters, 200 gauges, 100 histograms) = ${leaves} lines per push; ${rounds} rounds x ${pushes} pushes, medians`);
  console.log('');
  console.log('| measure | value |');
  console.log('|---|---|');
  console.log(`| CPU per snapshot() alone | ${(snap / 1000).toFixed(2)} ms |`);
  console.log(`| CPU per push (snapshot + lines + socket writes) | ${(push / 1000).toFixed(2)} ms |`);
  console.log(`| of which Graphite's own (push - snapshot) | ${((push - snap) / 1000).toFixed(2)} ms (${((push - snap) / leaves * 1000).toFixed(0)} ns per line) |`);
  console.log(`| lines per second into a local TCP sink | ${Math.round(median(wall)).toLocaleString('en-US')} |`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
