/**
 * W3C Trace Context (tracestate, Level 2) and W3C Baggage end to end, the way the official
 * W3C validation harness drives a service: raw header lines in (repeated lines, any casing), an
 * Express service traced by `expressMiddleware` + `instrumentHttp` calls back with `http` and
 * with `fetch`, and the callback's headers are checked. Then two tomograph services in a chain.
 */
import type http from 'node:http';
import net from 'node:net';
import { instrumentHttp } from '../../integrations/http';
import { expressMiddleware } from '../../middleware/express';
import type { Tracer } from '../../lib/tracer';
import type { ClientKind } from '../helpers/chained-services';
import { getText, listen, send, type TestServer } from '../helpers/http-servers';
import { collectingTracer } from '../helpers/span-collector';

const T = '12345678901234567890123456789012';
const TP = `traceparent: 00-${T}-1234567890123456-00`;

/** [name, header lines sent, tracestate the callback must carry (undefined: none)] — the W3C suite's tracestate cases. */
const HARNESS: [string, string[], string | undefined][] = [
  ['tracestate and traceparent: inherited', [TP, 'tracestate: foo=1,bar=2'], 'foo=1,bar=2'],
  ['header name casing: TraceState', [TP, 'TraceState: foo=1'], 'foo=1'],
  ['header name casing: TrAcEsTaTe', [TP, 'TrAcEsTaTe: foo=1'], 'foo=1'],
  ['header name casing: TRACESTATE', [TP, 'TRACESTATE: foo=1'], 'foo=1'],
  ['wrong name trace-state: not read', [TP, 'trace-state: foo=1'], undefined],
  ['empty header: nothing sent', [TP, 'tracestate: '], undefined],
  ['empty line after a member', [TP, 'tracestate: foo=1', 'tracestate: '], 'foo=1'],
  ['empty line before a member', [TP, 'tracestate: ', 'tracestate: foo=1'], 'foo=1'],
  ['three lines combined in order', [TP, 'tracestate: foo=1,bar=2', 'tracestate: rojo=1,congo=2', 'tracestate: baz=3'], 'foo=1,bar=2,rojo=1,congo=2,baz=3'],
  ['duplicated keys kept', [TP, 'tracestate: foo=1', 'tracestate: foo=2'], 'foo=1,foo=2'],
  ['OWS', [TP, 'tracestate: foo=1 \t , \t bar=2, \t baz=3'], 'foo=1,bar=2,baz=3'],
  ['illegal key: discarded', [TP, 'tracestate: foo.bar=1'], undefined],
  ['key starting with @: discarded', [TP, 'tracestate: @foo=1,bar=2'], undefined],
  ['keys with @ inside: kept', [TP, 'tracestate: foo@@bar=1,bar=2'], 'foo@@bar=1,bar=2'],
  ['32 members in four lines: kept', [TP, ...lines(32)], members(32)],
  ['33 members: discarded', [TP, ...lines(33)], undefined],
  ['257-character key: discarded', [TP, 'tracestate: foo=1', `tracestate: ${'z'.repeat(257)}=1`], undefined],
  ['256-character key: kept', [TP, 'tracestate: foo=1', `tracestate: ${'z'.repeat(256)}=1`], `foo=1,${'z'.repeat(256)}=1`],
  ['illegal value: discarded', [TP, 'tracestate: foo=,bar=3'], undefined],
  ['tracestate without traceparent: discarded', ['tracestate: foo=1'], undefined],
];

/**
 * Sends raw header lines as the W3C harness does (each line as written, repeated lines and all)
 * and returns the response body. Unlike `sendRaw`, the socket stays open for writing until the
 * server answers: the service's handler is async (it calls back first).
 */
