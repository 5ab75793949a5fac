'use strict';
/**
 * The span loop `bench/worker-export.js` runs under callgrind: rounds of `BATCH` finished spans
 * shaped like an HTTP server span (kind SERVER, 4 attributes), each round flushed (exported and
 * settled) before the next, so every counted round exports exactly one full batch.
 *   tomograph-noexport  tomograph, an exporter that drops every batch
 *   tomograph           tomograph, ZipkinExporter on the main thread
 *   tomograph-worker    tomograph, Zipkin export in a worker thread (exportIn: 'worker')
 *   otel-noop           OpenTelemetry BasicTracerProvider + BatchSpanProcessor, an exporter that drops
 *   otel                the same with @opentelemetry/exporter-zipkin
 * IPC: after WARMUP_ROUNDS it sends 'warm' and waits for 'go'; after ROUNDS more it sends
 * { done, spans } and waits to be killed. ZIPKIN_URL: the sink. TOMOGRAPH_DIST: the build.
 */
const path = require('node:path');

const variant = process.env.BENCH_VARIANT;
const dist = process.env.TOMOGRAPH_DIST || path.join(__dirname, '..', 'dist');
const BATCH = 512;
const warmupRounds = Number(process.env.WARMUP_ROUNDS || 20);
const rounds = Number(process.env.ROUNDS || 20);
const DELAY_MS = 600000;

function tomograph() {
  const { Tracer } = require(path.join(dist, 'index.js'));
  const common = { serviceName: 'bench-spans', maxBatchSize: BATCH, scheduledDelayMs: DELAY_MS, host: { address: '10.0.0.1', port: 8080 } };
  const options =
    variant === 'tomograph-noexport' ? { ...common, exporters: [{ export() {} }] }
      : variant === 'tomograph-worker' ? { ...common, exportIn: 'worker', exporters: [{ zipkin: { url: process.env.ZIPKIN_URL } }] }
        : { ...common, exporters: [new (require(path.join(dist, 'exporters/zipkin.js')).ZipkinExporter)({ url: process.env.ZIPKIN_URL })] };
  const tracer = new Tracer(options);
  return {
    span(i) {
      tracer.startSpan('GET /hello', { kind: 'SERVER' })
        .tag('http.method', 'GET').tag('http.route', '/hello').tag('http.status_code', 200).tag('http.target', `/hello?i=${i & 7}`)
        .end();
    },
    flush: () => tracer.flush(),
  };
}

function otel() {
  const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
  const { resourceFromAttributes } = require('@opentelemetry/resources');
  const { ZipkinExporter } = require('@opentelemetry/exporter-zipkin');
  const { SpanKind } = require('@opentelemetry/api');
  const exporter = variant === 'otel-noop'
    ? { export: (_spans, done) => done({ code: 0 }), shutdown: () => Promise.resolve() }
    : new ZipkinExporter({ url: process.env.ZIPKIN_URL });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'bench-spans' }),
    spanProcessors: [new BatchSpanProcessor(exporter, { maxExportBatchSize: BATCH, maxQueueSize: 2048, scheduledDelayMillis: DELAY_MS })],
  });
  const tracer = provider.getTracer('bench');
  return {
    span(i) {
      tracer.startSpan('GET /hello', {
        kind: SpanKind.SERVER,
        attributes: { 'http.method': 'GET', 'http.route': '/hello', 'http.status_code': 200, 'http.target': `/hello?i=${i & 7}` },
      }).end();
    },
    flush: () => provider.forceFlush(),
  };
}

const app = variant.startsWith('otel') ? otel() : tomograph();

async function run(count) {
  for (let r = 0; r < count; r++) {
    for (let i = 0; i < BATCH; i++) app.span(i);
    await app.flush();
  }
}

(async () => {
  await run(warmupRounds);
  process.send('warm');
  await new Promise((resolve) => process.once('message', resolve));
  await run(rounds);
  process.send({ done: true, spans: rounds * BATCH });
})();
