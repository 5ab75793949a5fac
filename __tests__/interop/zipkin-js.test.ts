/**
 * Interop with a real zipkin-js service (zipkin, zipkin-context-cls, zipkin-instrumentation-express
 * on Express 4, zipkin-instrumentation-fetch around node-fetch@2), both directions, in a child
 * process (`fixtures/interop-zipkin-service.js`). zipkin-js reads and writes only B3 multi headers
 * (`X-B3-*`), so the tomograph service adds `'b3-multi'` to its `propagation`.
 *
 *   test -> tomograph GET /front/:n -> zipkin-js GET /zipkin/:n -> tomograph GET /back/:n
 *
 * zipkin-js runs in both of its span models: `supportsJoin: true` (its default: the server side
 * of a call reuses the caller's span id, Zipkin's shared span) and `supportsJoin: false` (a child
 * span, as tomograph and OpenTelemetry do).
 */
import type { FinishedSpan } from '../../lib/types';
import { send } from '../helpers/http-servers';
import { backHeaders, blindRoundTrip, usePeerPair } from '../helpers/interop';

/** A zipkin-js span, Zipkin v2 JSON as its BatchRecorder hands it to the logger. */
interface ZipkinSpan {
  traceId: string;
  id: string;
  parentId?: string;
  kind?: 'SERVER' | 'CLIENT';
  name?: string;
  shared?: boolean;
  localEndpoint?: { serviceName?: string };
  remoteEndpoint?: { serviceName?: string };
  tags?: Record<string, string>;
}

const N = 20;
const PROPAGATION = ['x-trace-info', 'traceparent', 'b3-multi'] as const;
const pathOf = (span: FinishedSpan) => String(span.tags['http.path']);

