'use strict';
// Cost of the trace page's exporter (RecentTracesExporter.export, off the request path, in the
// export queue) per span, and of building one traces.json answer over a full store.
// Run: npx tsc -p tsconfig.build.json && taskset -c 1 node bench/trace-page.js
const { RecentTracesExporter } = require('../dist/middleware/trace-page-store');
const { safeJson } = require('../dist/middleware/trace-page-json');

const SPANS = 1_000_000;
const BATCH = 512;
const ROUNDS = 7;
const hex = (n, w) => n.toString(16).padStart(w, '0');
// Traces of 5 spans (a request, 4 children), in batches as the queue hands them over.
const pool = [];
for (let i = 0; i < BATCH * 5; i++) {
  const root = i - (i % 5);
  pool.push({
    traceId: hex(Math.floor(i / 5) + 1, 32), id: hex(i + 1, 16), parentId: i % 5 ? hex(root + 1, 16) : undefined,
    name: i % 5 ? 'select' : 'GET /users/:id', service: 'shop', timestamp: 1.7e15 + i * 10, duration: 10 + (i % 7),
    notes: [], tags: { 'db.system': 'postgresql' }, sampled: true, error: i % 97 === 0 ? 'boom' : undefined,
  });
}
const batches = [];
for (let i = 0; i < pool.length; i += BATCH) batches.push(pool.slice(i, i + BATCH));

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const exportNs = [];
const listMs = [];
let bytes = 0;
for (let round = 0; round < ROUNDS; round++) {
  const store = new RecentTracesExporter();
  const t0 = process.hrtime.bigint();
  for (let n = 0, b = 0; n < SPANS; n += BATCH, b = (b + 1) % batches.length) store.export(batches[b]);
  exportNs.push(Number(process.hrtime.bigint() - t0) / SPANS);
  const t1 = process.hrtime.bigint();
  const body = safeJson({ recent: store.recent(), slowest: store.slowest(50), failed: store.failed(50) });
  listMs.push(Number(process.hrtime.bigint() - t1) / 1e6);
  bytes = body.length;
}
console.log(`RecentTracesExporter.export: median ${median(exportNs).toFixed(0)} ns/span over ${ROUNDS} rounds of ${SPANS} spans`);
console.log(`traces.json over 200 held traces: median ${median(listMs).toFixed(2)} ms, ${bytes} bytes`);
