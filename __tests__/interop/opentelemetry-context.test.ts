/**
 * W3C `tracestate` and `baggage` across real OpenTelemetry JS services (two child processes,
 * `fixtures/interop-otel-context-service.js`) with tomograph between them:
 *
 *   test -> OpenTelemetry GET /entry/:n -> tomograph GET /relay/:n -> OpenTelemetry GET /far/:n
 *   test -> tomograph GET /origin/:n (withBaggage) -> OpenTelemetry GET /far/:n
 *
 * OpenTelemetry's entry service adds its own tracestate entry and baggage; the far one reports
 * what its propagators read. tomograph runs with its defaults (`expressMiddleware`,
 * `instrumentHttp`).
 */
import type http from 'node:http';
import { instrumentHttp } from '../../integrations/http';
import { expressMiddleware } from '../../middleware/express';
import { getText, listen, send, type TestServer } from '../helpers/http-servers';
import { type Peer, startPeer } from '../helpers/interop';
import { collectingTracer, type CollectingTracer } from '../helpers/span-collector';

/** What OpenTelemetry's `/far/:n` reports. */
interface FarReport {
  headers: { traceparent?: string; tracestate?: string; baggage?: string };
  otel: { traceId?: string; traceState?: string; baggage: Record<string, { value: string; metadata?: string }> };
}

/** What tomograph's `/relay/:n` answers: what it saw, and what the far end reported. */
interface RelayReport {
  seen: { traceId?: string; baggage: Record<string, string>; tracestate?: string };
  far: FarReport;
}

let entry: Peer;
let far: Peer;
let ours: CollectingTracer & { server: TestServer; undo: () => void };

beforeAll(async () => {
  [entry, far] = await Promise.all([startPeer('interop-otel-context-service.js'), startPeer('interop-otel-context-service.js')]);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const express = require('express');
  const traced = collectingTracer({ serviceName: 'tomograph-relay' });
  const { tracer } = traced;
  const app = express();
  app.use(expressMiddleware({ tracer }));
  app.get('/relay/:n', async (req: http.IncomingMessage & { params: { n: string } }, res: http.ServerResponse) => {
    const seen = { traceId: tracer.currentSpan()?.traceId, baggage: tracer.getBaggage(), tracestate: req.headers.tracestate };
    const body = await getText(`${far.url}/far/${req.params.n}`);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ seen, far: JSON.parse(body) }));
  });
  app.get('/origin/:n', async (req: { params: { n: string } }, res: http.ServerResponse) => {
    const body = await tracer.withBaggage({ 'app.user': 'Amélie', plan: { value: 'gold', properties: 'ttl=30' } }, () =>
      getText(`${far.url}/far/${req.params.n}`),
    );
    res.setHeader('content-type', 'application/json');
    res.end(body);
  });
  const undo = instrumentHttp({ tracer });
  const server = await listen(app);
  ours = { ...traced, server, undo };
  await entry.ask({ type: 'config', nextUrl: server.url });
});

afterAll(async () => {
  ours?.undo();
  await ours?.server.close();
  await ours?.tracer.shutdown();
  await Promise.all([entry?.close(), far?.close()]);
});

const T = '4bf92f3577b34da6a3ce929d0e0e4736';

it('OpenTelemetry -> tomograph -> OpenTelemetry: the tracestate entries arrive intact, in order, and OpenTelemetry reads them', async () => {
  const N = 5;
  const results = await Promise.all(
    Array.from({ length: N }, (_, n) =>
      send(`${entry.url}/entry/${n}`, {
        headers: { traceparent: `00-${T}-00f067aa0ba902b7-01`, tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE' },
      }),
    ),
  );
  for (let n = 0; n < N; n++) {
    expect(results[n].status).toBe(200);
    const report = JSON.parse(results[n].body) as RelayReport;
    // OpenTelemetry put its entry first, as the specification says a new entry goes.
    const expected = `otel@acme=entry-${n},rojo=00f067aa0ba902b7,congo=t61rcWkgMzE`;
    expect(report.seen.tracestate).toBe(expected);
    expect(report.seen.traceId).toBe(T);
    expect(report.far.headers.tracestate).toBe(expected);
    expect(report.far.otel.traceState).toBe(expected);
    expect(report.far.otel.traceId).toBe(T);
    expect(report.far.headers.traceparent).toMatch(new RegExp(`^00-${T}-[0-9a-f]{16}-01$`));
  }
});

it('baggage set by OpenTelemetry crosses tomograph (which reads it) and arrives at OpenTelemetry behind it', async () => {
  const res = await send(`${entry.url}/entry/bag`);
  expect(res.status).toBe(200);
  const report = JSON.parse(res.body) as RelayReport;
  expect(report.seen.baggage).toEqual({ user: 'alice', tenant: 'acme corp' });
  expect(report.far.otel.baggage).toEqual({
    user: { value: 'alice' },
    tenant: { value: 'acme corp', metadata: 'ttl=60' },
  });
  // What OpenTelemetry wrote is what arrived, byte for byte.
  expect(report.far.headers.baggage).toBe('user=alice,tenant=acme%20corp;ttl=60');
  // A new trace from OpenTelemetry: its trace id reached the far end through tomograph.
  expect(report.far.otel.traceId).toBe(report.seen.traceId);
});

it('baggage set in tomograph arrives at OpenTelemetry, decoded the same way', async () => {
  const res = await send(`${ours.server.url}/origin/1`);
  expect(res.status).toBe(200);
  const report = JSON.parse(res.body) as FarReport;
  expect(report.otel.baggage).toEqual({
    'app.user': { value: 'Amélie' },
    plan: { value: 'gold', metadata: 'ttl=30' },
  });
  expect(report.headers.baggage).toBe('app.user=Am%C3%A9lie,plan=gold;ttl=30');
  // tomograph started this trace: the far end continues it, with the random flag tomograph set.
  const front = await ours.spans.waitFor((s) => s.kind === 'SERVER' && s.tags['http.path'] === '/origin/1');
  expect(report.otel.traceId).toBe(front.traceId);
  expect(report.headers.traceparent).toMatch(new RegExp(`^00-${front.traceId}-[0-9a-f]{16}-03$`));
  expect(report.headers.tracestate).toBeUndefined();
});

it('a malformed tracestate from upstream never breaks the trace: the traceparent is continued, the tracestate dropped', async () => {
  const res = await send(`${ours.server.url}/relay/bad`, {
    headers: { traceparent: `00-${T}-00f067aa0ba902b7-01`, tracestate: 'FOO=1,bar=2' },
  });
  expect(res.status).toBe(200);
  const report = JSON.parse(res.body) as RelayReport;
  expect(report.seen.traceId).toBe(T);
  expect(report.far.otel.traceId).toBe(T);
  expect(report.far.headers.tracestate).toBeUndefined();
});
