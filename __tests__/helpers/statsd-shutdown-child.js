'use strict';
// A short-lived app for statsd-shutdown.test.ts: it traces some work through a StatsdExporter
// from the compiled package (DIST), calls tracer.shutdown() and then simply returns, so the test
// can check that the process exits by itself with every metric delivered and its socket closed.
// It never calls process.exit.
const diagnosticsChannel = require('node:diagnostics_channel');

// Watch the sockets the exporter opens, through Node's own channels (nothing is patched).
const sockets = [];
const watch = (kind) => ({ socket }) => {
  const entry = { kind, closed: false };
  sockets.push(entry);
  socket.on('close', () => {
    entry.closed = true;
  });
};
diagnosticsChannel.subscribe('udp.socket', watch('udp'));
diagnosticsChannel.subscribe('net.client.socket', watch('tcp'));

const { Tracer } = require(`${process.env.DIST}/lib/index.js`);
const { StatsdExporter } = require(`${process.env.DIST}/exporters/statsd.js`);

const diagnostics = [];
const exporter = new StatsdExporter({
  port: Number(process.env.PORT),
  protocol: process.env.PROTOCOL,
  prefix: process.env.PREFIX,
  hostname: 'child-host',
  onDiagnostic: (event) => diagnostics.push(event.message),
});
// The default scheduledDelayMs (1000): the spans are still queued when shutdown() is called.
const tracer = new Tracer({ serviceName: 'child', exporters: [exporter] });

const count = Number(process.env.SPANS);
for (let i = 0; i < count; i++) tracer.trace('job', (span) => span.annotate('done'));

tracer.shutdown().then(() => {
  // Socket 'close' events are emitted asynchronously: report on the next turn.
  setImmediate(() => {
    process.stdout.write(JSON.stringify({ shutdown: true, sockets, diagnostics }) + '\n');
  });
});
