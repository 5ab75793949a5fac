'use strict';
// For trace-page-store-memory.test.ts, run with --expose-gc: 10,000 server spans (each with a
// child query span) whose http.path is 16,000 characters, in 20 trace ids a client chose, go
// through a Tracer into the trace page's RecentTracesExporter (compiled, in DIST). Prints the
// heap retained after a full GC, before and after, and the store's own counts.
const path = require('node:path');

const dist = process.env.DIST;
const { Tracer } = require(path.join(dist, 'lib'));
const { RecentTracesExporter } = require(path.join(dist, 'middleware', 'trace-page-store.js'));

const REQUESTS = Number(process.env.REQUESTS ?? 10000);
const PATH_CHARS = Number(process.env.PATH_CHARS ?? 16000);
const traceIds = Array.from({ length: 20 }, (_, i) => (i + 1).toString(16).padStart(32, 'a'));

function retainedBytes() {
  global.gc();
  global.gc();
  return process.memoryUsage().heapUsed;
}

async function main() {
  const store = new RecentTracesExporter(JSON.parse(process.env.STORE_OPTIONS ?? '{}'));
  const tracer = new Tracer({ serviceName: 'shop', exporters: [store], scheduledDelayMs: 0, onDiagnostic: () => undefined });
  // Warm up with short paths, so code and pools are in the baseline.
  for (let i = 0; i < 200; i++) tracer.startSpan('warm').end();
  await tracer.flush();
  store.clear();
  const before = retainedBytes();
  for (let i = 0; i < REQUESTS; i++) {
    const parent = `00-${traceIds[i % traceIds.length]}-${(i + 1).toString(16).padStart(16, 'b')}-01`;
    // A flat string, as a parsed request line gives ('x'.repeat would be a tiny tree of shared halves).
    const requestPath = `/items/${i}/${Buffer.alloc(PATH_CHARS, 97 + (i % 26)).toString('latin1')}`;
    const server = tracer.startSpan('GET /items/:id', { parent, kind: 'SERVER', tags: { 'http.path': requestPath, 'http.method': 'GET' } });
    const query = tracer.startSpan('select', { parent: server, kind: 'CLIENT', tags: { 'db.statement': `select * from items where path = '${requestPath}'` } });
    query.annotate(requestPath);
    query.end();
    server.end();
    if (i % 500 === 499) await tracer.flush();
  }
  await tracer.flush();
  const after = retainedBytes();
  const stats = store.stats();
  process.stdout.write(`${JSON.stringify({ growth: after - before, stats, dropped: tracer.stats().spansDropped })}\n`);
}

main().catch((error) => {
  process.stdout.write(`${JSON.stringify({ crashed: String(error && error.stack) })}\n`);
  process.exitCode = 1;
});
