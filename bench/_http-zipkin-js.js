'use strict';
/**
 * `bench/http.js` variant `zipkin-js`: a zipkin `Tracer` with `zipkin-context-cls` (cls-hooked,
 * the context zipkin-js documents for async/await), a `BatchRecorder` and `zipkin-transport-http`
 * (JSON_V2) to the local sink (ZIPKIN_URL), `zipkin-instrumentation-express` on the app.
 */
const { Tracer, BatchRecorder, jsonEncoder } = require('zipkin');
const CLSContext = require('zipkin-context-cls');
const { HttpLogger } = require('zipkin-transport-http');
const { expressMiddleware } = require('zipkin-instrumentation-express');

let logged = 0;
const logger = new HttpLogger({ endpoint: process.env.ZIPKIN_URL, jsonEncoder: jsonEncoder.JSON_V2 });
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

require('./_http-app').serve({
  use: (app) => app.use(expressMiddleware({ tracer })),
  flush,
  stats: () => ({ spansExported: logged }),
});
