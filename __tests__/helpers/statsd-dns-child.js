'use strict';
// An app for statsd-dns.test.ts: 1,000 traced spans a second through a StatsdExporter (from the
// compiled package, DIST) whose host does not resolve, while it times its own
// dns.lookup('localhost') calls; then tracer.shutdown(), timed, and a JSON report. It never
// calls process.exit: the test checks that it exits by itself.
const dns = require('node:dns');
const { performance } = require('node:perf_hooks');

// Counts every lookup in the process (hot-shots and the exporter call dns.lookup through the module).
const lookups = { total: {}, inFlight: 0, maxInFlight: 0 };
const original = dns.lookup;
dns.lookup = function countedLookup(hostname, ...rest) {
  lookups.total[hostname] = (lookups.total[hostname] ?? 0) + 1;
  lookups.inFlight++;
  lookups.maxInFlight = Math.max(lookups.maxInFlight, lookups.inFlight);
  const callback = rest.pop();
  return original.call(this, hostname, ...rest, (...args) => {
    lookups.inFlight--;
    callback(...args);
  });
};

const { Tracer } = require(`${process.env.DIST}/lib/index.js`);
const { StatsdExporter } = require(`${process.env.DIST}/exporters/statsd.js`);

const host = process.env.STATSD_HOST;
const runMs = Number(process.env.RUN_MS);
const diagnostics = {};
const exporter = new StatsdExporter({
  host,
  port: 8125,
  protocol: process.env.PROTOCOL,
  onDiagnostic: (event) => (diagnostics[event.code] = (diagnostics[event.code] ?? 0) + 1),
});
const tracer = new Tracer({ serviceName: 'dns-child', exporters: [exporter], scheduledDelayMs: 100 });

// The app's own lookups, each timed; one at a time, every 100 ms.
const localhostMs = [];
let probing = true;
function probe() {
  if (!probing) return;
  const started = performance.now();
  original('localhost', () => {
    localhostMs.push(performance.now() - started);
    setTimeout(probe, 100);
  });
}
probe();

let spans = 0;
const started = Date.now();
// 1,000 spans a second: each tick catches up with the clock, so a busy machine keeps the rate.
const producer = setInterval(() => {
  const elapsedMs = Date.now() - started;
  while (spans < Math.min(elapsedMs, runMs)) {
    tracer.trace('checkout', (span) => span.annotate('paid'));
    spans++;
  }
  if (elapsedMs < runMs) return;
  clearInterval(producer);
  probing = false;
  const shutdownStarted = performance.now();
  tracer.shutdown().then(() => {
    const report = {
      spans,
      shutdownMs: performance.now() - shutdownStarted,
      lookups: { total: lookups.total, maxInFlight: lookups.maxInFlight, inFlightAtEnd: lookups.inFlight },
      localhostMs,
      exporter: exporter.stats(),
      tracer: tracer.stats(),
      diagnostics,
    };
    process.stdout.write(JSON.stringify(report) + '\n');
  });
}, 10);
