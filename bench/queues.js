'use strict';
/**
 * Queues: the tracer's cost per message published and consumed, against the real brokers
 * (RabbitMQ 127.0.0.1:5672, Redis 127.0.0.1:6379; a broker that is absent is skipped).
 *
 * amqplib: one process publishes `--messages` messages with `sendToQueue` (one "request" span
 * around each, for the traced variants) on one channel and consumes them on another, acking each;
 * a block ends when the last is acked. Variants: untraced; a tomograph `trace()` span per
 * message without and with `instrumentAmqplib` on both channels; an OpenTelemetry
 * `startActiveSpan` span per message (sdk-trace-node, BatchSpanProcessor, an exporter that drops
 * everything) without and with `@opentelemetry/instrumentation-amqplib` (`enable()`/`disable()`
 * between blocks). BullMQ: `Queue.add` of `--jobs` jobs, processed by a Worker in the same
 * process; untraced, a tomograph span per add, and that plus `instrumentQueue` and
 * `tracedProcessor`.
 *
 * The figure is this process's CPU time (user + system) per message, which leaves out the
 * broker's own work and the time the process waits for it, and is what a busy shared machine
 * disturbs least; wall time per message is shown too. Blocks rotate order every round; medians
 * over rounds.
 *
 *   npm run build && node bench/queues.js [--rounds 11] [--messages 2000] [--jobs 300]
 */
const { randomBytes } = require('node:crypto');
const net = require('node:net');
const { median, numberOption, rotate } = require('./_util');

const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const noopExporter = { export: (spans, done) => done({ code: 0 }), shutdown: async () => undefined };
new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(noopExporter)] }).register();
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { AmqplibInstrumentation } = require('@opentelemetry/instrumentation-amqplib');
const otelAmqplib = new AmqplibInstrumentation();
registerInstrumentations({ instrumentations: [otelAmqplib] });
const otelTracer = require('@opentelemetry/api').trace.getTracer('bench');
const amqplib = require('amqplib');
otelAmqplib.disable();

const { Tracer } = require('../dist/lib/index.js');
const { instrumentAmqplib } = require('../dist/integrations/amqplib.js');
const { instrumentQueue, tracedProcessor } = require('../dist/integrations/bullmq.js');

const ROUNDS = numberOption('rounds', 11);
const MESSAGES = numberOption('messages', 2000);
const JOBS = numberOption('jobs', 300);
const tracer = new Tracer({ serviceName: 'bench', exporters: [{ export() {} }], maxQueueSize: 100_000 });
const oneHeaderTracer = new Tracer({ serviceName: 'bench', exporters: [{ export() {} }], maxQueueSize: 100_000, propagation: ['traceparent'] });
const unique = (what) => `tomograph-bench-${what}-${process.pid}-${randomBytes(4).toString('hex')}`;

function reachable(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(1000, () => { socket.destroy(); resolve(false); });
    socket.on('connect', () => { socket.destroy(); resolve(true); });
    socket.on('error', () => resolve(false));
  });
}

/** Runs `block` (which resolves when its work is done) and returns CPU and wall µs per item. */
async function measure(items, block) {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await block();
  const used = process.cpuUsage(cpu);
  return { cpuUs: (used.user + used.system) / items, wallUs: Number(process.hrtime.bigint() - start) / 1000 / items };
}

async function rotateRounds(variants, runOne) {
  const names = Object.keys(variants);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (const name of names) await runOne(name); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of rotate(names, round)) samples[name].push(await runOne(name));
  }
  return samples;
}

function table(variants, samples, unit) {
  const names = Object.keys(variants);
  const base = median(samples[names[0]].map((s) => s.cpuUs));
  console.log(`| variant | CPU µs per ${unit} (median) | vs. untraced | wall µs per ${unit} (median) |`);
  console.log('|---|---:|---:|---:|');
  for (const name of names) {
    const cpu = median(samples[name].map((s) => s.cpuUs));
    const wall = median(samples[name].map((s) => s.wallUs));
    console.log(`| ${name}: ${variants[name]} | ${cpu.toFixed(1)} | ${(cpu / base).toFixed(2)}x | ${wall.toFixed(1)} |`);
  }
}

/* --------------------------------------- amqplib --------------------------------------- */

const AMQP_VARIANTS = {
  untraced: 'no tracing',
  'tomograph-request': 'a `trace()` span per message, amqplib not instrumented',
  'tomograph-request+amqplib': 'the same, plus `instrumentAmqplib` on both channels (PRODUCER and CONSUMER spans)',
  'tomograph-request+amqplib, traceparent only': "the same with `propagation: ['traceparent']` (one header, as OpenTelemetry writes, instead of the default three)",
  'otel-request': 'a `startActiveSpan` span per message, amqplib not instrumented',
  'otel-request+amqplib': 'the same, plus `@opentelemetry/instrumentation-amqplib`',
};

