'use strict';
/**
 * The Zipkin collector stand-in of `bench/http.js`: accepts `POST /api/v2/spans` (Zipkin v2
 * JSON, gzip or not), answers 202, and counts the spans received per `localEndpoint.serviceName`,
 * so the driver can check that every traced variant really exported. Prints its port on stdout.
 *
 * IPC: 'counts' -> { counts: { [service]: spans }, posts, bad }   'reset' -> { reset: true }
 */
const http = require('node:http');
const zlib = require('node:zlib');

let counts = {};
let posts = 0;
let bad = 0;

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    posts++;
    try {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
      const spans = JSON.parse(body.toString('utf8'));
      for (const span of spans) {
        const service = (span.localEndpoint && span.localEndpoint.serviceName) || '?';
        counts[service] = (counts[service] || 0) + 1;
      }
      res.writeHead(202).end();
    } catch {
      bad++;
      res.writeHead(400).end();
    }
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));

process.on('message', (message) => {
  if (message === 'counts') process.send({ counts, posts, bad });
  else if (message === 'reset') {
    counts = {};
    posts = 0;
    bad = 0;
    process.send({ reset: true });
  }
});
process.on('disconnect', () => process.exit(0));
