/**
 * Interop with a real OpenTelemetry JS service (sdk-trace-node, instrumentation-http and
 * instrumentation-express, W3C propagation), both directions. The OpenTelemetry service runs in
 * a child process (`fixtures/interop-otel-service.js`): its http instrumentation patches `http`
 * process-wide. The tomograph service runs here with its default `propagation`, which includes
 * `traceparent`, the one header OpenTelemetry reads by default.
 *
 *   test -> tomograph GET /front/:n -> OpenTelemetry GET /otel/:n -> tomograph GET /back/:n
 */
import type { FinishedSpan } from '../../lib/types';
import { send } from '../helpers/http-servers';
import { backHeaders, blindRoundTrip, usePeerPair } from '../helpers/interop';

/** An OpenTelemetry span as the fixture reports it. */
interface OtelSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  parentIsRemote?: boolean;
  sampled: boolean;
  name: string;
  kind: 'SERVER' | 'CLIENT' | 'INTERNAL';
  scope?: string;
  attributes: Record<string, unknown>;
}

const N = 20;
const pair = usePeerPair('interop-otel-service.js', '/otel');
const collectOtel = (traceIds: string[]) => pair.collect<OtelSpan>(traceIds);

/** Walks up OpenTelemetry's local parents from `span` to the first one of `kind`. */
function ancestorOfKind(spans: OtelSpan[], span: OtelSpan, kind: OtelSpan['kind']): OtelSpan | undefined {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  for (let at = byId.get(span.parentSpanId ?? ''); at !== undefined; at = byId.get(at.parentSpanId ?? '')) {
    if (at.kind === kind) return at;
  }
  return undefined;
}

const pathOf = (span: FinishedSpan) => String(span.tags['http.path']);

it('runs the installed OpenTelemetry packages together (sdk-trace 2.x, instrumentation-http 0.208, -express 0.57)', () => {
  expect(pair.peer.ready.versions).toEqual({
    sdk: expect.stringMatching(/^2\./),
    http: expect.stringMatching(/^0\.208\./),
    express: expect.stringMatching(/^0\.57\./),
  });
});

it(`tomograph -> OpenTelemetry -> tomograph, ${N} concurrent requests: one trace, every parent id lines up`, async () => {
  const responses = await Promise.all(Array.from({ length: N }, (_, n) => send(`${pair.ours.url}/front/${n}`)));
  for (const res of responses) {
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/^front>otel>back\[/);
  }
  // Per request, ours: SERVER /front, CLIENT to OpenTelemetry, SERVER /back.
  const mine = await pair.ours.spans.waitForCount(3 * N);
  const fronts = mine.filter((s) => s.kind === 'SERVER' && pathOf(s).startsWith('/front/'));
  expect(fronts).toHaveLength(N);
  const traceIds = fronts.map((s) => s.traceId);
  expect(new Set(traceIds).size).toBe(N);

  const otel = await collectOtel(traceIds);
  expect(otel.timedOut).toBe(false);
  // The express instrumentation ran too (it hooks `require('express')` in the child).
  expect(otel.spans.some((s) => s.scope === '@opentelemetry/instrumentation-express')).toBe(true);

  for (const front of fronts) {
    const n = pathOf(front).slice('/front/'.length);
    expect(front.parentId).toBeUndefined();
    expect(front.name).toBe('GET /front/:n');

    // Hop 1: our CLIENT span is the parent of OpenTelemetry's SERVER span.
    const ourClient = mine.find((s) => s.kind === 'CLIENT' && s.parentId === front.id);
    expect(ourClient?.tags['http.url']).toBe(`${pair.peer.url}/otel/${n}`);
    const otelServers = otel.spans.filter((s) => s.kind === 'SERVER' && s.traceId === front.traceId);
    expect(otelServers).toHaveLength(1);
    const [otelServer] = otelServers;
    expect(otelServer.parentSpanId).toBe(ourClient!.id);
    expect(otelServer.parentIsRemote).toBe(true);
    expect(otelServer.sampled).toBe(true);
    expect(otelServer.attributes['http.route']).toBe('/otel/:n');

    // Inside OpenTelemetry: its CLIENT span descends from its SERVER span (through express spans).
    const otelClients = otel.spans.filter((s) => s.kind === 'CLIENT' && s.traceId === front.traceId);
    expect(otelClients).toHaveLength(1);
    const [otelClient] = otelClients;
    expect(ancestorOfKind(otel.spans, otelClient, 'SERVER')?.spanId).toBe(otelServer.spanId);

    // Hop 2: OpenTelemetry's CLIENT span is the parent of our SERVER span.
    const back = mine.find((s) => s.kind === 'SERVER' && pathOf(s) === `/back/${n}`);
    expect(back?.traceId).toBe(front.traceId);
    expect(back?.parentId).toBe(otelClient.spanId);
    expect(back?.sampled).toBe(true);
    expect(back?.name).toBe('GET /back/:n');
  }
  // What OpenTelemetry sent to us: W3C traceparent, sampled, naming its client span.
  for (const res of responses) {
    const { traceparent } = backHeaders(res.body);
    const client = otel.spans.find((s) => s.kind === 'CLIENT' && traceparent === `00-${s.traceId}-${s.spanId}-01`);
    expect(client).toBeDefined();
  }
});

it('OpenTelemetry starts the trace: tomograph continues it under OpenTelemetry\'s CLIENT span', async () => {
  const res = await send(`${pair.peer.url}/otel/root`);
  expect(res.status).toBe(200);
  const back = await pair.ours.spans.waitFor((s) => s.kind === 'SERVER' && pathOf(s) === '/back/root');
  const otel = await collectOtel([back.traceId]);
  expect(otel.timedOut).toBe(false);
  const otelServer = otel.spans.find((s) => s.kind === 'SERVER');
  const otelClient = otel.spans.find((s) => s.kind === 'CLIENT');
  expect(otelServer?.parentSpanId).toBeUndefined();
  expect(otelServer?.traceId).toBe(back.traceId);
  expect(back.parentId).toBe(otelClient?.spanId);
  expect(ancestorOfKind(otel.spans, otelClient!, 'SERVER')?.spanId).toBe(otelServer?.spanId);
  expect(backHeaders(res.body).traceparent).toBe(`00-${back.traceId}-${otelClient?.spanId}-01`);
});

it('an unsampled trace stays unsampled across both hops: neither side records it', async () => {
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const startedBefore = pair.ours.tracer.stats().spansStarted;
  const res = await send(`${pair.ours.url}/front/unsampled`, {
    headers: { traceparent: `00-${traceId}-b7ad6b7169203331-00` },
  });
  expect(res.status).toBe(200);
  // OpenTelemetry kept the trace id and the "not sampled" flag when it called us back.
  expect(backHeaders(res.body).traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
  // Spans are started (or not) when requests arrive, long before this response: no race here.
  expect(pair.ours.tracer.stats().spansStarted).toBe(startedBefore);
  expect(await pair.peer.ask({ type: 'count', traceId })).toMatchObject({ count: 0 });
});

it('without `traceparent` in `propagation`, OpenTelemetry cannot see the trace and starts its own', async () => {
  const { front, back } = await blindRoundTrip(pair, '/otel', ['x-trace-info', 'b3']);
  expect(back.traceId).not.toBe(front.traceId);
  const otel = await collectOtel([back.traceId]);
  expect(otel.spans.find((s) => s.kind === 'SERVER')?.parentSpanId).toBeUndefined();
});
