import type { FinishedSpan } from '../../lib/types';
import { type Chain, type ClientKind, startChain } from '../helpers/chained-services';
import { send } from '../helpers/http-servers';

const N = 200;

describe.each<[ClientKind]>([['http'], ['fetch']])('two services in one process, A calls B with %s', (client) => {
  let chain: Chain;

  beforeAll(async () => {
    chain = await startChain({ client });
  });

  afterAll(() => chain.close());

  it(`${N} concurrent requests: every server span in B is a child of A's client span of the same request`, async () => {
    const bodies = await Promise.all(Array.from({ length: N }, (_, n) => send(`${chain.a.url}/a/${n}`)));
    expect(bodies.every((r) => r.status === 200 && r.body === 'a>b>c')).toBe(true);

    const aSpans = await chain.a.spans.waitForCount(2 * N);
    const bSpans = await chain.b.spans.waitForCount(2 * N);
    expect(aSpans).toHaveLength(2 * N);
    expect(bSpans).toHaveLength(2 * N);
    // Each tracer recorded only its own service's spans.
    expect(new Set(aSpans.map((s) => s.service))).toEqual(new Set(['service-a']));
    expect(new Set(bSpans.map((s) => s.service))).toEqual(new Set(['service-b']));

    const byId = (spans: FinishedSpan[]) => new Map(spans.map((s) => [s.id, s]));
    const aById = byId(aSpans);
    const bById = byId(bSpans);
    const bServers = bSpans.filter((s) => s.kind === 'SERVER');
    const bClients = bSpans.filter((s) => s.kind === 'CLIENT');
    expect(bServers).toHaveLength(N);

    for (const bServer of bServers) {
      const n = bServer.tags['http.path']!.toString().slice('/b/'.length);
      const aClient = aById.get(bServer.parentId!);
      expect(aClient?.kind).toBe('CLIENT');
      expect(aClient?.tags['http.url']).toBe(`${chain.b.url}/b/${n}`);
      expect(aClient?.remote?.service).toBe('service-b');
      expect(aClient?.traceId).toBe(bServer.traceId);
      const aServer = aById.get(aClient!.parentId!);
      expect(aServer?.kind).toBe('SERVER');
      expect(aServer?.tags['http.path']).toBe(`/a/${n}`);
      expect(aServer?.name).toBe('GET /a/:n');
      expect(bServer.name).toBe('GET /b/:n');
    }
    // B's own outgoing calls were traced by B's tracer, under B's server spans.
    for (const bClient of bClients) {
      expect(bById.get(bClient.parentId!)?.kind).toBe('SERVER');
      expect(bClient.remote?.service).toBe('service-c');
    }
    expect(new Set(bServers.map((s) => s.traceId)).size).toBe(N);
  });
});
