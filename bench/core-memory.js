'use strict';
/**
 * Core memory benchmark (issue 2), two parts:
 *  1. Retained heap per queued span: N root+child span pairs finish into a queue that does not
 *     export yet; heap after GC minus heap before, divided by spans. Against OpenTelemetry's
 *     BatchSpanProcessor and zipkin-js's BatchRecorder (its logger keeping what it is given).
 *  2. The queue bound against a producer ten times faster than its exporter.
 *
 *   node --expose-gc bench/core-memory.js [--spans 100000] [--rounds 5]
 *
 * Needs `npm run build` first (it loads dist/).
 */
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { median, numberOption, rotate } = require('./_util');

const dist = path.join(__dirname, '..', 'dist', 'lib');

function gcHeap() {
  global.gc();
  global.gc();
  return process.memoryUsage().heapUsed;
}

function makeProducer(variant, pairs) {
  const huge = 2_000_000_000; // ms: no timer fires during the measurement
  switch (variant) {
    case 'tomograph': {
      const { Tracer } = require(dist);
      const tracer = new Tracer({
        serviceName: 'bench',
        exporters: [{ export() {} }],
        maxQueueSize: pairs * 2 + 10000,
        maxBatchSize: pairs * 2 + 10000,
        scheduledDelayMs: huge,
        onDiagnostic() {},
      });
      const inner = () => undefined;
      const outer = () => tracer.trace('child', inner);
      return { run: () => tracer.trace('parent', outer), queued: () => tracer.stats().spansQueued };
    }
    case 'otel': {
      const api = require('@opentelemetry/api');
      const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
      const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
      api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      const processor = new BatchSpanProcessor(
        { export: (spans, done) => done({ code: 0 }), shutdown: async () => {} },
        { maxQueueSize: pairs * 2 + 10000, maxExportBatchSize: pairs * 2 + 10000, scheduledDelayMillis: huge },
      );
      const tracer = new BasicTracerProvider({ spanProcessors: [processor] }).getTracer('bench');
      const inner = (span) => span.end();
      const outer = (span) => {
        tracer.startActiveSpan('child', inner);
        span.end();
      };
      return { run: () => tracer.startActiveSpan('parent', outer), queued: () => processor._finishedSpans.length };
    }
    case 'zipkin': {
      const zipkin = require('zipkin');
      const kept = [];
      const recorder = new zipkin.BatchRecorder({ logger: { logSpan: (span) => kept.push(span) } });
      const tracer = new zipkin.Tracer({
        ctxImpl: new zipkin.ExplicitContext(),
        recorder,
        localServiceName: 'bench',
        traceId128Bit: true,
      });
      const inner = () => undefined;
      const outer = () => tracer.local('child', inner);
      return { run: () => tracer.local('parent', outer), queued: () => kept.length };
    }
    default:
      throw new Error(`unknown variant ${variant}`);
  }
}

function retainedChild(variant, pairs) {
  const producer = makeProducer(variant, pairs);
  for (let i = 0; i < 1000; i++) producer.run(); // load code and warm up before the baseline
  const before = gcHeap();
  const queuedBefore = producer.queued();
  for (let i = 0; i < pairs; i++) producer.run();
  const after = gcHeap();
  const spans = producer.queued() - queuedBefore;
  process.stdout.write(JSON.stringify({ variant, spans, bytesPerSpan: (after - before) / spans }));
  process.exit(0);
}

/** A producer ten times faster than its exporter; samples the queue and the heap. */
async function boundChild(seconds) {
  const { Tracer } = require(dist);
  const batchMs = 10;
  const batchSize = 512;
  let exported = 0;
  const slowExporter = {
    export: (spans) =>
      new Promise((resolve) =>
        setTimeout(() => {
          exported += spans.length;
          resolve();
        }, batchMs),
      ),
  };
  const tracer = new Tracer({ serviceName: 'bench', exporters: [slowExporter], scheduledDelayMs: 5, onDiagnostic() {} });
  const exporterRate = (batchSize * 1000) / batchMs; // spans per second the exporter can take
  const perTick = Math.ceil((exporterRate * 10) / 1000); // ten times that, produced every ms
  let maxQueued = 0;
  let maxHeap = 0;
  const baseline = gcHeap();
  const endAt = Date.now() + seconds * 1000;
  let produced = 0;
  while (Date.now() < endAt) {
    const tickEnd = Date.now() + 1;
    for (let i = 0; i < perTick; i++) tracer.trace('produce', () => undefined);
    produced += perTick;
    maxQueued = Math.max(maxQueued, tracer.stats().spansQueued);
    maxHeap = Math.max(maxHeap, process.memoryUsage().heapUsed);
    while (Date.now() < tickEnd) await new Promise((resolve) => setImmediate(resolve));
  }
  await tracer.flush();
  const stats = tracer.stats();
  const drops = Object.values(stats.spansDropped).reduce((a, b) => a + b, 0);
  process.stdout.write(
    JSON.stringify({
      seconds,
      produced,
      producedPerSec: Math.round(produced / seconds),
      exporterCapacityPerSec: exporterRate,
      exported,
      dropped: drops,
      queueFull: stats.spansDropped.queueFull,
      balanced: stats.spansFinished === stats.spansExported + stats.spansQueued + drops,
      maxQueued,
      heapGrowthMB: ((maxHeap - baseline) / 1048576).toFixed(1),
    }),
  );
  process.exit(0);
}


function main() {
  const opt = numberOption;
  const pairs = opt('spans', 100000) / 2;
  const rounds = opt('rounds', 5);
  const variants = ['tomograph', 'otel', 'zipkin'];
  const results = Object.fromEntries(variants.map((v) => [v, []]));
  for (let round = 0; round < rounds; round++) {
    for (const variant of rotate(variants, round)) {
      const out = execFileSync(process.execPath, ['--expose-gc', __filename, '--retained', variant, String(pairs)]);
      results[variant].push(JSON.parse(out.toString()).bytesPerSpan);
    }
  }
  console.log(`core-memory: retained heap per queued span, ${pairs * 2} spans, median of ${rounds} rounds`);
  console.log('| variant | bytes/span |');
  console.log('|---|---|');
  for (const v of variants) console.log(`| ${v} | ${Math.round(median(results[v]))} |`);
  const bound = JSON.parse(
    execFileSync(process.execPath, ['--expose-gc', __filename, '--bound', '3']).toString(),
  );
  console.log('\ncore-memory: queue bound (maxQueueSize 2048) against a producer 10x faster than the exporter');
  console.log('```json\n' + JSON.stringify(bound, null, 2) + '\n```');
}

if (process.argv[2] === '--retained') retainedChild(process.argv[3], Number(process.argv[4]));
else if (process.argv[2] === '--bound') void boundChild(Number(process.argv[3]));
else main();