function sendLines(port: number, headerLines: readonly string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('connect', () => {
      socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${headerLines.map((l) => l + '\r\n').join('')}\r\n`);
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      if (split === -1) return reject(new Error(`no complete response: ${JSON.stringify(text.slice(0, 200))}`));
      resolve({ status: Number(text.split(' ')[1]), body: text.slice(split + 4) });
    });
  });
}

function members(n: number): string {
  return Array.from({ length: n }, (_, i) => `bar${String(i + 1).padStart(2, '0')}=${String(i + 1).padStart(2, '0')}`).join(',');
}

function lines(n: number): string[] {
  const all = members(n).split(',');
  const out: string[] = [];
  for (let i = 0; i < all.length; i += 10) out.push('tracestate: ' + all.slice(i, i + 10).join(','));
  return out;
}

describe.each<[ClientKind]>([['http'], ['fetch']])('a traced Express service calling back with %s', (client) => {
  let harness: TestServer;
  let service: TestServer;
  let tracer: Tracer;
  let undo: () => void;

  beforeAll(async () => {
    // The harness's callback endpoint answers with the headers it received.
    harness = await listen((req, res) => res.end(JSON.stringify(req.headers)));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const express = require('express');
    ({ tracer } = collectingTracer({ serviceName: 'w3c-service' }));
    const app = express();
    app.use(expressMiddleware({ tracer }));
    app.get('/', async (_req: unknown, res: http.ServerResponse) => {
      const url = `${harness.url}/callback`;
      res.end(client === 'fetch' ? await (await fetch(url)).text() : await getText(url));
    });
    undo = instrumentHttp({ tracer });
    service = await listen(app);
  });

  afterAll(async () => {
    undo();
    await Promise.all([service.close(), harness.close()]);
    await tracer.shutdown();
  });

  async function callback(headerLines: string[]): Promise<Record<string, string>> {
    const res = await sendLines(service.port, headerLines);
    expect(res.status).toBe(200);
    return JSON.parse(res.body) as Record<string, string>;
  }

  test.each(HARNESS)('%s', async (_name, headerLines, expected) => {
    const sent = await callback(headerLines);
    if (headerLines.includes(TP)) expect(sent.traceparent).toMatch(new RegExp(`^00-${T}-[0-9a-f]{16}-00$`));
    expect(sent.tracestate).toBe(expected);
  });

  it('Level 2: the random flag is kept on what is continued', async () => {
    const sent = await callback([`traceparent: 00-${T}-1234567890123456-02`]);
    expect(sent.traceparent).toMatch(new RegExp(`^00-${T}-[0-9a-f]{16}-02$`));
    const sampled = await callback([`traceparent: 00-${T}-1234567890123456-03`]);
    expect(sampled.traceparent).toMatch(new RegExp(`^00-${T}-[0-9a-f]{16}-03$`));
    expect(sampled.traceparent.slice(36, 52)).not.toBe('1234567890123456');
  });

  it('Level 2: a new trace gets the random flag (tomograph ids are random)', async () => {
    const sent = await callback([]);
    expect(sent.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-03$/);
    expect(sent['x-trace-info']).toBe(sent.traceparent);
  });

  it('baggage: read from repeated lines, passed on whole with properties; also without a trace header', async () => {
    const sent = await callback([TP, 'baggage: userId=alice', 'baggage: serverNode=DF%2028;ttl=1, isProduction=false']);
    expect(sent.baggage).toBe('userId=alice,serverNode=DF%2028;ttl=1,isProduction=false');
    const alone = await callback(['baggage: userId=alice']);
    expect(alone.baggage).toBe('userId=alice');
    expect(alone.traceparent).toMatch(/-03$/);
  });

  it('no tracestate, no baggage in: none out', async () => {
    const sent = await callback([TP]);
    expect(sent.tracestate).toBeUndefined();
    expect(sent.baggage).toBeUndefined();
  });
});

describe.each<[ClientKind]>([['http'], ['fetch']])('a tomograph service between a caller and a leaf, calling with %s', (client) => {
  let leaf: TestServer;
  let middle: { server: TestServer; tracer: Tracer; undo: () => void };

  beforeAll(async () => {
    leaf = await listen((req, res) => res.end(JSON.stringify(req.headers)));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const express = require('express');
    const { tracer } = collectingTracer({ serviceName: 'middle' });
    const app = express();
    app.use(expressMiddleware({ tracer }));
    app.get('/', async (_req: unknown, res: http.ServerResponse) => {
      const body = await tracer.withBaggage({ added: 'by middle' }, () =>
        client === 'fetch' ? fetch(`${leaf.url}/`).then((r) => r.text()) : getText(`${leaf.url}/`),
      );
      res.end(body);
    });
    const undo = instrumentHttp({ tracer });
    middle = { server: await listen(app), tracer, undo };
  });

  afterAll(async () => {
    middle.undo();
    await Promise.all([middle.server.close(), leaf.close()]);
    await middle.tracer.shutdown();
  });

  it('keeps the upstream tracestate and baggage, adds the baggage set in between', async () => {
    const res = await send(`${middle.server.url}/`, {
      headers: { traceparent: `00-${T}-1234567890123456-03`, tracestate: 'congo=t61rcWkgMzE', baggage: 'user=alice;ttl=5' },
    });
    const received = JSON.parse(res.body) as Record<string, string>;
    expect(received.tracestate).toBe('congo=t61rcWkgMzE');
    expect(received.baggage).toBe('user=alice;ttl=5,added=by%20middle');
    expect(received.traceparent).toMatch(new RegExp(`^00-${T}-[0-9a-f]{16}-03$`));
    expect(received['x-trace-info']).toBe(received.traceparent);
  });
});
