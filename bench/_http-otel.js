'use strict';
/**
 * `bench/http.js` variant `otel`: OpenTelemetry JS as its docs set it up for Node: a
 * NodeTracerProvider with a BatchSpanProcessor (defaults) and `@opentelemetry/exporter-zipkin`
 * to the local sink (ZIPKIN_URL), the http and express instrumentations registered before
 * `express` is required. Variant `otel-noop`: the same with an exporter that drops everything.
 * With BENCH_KNEX=1 the app serves `/knex` under `@opentelemetry/instrumentation-knex`.
 * EXPRESS_MODULE=express4: instrumentation-express patches the module named `express` only, so
 * for Express 4 a subclass tells it to hook `express4` instead (the same package under an alias).
 */
const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { ExpressInstrumentation } = require('@opentelemetry/instrumentation-express');
const { ZipkinExporter } = require('@opentelemetry/exporter-zipkin');

const noExport = process.env.BENCH_VARIANT === 'otel-noop';
const exporter = noExport
  ? { export: (_spans, done) => done({ code: 0 }), shutdown: () => Promise.resolve() }
  : new ZipkinExporter({ url: process.env.ZIPKIN_URL });
let exported = 0;
const counting = {
  export(spans, done) {
    exported += spans.length;
    exporter.export(spans, done);
  },
  shutdown: () => exporter.shutdown(),
  forceFlush: () => (exporter.forceFlush ? exporter.forceFlush() : Promise.resolve()),
};
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'bench-otel' }),
  spanProcessors: [new BatchSpanProcessor(counting)],
});
provider.register();
const knexOn = process.env.BENCH_KNEX === '1';
class Express4Instrumentation extends ExpressInstrumentation {
  init() {
    const definitions = super.init();
    for (const definition of definitions) definition.name = 'express4';
    return definitions;
  }
}
const express4 = process.env.EXPRESS_MODULE === 'express4';
const instrumentations = [new HttpInstrumentation(), express4 ? new Express4Instrumentation() : new ExpressInstrumentation()];
if (knexOn) instrumentations.push(new (require('@opentelemetry/instrumentation-knex').KnexInstrumentation)());
registerInstrumentations({ instrumentations });

const app = require('./_http-app');
app.serve({
  knex: knexOn ? app.makeKnex() : undefined,
  flush: () => provider.forceFlush(),
  stats: () => ({ spansExported: exported }),
});