describe.each([
  ['joins the caller\'s span (supportsJoin: true, its default)', true],
  ['opens child spans (supportsJoin: false)', false],
])('zipkin-js that %s', (_label, join) => {
  const pair = usePeerPair('interop-zipkin-service.js', '/zipkin', {
    env: { ZIPKIN_SUPPORTS_JOIN: String(join) },
    tracerOptions: { propagation: [...PROPAGATION] },
  });
  const collectZipkin = (traceIds: string[]) => pair.collect<ZipkinSpan>(traceIds);

  it(`tomograph -> zipkin-js -> tomograph, ${N} concurrent requests: one trace, every id lines up`, async () => {
    const responses = await Promise.all(Array.from({ length: N }, (_, n) => send(`${pair.ours.url}/front/${n}`)));
    for (const res of responses) {
      expect(res.status).toBe(200);
      expect(res.body).toMatch(/^front>zipkin>back\[/);
    }
    const mine = await pair.ours.spans.waitForCount(3 * N);
    const fronts = mine.filter((s) => s.kind === 'SERVER' && pathOf(s).startsWith('/front/'));
    expect(fronts).toHaveLength(N);
    const zipkin = await collectZipkin(fronts.map((s) => s.traceId));
    expect(zipkin.timedOut).toBe(false);

    for (const front of fronts) {
      const n = pathOf(front).slice('/front/'.length);
      const ourClient = mine.find((s) => s.kind === 'CLIENT' && s.parentId === front.id);
      expect(ourClient?.tags['http.url']).toBe(`${pair.peer.url}/zipkin/${n}`);

      // Hop 1: zipkin-js read our X-B3-* headers (it keeps our 128-bit trace id as it is).
      const servers = zipkin.spans.filter((s) => s.kind === 'SERVER' && s.traceId === front.traceId);
      expect(servers).toHaveLength(1);
      const [zServer] = servers;
      if (join) {
        // Zipkin's shared span: the server half carries the client's id.
        expect(zServer.id).toBe(ourClient!.id);
        expect(zServer.shared).toBe(true);
        // ... and, from our X-B3-ParentSpanId, the same parent as the client half.
        expect(zServer.parentId).toBe(front.id);
      } else {
        expect(zServer.id).not.toBe(ourClient!.id);
        expect(zServer.parentId).toBe(ourClient!.id);
      }
      expect(zServer.localEndpoint?.serviceName).toBe('zipkin-js-service');
      expect(zServer.name).toBe('get /zipkin/:n');

      // Inside zipkin-js: its CLIENT span is a child of its SERVER span.
      const clients = zipkin.spans.filter((s) => s.kind === 'CLIENT' && s.traceId === front.traceId);
      expect(clients).toHaveLength(1);
      const [zClient] = clients;
      expect(zClient.parentId).toBe(zServer.id);

      // Hop 2: our SERVER span is a child of zipkin-js's CLIENT span.
      const back = mine.find((s) => s.kind === 'SERVER' && pathOf(s) === `/back/${n}`);
      expect(back?.traceId).toBe(front.traceId);
      expect(back?.parentId).toBe(zClient.id);
      expect(back?.sampled).toBe(true);
    }
    // What zipkin-js sent us: X-B3-* only, sampled, naming its client span and that span's parent.
    for (const res of responses) {
      const headers = backHeaders(res.body);
      expect(Object.keys(headers).sort()).toEqual(['x-b3-parentspanid', 'x-b3-sampled', 'x-b3-spanid', 'x-b3-traceid']);
      expect(headers['x-b3-sampled']).toBe('1');
      const client = zipkin.spans.find((s) => s.kind === 'CLIENT' && s.id === headers['x-b3-spanid']);
      expect(client?.traceId).toBe(headers['x-b3-traceid']);
      expect(client?.parentId).toBe(headers['x-b3-parentspanid']);
    }
  });

  it('zipkin-js starts the trace (64-bit id): tomograph continues it, the id left-padded to 128 bits', async () => {
    const res = await send(`${pair.peer.url}/zipkin/root`);
    expect(res.status).toBe(200);
    const back = await pair.ours.spans.waitFor((s) => s.kind === 'SERVER' && pathOf(s) === '/back/root');
    const zipkin = await collectZipkin([back.traceId]);
    expect(zipkin.timedOut).toBe(false);
    const zServer = zipkin.spans.find((s) => s.kind === 'SERVER');
    const zClient = zipkin.spans.find((s) => s.kind === 'CLIENT');
    expect(zServer?.traceId).toMatch(/^[0-9a-f]{16}$/);
    expect(zServer?.parentId).toBeUndefined();
    expect(back.traceId).toBe('0000000000000000' + zServer?.traceId);
    expect(back.parentId).toBe(zClient?.id);
    expect(zClient?.parentId).toBe(zServer?.id);
  });

  it('an unsampled trace stays unsampled across both hops (X-B3-Sampled: 0): neither side records it', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const startedBefore = pair.ours.tracer.stats().spansStarted;
    const res = await send(`${pair.ours.url}/front/unsampled`, {
      headers: { traceparent: `00-${traceId}-b7ad6b7169203331-00` },
    });
    expect(res.status).toBe(200);
    const headers = backHeaders(res.body);
    expect(headers['x-b3-traceid']).toBe(traceId);
    expect(headers['x-b3-sampled']).toBe('0');
    // Spans are started (or not) when requests arrive, long before this response: no race here.
    expect(pair.ours.tracer.stats().spansStarted).toBe(startedBefore);
    expect(await pair.peer.ask({ type: 'count', traceId })).toMatchObject({ count: 0 });
  });

  it('without `b3-multi` in `propagation`, zipkin-js cannot see the trace and starts its own', async () => {
    const { front, back } = await blindRoundTrip(pair, '/zipkin', ['x-trace-info', 'traceparent', 'b3']);
    expect(back.traceId).not.toBe(front.traceId);
    const zipkin = await collectZipkin([back.traceId]);
    expect(zipkin.spans.find((s) => s.kind === 'SERVER')?.parentId).toBeUndefined();
  });
});
