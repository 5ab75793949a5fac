'use strict';
/**
 * StatsD export benchmark (issue 3): the same finished spans through `StatsdExporter` and through
 * plain hot-shots calls with the metric names already built (the least any StatsD client can do),
 * to a local UDP sink on the other core. For each variant it measures
 *   - the time spent inside `export()` per span: what the app's event loop pays synchronously,
 *   - the process CPU time per span over the whole run (also send callbacks and the syscalls),
 *   - packets and metrics per second that reached the sink.
 * Each measurement runs in a fresh child process pinned to core 1, the sink is pinned to core 0,
 * variants rotate order every round, and the median of the rounds is quoted.
 *
 *   npx tsc -p tsconfig.build.json && node bench/statsd-export.js [--rounds 5] [--batches 400]
 *
 * OpenTelemetry JS and zipkin-js have no StatsD exporter, so plain hot-shots is the comparison.
 */
const { execFileSync, fork, spawnSync } = require('node:child_process');
const dgram = require('node:dgram');
const path = require('node:path');
const { median, nextMessage } = require('./_util');

const BATCH_SPANS = 512;
const WARMUP_BATCHES = 40;

const VARIANTS = {
  exporter: 'StatsdExporter, defaults (1432-byte packets, flushed at the end of each export)',
  'hot-shots': 'plain hot-shots, names prebuilt, maxBufferSize 1432, flush() after each batch',
  'exporter-unbuffered': 'StatsdExporter, maxBufferSize 0 (one packet per metric)',
  'hot-shots-unbuffered': 'plain hot-shots, names prebuilt, maxBufferSize 0',
};

/**
 * One batch of finished spans: 128 traces of 4 spans (`GET /users/:id` > `load user` >
 * `select`, and `render`), one note on `load user`, one trace in 16 failing: 5 metrics a trace.
 */
function makeBatch() {
  const spans = [];
  let id = 1;
  const span = (name, localParent, durationUs, notes, error) => ({
    traceId: '0af7651916cd43dd8448eb211c80319c',
    id: (id++).toString(16).padStart(16, '0'),
    parentId: localParent && localParent.id,
    name,
    service: 'shop',
    timestamp: 1_700_000_000_000_000,
    duration: durationUs,
    notes,
    tags: {},
    error,
    sampled: true,
    localParent,
  });
  for (let t = 0; spans.length < BATCH_SPANS; t++) {
    const root = span('GET /users/:id', undefined, 12000 + t * 13, []);
    const load = span('load user', root, 6000 + t * 7, [{ timestamp: root.timestamp, value: 'cache miss' }],
      t % 16 === 0 ? 'db down' : undefined);
    const select = span('select', load, 2500 + t * 3, []);
    const render = span('render', root, 3000 + t * 5, []);
    spans.push(select, load, render, root); // children end first
  }
  return spans;
}

/** The calls a hand-written integration would make for the batch: names built once, up front. */
function plainCalls(batch, prefix, host) {
  const pathOf = (span) => {
    const parts = [];
    for (let s = span; s; s = s.localParent) parts.unshift(s.name.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^_+|_+$/g, ''));
    return `${prefix}.shop.${host}.${parts.join('.children.')}`;
  };
  const calls = [];
  for (const span of batch) {
    const base = pathOf(span);
    calls.push({ type: 'ms', name: `${base}.${span.error === undefined ? 'ok' : 'error'}`, value: span.duration / 1000 });
    for (const note of span.notes) calls.push({ type: 'c', name: `${base}.notes.${note.value.replace(/\W+/g, '_')}` });
  }
  return calls;
}

/** Child: send `batches` batches through one variant, yielding to the event loop between them. */
async function child(variant, port, batches) {
  const dist = path.join(__dirname, '..', 'dist');
  const batch = makeBatch();
  const buffered = !variant.endsWith('-unbuffered');
  let send;
  let flush;
  if (variant.startsWith('exporter')) {
    const { StatsdExporter } = require(path.join(dist, 'exporters', 'statsd.js'));
    const exporter = new StatsdExporter({
      port,
      hostname: 'bench-host',
      ...(buffered ? {} : { maxBufferSize: 0 }),
      onDiagnostic: (event) => process.stderr.write(`${event.message}\n`),
    });
    send = () => exporter.export(batch);
    flush = () => exporter.flush();
  } else {
    const { StatsD } = require('hot-shots');
    const client = new StatsD({
      host: '127.0.0.1',
      port,
      cacheDns: true,
      maxBufferSize: buffered ? 1432 : 0,
      errorHandler: (error) => process.stderr.write(`${error.message}\n`),
    });
    const calls = plainCalls(batch, 'tomograph', 'bench-host');
    send = () => {
      for (let i = 0; i < calls.length; i++) {
        const call = calls[i];
        if (call.type === 'ms') client.timing(call.name, call.value);
        else client.increment(call.name, 1);
      }
      client.flush();
    };
    flush = () => new Promise((resolve) => client.flush(() => resolve()));
  }
  const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));

  for (let i = 0; i < WARMUP_BATCHES; i++) {
    send();
    await yieldToLoop();
  }
  await flush();
  process.send({ type: 'warm' });
  await new Promise((resolve) => process.once('message', resolve)); // the sink has been reset

  let insideNs = 0n;
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < batches; i++) {
    const t0 = process.hrtime.bigint();
    send();
    insideNs += process.hrtime.bigint() - t0;
    await yieldToLoop();
  }
  await flush();
  const wallNs = Number(process.hrtime.bigint() - start);
  const cpu = process.cpuUsage(cpuStart);
  const spans = batches * batch.length;
  process.send({
    type: 'done',
    spans,
    wallNs,
    insideNsPerSpan: Number(insideNs) / spans,
    cpuNsPerSpan: ((cpu.user + cpu.system) * 1000) / spans,
  });
}