async function amqpBlock(connection, variant) {
  const queue = unique('q');
  if (variant === 'otel-request+amqplib') otelAmqplib.enable();
  const publisher = await connection.createChannel();
  const consumer = await connection.createChannel();
  await publisher.assertQueue(queue, { durable: false, autoDelete: false });
  await consumer.prefetch(100);
  const t = variant.endsWith('traceparent only') ? oneHeaderTracer : tracer;
  const undos = variant.startsWith('tomograph-request+amqplib') ? [instrumentAmqplib(publisher, { tracer: t }), instrumentAmqplib(consumer, { tracer: t })] : [];
  let acked = 0;
  let allAcked;
  const done = new Promise((resolve) => (allAcked = resolve));
  await consumer.consume(queue, (msg) => {
    consumer.ack(msg);
    if (++acked === MESSAGES) allAcked();
  });
  const body = Buffer.from('{"order":42}');
  const publish = variant.startsWith('tomograph')
    ? () => t.trace('request', () => publisher.sendToQueue(queue, body))
    : variant.startsWith('otel')
      ? () => otelTracer.startActiveSpan('request', (span) => { const ok = publisher.sendToQueue(queue, body); span.end(); return ok; })
      : () => publisher.sendToQueue(queue, body);
  const result = await measure(MESSAGES, async () => {
    for (let i = 0; i < MESSAGES; i++) {
      if (!publish()) await new Promise((resolve) => publisher.once('drain', resolve));
    }
    await done;
  });
  for (const undo of undos) undo();
  await consumer.close();
  await publisher.deleteQueue(queue);
  await publisher.close();
  otelAmqplib.disable();
  return result;
}

/* ---------------------------------------- BullMQ ---------------------------------------- */

const BULL_VARIANTS = {
  untraced: 'no tracing',
  'tomograph-request': 'a `trace()` span per add, BullMQ not instrumented',
  'tomograph-request+bullmq': 'the same, plus `instrumentQueue` and `tracedProcessor` (PRODUCER and CONSUMER spans)',
  'tomograph-request+bullmq, traceparent only': "the same with `propagation: ['traceparent']`",
};

async function bullmqBench() {
  const { Queue, Worker } = require('bullmq');
  const connection = { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null };
  const prefix = unique('bull');
  const queue = new Queue('bench', { connection, prefix });
  let processed = 0;
  let onProcessed = () => undefined;
  const plain = async () => {
    if (++processed === JOBS) onProcessed();
  };
  const traced = tracedProcessor(plain, { tracer });
  const tracedOneHeader = tracedProcessor(plain, { tracer: oneHeaderTracer });
  let current = plain;
  const worker = new Worker('bench', (job) => current(job), { connection, prefix, concurrency: 50 });
  await worker.waitUntilReady();
  const samples = await rotateRounds(BULL_VARIANTS, async (variant) => {
    processed = 0;
    const done = new Promise((resolve) => (onProcessed = resolve));
    const oneHeader = variant.endsWith('traceparent only');
    const t = oneHeader ? oneHeaderTracer : tracer;
    const instrumented = variant.startsWith('tomograph-request+bullmq');
    current = !instrumented ? plain : oneHeader ? tracedOneHeader : traced;
    const undo = instrumented ? instrumentQueue(queue, { tracer: t }) : () => undefined;
    const add = variant === 'untraced' ? (i) => queue.add('job', { i }) : (i) => t.trace('request', () => queue.add('job', { i }));
    const result = await measure(JOBS, async () => {
      const adds = [];
      for (let i = 0; i < JOBS; i++) adds.push(add(i));
      await Promise.all(adds);
      await done;
    });
    undo();
    return result;
  });
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return samples;
}

async function main() {
  console.log(`Node ${process.version}; ${ROUNDS} rounds; CPU time of this process (user + system).\n`);
  if (await reachable(5672)) {
    const connection = await amqplib.connect('amqp://guest:guest@127.0.0.1:5672');
    const samples = await rotateRounds(AMQP_VARIANTS, (variant) => amqpBlock(connection, variant));
    await connection.close();
    console.log(`### amqplib: ${MESSAGES} messages published and consumed per block\n`);
    table(AMQP_VARIANTS, samples, 'message');
  } else {
    console.log('amqplib: skipped, no RabbitMQ on 127.0.0.1:5672');
  }
  console.log('');
  if (await reachable(6379)) {
    const samples = await bullmqBench();
    console.log(`### BullMQ: ${JOBS} jobs added and processed per block\n`);
    table(BULL_VARIANTS, samples, 'job');
  } else {
    console.log('BullMQ: skipped, no Redis on 127.0.0.1:6379');
  }
  await tracer.shutdown();
  await oneHeaderTracer.shutdown();
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
