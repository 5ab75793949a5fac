'use strict';
/**
 * The loop `bench/zipkin-encode-instructions.js` runs under callgrind: WARMUP then BATCHES
 * batches of 512 finished spans shaped as `expressMiddleware` leaves them (SERVER, renamed to
 * the route, http.method / http.path / http.route / http.status_code, the local endpoint), each
 * batch one of 16 distinct ones made up front (8192 spans, past the encoder's string caches).
 * MODE: encode (encodeZipkinSpan per span, strings kept), body (encodeZipkinBodies), post
 * (ZipkinExporter.export to the sink at ZIPKIN_URL, awaited). TOMOGRAPH_DIST: the build.
 */
const path = require('node:path');

const dist = process.env.TOMOGRAPH_DIST || path.join(__dirname, '..', 'dist');
const mode = process.env.MODE || 'body';
const warmup = Number(process.env.WARMUP || 40);
const batches = Number(process.env.BATCHES || 20);
const BATCH = 512;
const DISTINCT = 16;

const { Tracer } = require(path.join(dist, 'lib'));
const zipkin = require(path.join(dist, 'exporters/zipkin'));

const finished = [];
const tracer = new Tracer({ serviceName: 'bench-tomograph', maxBatchSize: BATCH, scheduledDelayMs: 600000, exporters: [{ export: (spans) => void finished.push(...spans) }] });
const routes = ['/hello', '/json', '/users/:id', '/orders/:id/items'];

async function makeSpans() {
  for (let i = 0; i < BATCH * DISTINCT; i++) {
    const route = routes[i & 3];
    const span = tracer.startSpan('GET', { kind: 'SERVER', parent: null, host: { address: '127.0.0.1', port: 3000 } });
    span.tag('http.method', 'GET');
    span.tag('http.path', route.replace(/:id/g, String(i)));
    span.updateName(`GET ${route}`);
    span.tag('http.route', route);
    span.tag('http.status_code', 200);
    span.end();
  }
  await tracer.flush();
  const out = [];
  for (let b = 0; b < DISTINCT; b++) out.push(finished.slice(b * BATCH, (b + 1) * BATCH));
  return out;
}

(async () => {
  const pool = await makeSpans();
  let step;
  if (mode === 'encode') {
    let keep;
    step = (spans) => {
      keep = new Array(spans.length);
      for (let i = 0; i < spans.length; i++) keep[i] = zipkin.encodeZipkinSpan(spans[i]);
    };
  } else if (mode === 'body') {
    step = (spans) => zipkin.encodeZipkinBodies(spans, 1024 * 1024);
  } else if (mode === 'post') {
    const exporter = new zipkin.ZipkinExporter({ url: process.env.ZIPKIN_URL, timeoutMs: 60000, deadlineMs: 120000, maxRetries: 0 });
    step = (spans) => exporter.export(spans);
  } else throw new Error(`unknown MODE ${mode}`);
  for (let i = 0; i < warmup; i++) await step(pool[i % DISTINCT]);
  global.gc();
  for (let i = warmup; i < warmup + batches; i++) await step(pool[i % DISTINCT]);
  if (process.env.CHECK === '1' && mode !== 'encode') {
    const body = zipkin.encodeZipkinBodies(pool[0])[0].body.toString();
    const expected = JSON.stringify(pool[0].map(zipkin.toZipkinSpan));
    if (body !== expected) throw new Error('encoded body differs from JSON.stringify(toZipkinSpan)');
    console.log(body.slice(0, 400));
  }
  process.exit(0);
})();