/** The sink: counts UDP packets and metric lines; answers `count` and `reset` over IPC. */
function sink() {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
  let packets = 0;
  let lines = 0;
  let last = 0n;
  socket.on('message', (msg) => {
    packets++;
    for (let i = 0; i < msg.length; i++) if (msg[i] === 10) lines++;
    lines++;
    last = process.hrtime.bigint();
  });
  socket.bind(0, '127.0.0.1', () => process.send({ type: 'port', port: socket.address().port }));
  process.on('message', (message) => {
    if (message === 'reset') {
      packets = 0;
      lines = 0;
      process.send({ type: 'reset' });
    } else if (message === 'count') {
      // Let packets still in the socket buffer arrive: answer once 50 ms pass without one.
      const answer = () => {
        if (process.hrtime.bigint() - last < 50_000_000n) setTimeout(answer, 10);
        else process.send({ type: 'count', packets, lines });
      };
      answer();
    } else if (message === 'exit') {
      socket.close();
      process.exit(0);
    }
  });
}

/** Sends `message` to the sink process and resolves with its next reply of `type`. */
function request(proc, message, type) {
  const reply = nextMessage(proc, type);
  proc.send(message);
  return reply;
}

function waitFor(proc, type) {
  return new Promise((resolve, reject) => {
    const onMessage = (message) => {
      if (message.type !== type) return;
      proc.off('message', onMessage);
      resolve(message);
    };
    proc.on('message', onMessage);
    proc.once('exit', (code) => reject(new Error(`child exited (${code}) before ${type}`)));
  });
}

async function main() {
  const args = process.argv.slice(2);
  const opt = (name, fallback) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const rounds = opt('rounds', 5);
  const batches = opt('batches', 400);
  const pin = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  const forkPinned = (core, argv) =>
    pin
      ? fork(__filename, argv, { execPath: 'taskset', execArgv: ['-c', String(core), process.execPath] })
      : fork(__filename, argv);

  const sinkProc = forkPinned(0, ['--sink']);
  const { port } = await waitFor(sinkProc, 'port');
  const names = Object.keys(VARIANTS);
  const results = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < rounds; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length]);
    for (const variant of order) {
      const proc = forkPinned(1, ['--child', variant, String(port), String(batches)]);
      await waitFor(proc, 'warm');
      await request(sinkProc, 'reset', 'reset');
      proc.send('go');
      const done = await waitFor(proc, 'done');
      proc.kill();
      const counted = await request(sinkProc, 'count', 'count');
      results[variant].push({
        inside: done.insideNsPerSpan,
        cpu: done.cpuNsPerSpan,
        pps: counted.packets / (done.wallNs / 1e9),
        mps: counted.lines / (done.wallNs / 1e9),
        delivered: counted.lines / (done.spans * 1.25), // 5 metrics per 4 spans
      });
    }
  }
  sinkProc.send('exit');

  const m = (variant, key) => median(results[variant].map((r) => r[key]));
  console.log(`statsd-export: batches of ${BATCH_SPANS} spans (5 metrics per 4 spans), ${batches} batches, ${rounds} rounds, medians${pin ? '; sender on core 1, UDP sink on core 0' : ''}`);
  console.log('| variant | ns/span inside export | CPU ns/span (all) | packets/s at sink | metrics/s at sink | delivered | what |');
  console.log('|---|---|---|---|---|---|---|');
  for (const n of names) {
    console.log(`| ${n} | ${m(n, 'inside').toFixed(0)} | ${m(n, 'cpu').toFixed(0)} | ${(m(n, 'pps') / 1e3).toFixed(1)} k | ${(m(n, 'mps') / 1e3).toFixed(0)} k | ${(m(n, 'delivered') * 100).toFixed(1)}% | ${VARIANTS[n]} |`);
  }
  const ratio = (a, b, key) => (m(a, key) / m(b, key)).toFixed(2);
  console.log(`\nexporter vs plain hot-shots, time inside export per span: ${ratio('exporter', 'hot-shots', 'inside')}x buffered, ${ratio('exporter-unbuffered', 'hot-shots-unbuffered', 'inside')}x unbuffered`);
}

if (process.argv[2] === '--child') {
  process.once('message', () => undefined); // replaced below; keeps the IPC channel listening
  void child(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
} else if (process.argv[2] === '--sink') {
  sink();
} else {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
