/**
 * How the Express middleware reads a request's trace headers: one pass over the header names
 * decides whether to look any up (`mayCarryTrace`), so what a lookup by name would find must still
 * be found, including a header an earlier middleware put on `req.headers`.
 */
import type http from 'node:http';
import { expressMiddleware } from '../../middleware/express';
import type { FinishedSpan } from '../../lib/types';
import { collectingTracer } from '../helpers/span-collector';
import { listen, send, type TestServer } from '../helpers/http-servers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const express = require('express');

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';
const isServer = (s: FinishedSpan) => s.kind === 'SERVER';

let open: TestServer[] = [];
afterEach(async () => {
  await Promise.all(open.map((s) => s.close()));
  open = [];
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function start(before?: (req: any) => void) {
  const collecting = collectingTracer();
  const app = express();
  if (before !== undefined) {
    app.use((req: http.IncomingMessage, _res: unknown, next: () => void) => {
      before(req);
      next();
    });
  }
  app.use(expressMiddleware({ tracer: collecting.tracer }));
  app.get('/', (_req: unknown, res: http.ServerResponse) => res.end(collecting.tracer.getBaggage().k ?? ''));
  const server = await listen(app);
  open.push(server);
  return { ...collecting, server };
}

it('continues a trace header that an earlier middleware set on req.headers', async () => {
  const { server, spans } = await start((req) => {
    req.headers.traceparent = `00-${T}-${S}-01`;
  });
  await send(`${server.url}/`);
  const span = await spans.waitFor(isServer);
  expect(span.traceId).toBe(T);
  expect(span.parentId).toBe(S);
});

it('a request with ordinary headers only starts a new root and reports nothing malformed', async () => {
  const { server, spans, tracer } = await start();
  await send(`${server.url}/`, { headers: { 'User-Agent': 'test', Accept: '*/*', 'X-Request-Id': 'abc', Cookie: 'a=b' } });
  const span = await spans.waitFor(isServer);
  expect(span.parentId).toBeUndefined();
  expect(tracer.stats().malformedHeaders).toBe(0);
});

it('reads baggage that comes without a trace context', async () => {
  const { server } = await start();
  const res = await send(`${server.url}/`, { headers: { Baggage: 'k=v' } });
  expect(res.body).toBe('v');
});
