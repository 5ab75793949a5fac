'use strict';
/**
 * `bench/http.js` variant `zipkin-js`: a zipkin `Tracer` with `zipkin-context-cls` (cls-hooked,
 * the context zipkin-js documents for async/await), a `BatchRecorder` and `zipkin-transport-http`
 * (JSON_V2) to the local sink (ZIPKIN_URL), `zipkin-instrumentation-express` on the app.
 * With BENCH_KNEX=1 the app serves `/knex`; zipkin-js has no Knex instrumentation, so the query
 * is not traced (only the request is).
 */
const { Tracer, BatchRecorder, jsonEncoder } = require('zipkin');
const CLSContext = require('zipkin-context-cls');
const { HttpLogger } = require('zipkin-transport-http');
const { expressMiddleware } = require('zipkin-instrumentation-express');

let logged = 0;
const logger = new HttpLogger({
  endpoint: process.env.ZIPKIN_URL,
  jsonEncoder: jsonEncoder.JSON_V2,
  // bench/instructions.js stretches it: timers run slow under callgrind.
  httpInterval: Number(process.env.BENCH_ZIPKIN_JS_INTERVAL_MS) || 1000,
});
const counting = {
  logSpan(span) {
    logged++;
    logger.logSpan(span);
  },
};
const recorder = new BatchRecorder({ logger: counting });
const tracer = new Tracer({ ctxImpl: new CLSContext('zipkin', true), recorder, localServiceName: 'bench-zipkin-js' });

/** Sends what the recorder and the logger hold; resolves when the sink answered. */
function flush() {
  recorder.flush();
  if (logger.queue.length === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    logger.once('success', () => resolve());
    logger.once('error', reject);
    logger.processQueue(logger.fetchImplementation);
  });
}

const app = require('./_http-app');
app.serve({
  knex: process.env.BENCH_KNEX === '1' ? app.makeKnex() : undefined,
  use: (app) => app.use(expressMiddleware({ tracer })),
  flush,
  stats: () => ({ spansExported: logged }),
});
