'use strict';
/**
 * `bench/http.js` variant `tomograph`: `expressMiddleware` + `instrumentHttp` + `ZipkinExporter`
 * to the local sink (ZIPKIN_URL), everything else at its defaults. From the built `dist/`
 * (TOMOGRAPH_DIST overrides). Variant `tomograph-noexport`: the same with an exporter that
 * drops every batch (the cost of tracing alone).
 */
const path = require('node:path');

const dist = process.env.TOMOGRAPH_DIST || path.join(__dirname, '..', 'dist');
const { Tracer } = require(path.join(dist, 'lib'));
const { expressMiddleware } = require(path.join(dist, 'middleware/express'));
const { instrumentHttp } = require(path.join(dist, 'integrations/http'));
const { ZipkinExporter } = require(path.join(dist, 'exporters/zipkin'));

const noExport = process.env.BENCH_VARIANT === 'tomograph-noexport';
const exporter = noExport ? { export() {} } : new ZipkinExporter({ url: process.env.ZIPKIN_URL });
const tracer = new Tracer({ serviceName: 'bench-tomograph', exporters: [exporter] });
instrumentHttp({ tracer });

require('./_http-app').serve({
  use: (app) => app.use(expressMiddleware({ tracer })),
  flush: () => tracer.flush(),
  stats: () => {
    const s = tracer.stats();
    return { spansFinished: s.spansFinished, spansExported: s.spansExported, dropped: s.spansDropped, exportErrors: s.exportErrors };
  },
});
