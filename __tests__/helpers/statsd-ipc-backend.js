'use strict';
// A StatsD daemon backend for tests (see statsd-daemon.ts): it forwards what the real daemon
// receives and flushes to the parent test process over the child-process IPC channel.
// Plain JavaScript because the daemon (node_modules/statsd) `require`s it directly.

function send(message) {
  // The parent may already be gone (a test that ended early); a daemon must not crash for that.
  if (process.connected) process.send(message, (error) => void error);
}

exports.init = function init(startupTime, config, events) {
  events.on('packet', (packet) => {
    send({ type: 'packet', data: packet.toString() });
  });
  events.on('flush', (timestamp, metrics) => {
    send({ type: 'flush', timestamp, counters: metrics.counters, timerData: metrics.timer_data });
  });

  // The daemon starts its server before loading backends, and binding is asynchronous: report
  // ready only once the socket really listens, so tests never send into a port not yet bound.
  const server = require(config.tomographTest.serverModule).server;
  const ready = () => send({ type: 'ready' });
  if (server.listening === true) ready();
  else if (typeof server.listening === 'boolean') server.once('listening', ready);
  else {
    try {
      server.address(); // dgram: throws until bound
      ready();
    } catch {
      server.once('listening', ready);
    }
  }
  return true;
};
