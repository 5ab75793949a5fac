'use strict';
// A short-lived app for worker.test.ts: it traces some work with exportIn: 'worker' from the
// compiled package (DIST) and then simply returns, without shutdown() or process.exit, so the test
// can check that the process exits by itself and that the spans still reached the collector
// (flushed when the loop empties). It prints its stats as JSON on exit.
const { Tracer } = require(`${process.env.DIST}/index.js`);

const tracer = new Tracer({
  serviceName: 'worker-child',
  exportIn: 'worker',
  exporters: [{ zipkin: { url: process.env.ZIPKIN_URL } }],
  scheduledDelayMs: 60000,
});
const count = Number(process.env.SPANS);
for (let i = 0; i < count; i++) tracer.trace(`work ${i}`, () => undefined);
process.on('exit', () => {
  process.stdout.write(JSON.stringify(tracer.stats()));
});
