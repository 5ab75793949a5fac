'use strict';
/**
 * `bench/http.js` / `bench/instructions.js` variants served by tomograph: `expressMiddleware` +
 * `instrumentHttp` + an exporter, everything else at its defaults. From the built `dist/`
 * (TOMOGRAPH_DIST overrides). BENCH_VARIANT picks the exporter:
 *   tomograph           `ZipkinExporter` to the local sink (ZIPKIN_URL)
 *   tomograph-noexport  an exporter that drops every batch (the cost of tracing alone)
 *   tomograph-encode    an exporter that encodes each batch as the Zipkin exporter does, and drops it
 *   tomograph-statsd    `StatsdExporter` (UDP) to the local sink (STATSD_PORT)
 *   tomograph-worker    Zipkin export to the local sink from a worker thread (`exportIn: 'worker'`)
 *   tomograph-router-channel  as `tomograph`, plus a subscriber (that does nothing) on the router's
 *                      `express.router.request` error channel: what the middleware paid before it
 *                      read the router's own record of errors instead (a piece variant)
 *   tomograph-unsampled  as `tomograph-noexport` with `sampler: 0`: every span unsampled, so the
 *                      middleware starts a non-recording span and records, tracks and queues nothing
 *   tomograph-copy, tomograph-no-*, tomograph-context-only  exporter that drops, and a copy of the
 *                      middleware with one piece left out (`_http-tomograph-pieces.js`)
 * With BENCH_KNEX=1 the app serves `/knex`, its Knex instance under `instrumentKnex`.
 */
const path = require('node:path');

const dist = process.env.TOMOGRAPH_DIST || path.join(__dirname, '..', 'dist');
const { Tracer } = require(path.join(dist, 'lib'));
const { expressMiddleware } = require(path.join(dist, 'middleware/express'));
const { instrumentHttp } = require(path.join(dist, 'integrations/http'));

const variant = process.env.BENCH_VARIANT || 'tomograph';
const { PIECES, pieceMiddleware } = require('./_http-tomograph-pieces');
const pieceVariant = PIECES.includes(variant);
if (variant === 'tomograph-router-channel') {
  require('node:diagnostics_channel').subscribe('tracing:express.router.request:error', () => {});
}
function makeExporter() {
  switch (variant) {
    case 'tomograph-noexport':
    case 'tomograph-unsampled':
      return { export() {} };
    case 'tomograph-encode': {
      const { encodeZipkinBodies } = require(path.join(dist, 'exporters/zipkin'));
      return { export: (spans) => void encodeZipkinBodies(spans) };
    }
    case 'tomograph-statsd': {
      const { StatsdExporter } = require(path.join(dist, 'exporters/statsd'));
      return new StatsdExporter({ host: '127.0.0.1', port: Number(process.env.STATSD_PORT) });
    }
    default: {
      if (pieceVariant) return { export() {} };
      const { ZipkinExporter } = require(path.join(dist, 'exporters/zipkin'));
      return new ZipkinExporter({ url: process.env.ZIPKIN_URL });
    }
  }
}
// exportIn: 'worker' takes exporters described by data; the package entry registers how to run them.
// BENCH_WORKER_PRIORITY sets the worker thread's nice value (WorkerExporter's `priority`) instead of its default.
const inWorker = variant.startsWith('tomograph-worker');
if (inWorker) require(path.join(dist, 'exporters/env'));
function workerExporters() {
  const zipkin = { zipkin: { url: process.env.ZIPKIN_URL } };
  if (!process.env.BENCH_WORKER_PRIORITY) return [zipkin];
  const { WorkerExporter } = require(path.join(dist, 'exporters/worker'));
  return [new WorkerExporter({ exporters: [zipkin], priority: Number(process.env.BENCH_WORKER_PRIORITY) })];
}
const options = inWorker
  ? { serviceName: 'bench-tomograph', exportIn: 'worker', exporters: workerExporters() }
  : { serviceName: 'bench-tomograph', exporters: [makeExporter()] };
if (process.env.BENCH_TRACER_OPTIONS) Object.assign(options, JSON.parse(process.env.BENCH_TRACER_OPTIONS));
if (variant === 'tomograph-unsampled') options.sampler = 0;
const tracer = new Tracer(options);
instrumentHttp({ tracer });

const app = require('./_http-app');
let knex;
if (process.env.BENCH_KNEX === '1') {
  const { instrumentKnex } = require(path.join(dist, 'integrations/knex'));
  knex = app.makeKnex();
  instrumentKnex(knex, { tracer });
}

app.serve({
  use: (express) => express.use(pieceVariant ? pieceMiddleware(tracer, variant) : expressMiddleware({ tracer })),
  knex,
  flush: () => tracer.flush(),
  stats: () => {
    const s = tracer.stats();
    return { spansFinished: s.spansFinished, spansExported: s.spansExported, dropped: s.spansDropped, exportErrors: s.exportErrors };
  },
});
