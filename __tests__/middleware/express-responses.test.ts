/**
 * How the Express middleware hears that a response ended, beyond the conformance suite:
 * keep-alive connections, pipelined requests, nested middleware, and that nothing stays behind
 * per response (no listener on it, no record once it ended).
 */
import http from 'node:http';
import net from 'node:net';
import { expressMiddleware } from '../../middleware/express';
import { exchangeOf } from '../../middleware/express-responses';
import type { Tracer } from '../../lib/tracer';
import type { FinishedSpan } from '../../lib/types';
import { collectingTracer } from '../helpers/span-collector';
import { listen, send, type TestServer } from '../helpers/http-servers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const express = require('express');

const isServer = (s: FinishedSpan) => s.kind === 'SERVER';
const noteValues = (s: FinishedSpan) => s.notes.map((n) => n.value);

let open: TestServer[] = [];
afterEach(async () => {
  await Promise.all(open.map((s) => s.close()));
  open = [];
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function start(build: (app: any, tracer: Tracer) => void, traced = true) {
  const collecting = collectingTracer();
  const app = express();
  if (traced) app.use(expressMiddleware({ tracer: collecting.tracer }));
  build(app, collecting.tracer);
  const server = await listen(app);
  open.push(server);
  return { ...collecting, server };
}

/** GET `path` on a keep-alive agent, body read to its end. */
function get(url: string, agent: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

/** Writes `requests` back to back on one connection; resolves with the socket once connected. */
function pipeline(port: number, paths: string[]): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`).join(''));
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

describe('expressMiddleware: how a response ends', () => {
  it('many requests on one keep-alive connection: one span each, one close listener for the connection', async () => {
    const socketListeners: number[] = [];
    const responseListeners: number[] = [];
    const build = (app: { get: Function }) =>
      app.get('/n/:n', (req: http.IncomingMessage, res: http.ServerResponse) => {
        socketListeners.push(req.socket.listenerCount('close'));
        responseListeners.push(res.listenerCount('close') + res.listenerCount('finish'));
        res.end('ok');
      });
    const untraced = await start(build, false);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    await get(`${untraced.server.url}/n/0`, agent);
    const [plainSocket, plainResponse] = [socketListeners[0], responseListeners[0]];
    agent.destroy();
    socketListeners.length = 0;
    responseListeners.length = 0;

    const { server, spans } = await start(build);
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let n = 0; n < 20; n++) expect(await get(`${server.url}/n/${n}`, keepAlive)).toBe('ok');
    const ended = await spans.waitForCount(20, isServer);
    keepAlive.destroy();
    expect(ended.map((s) => s.tags['http.path'])).toEqual(Array.from({ length: 20 }, (_, n) => `/n/${n}`));
    for (const span of ended) expect(noteValues(span)).not.toContain('aborted');
    // The connection got one listener at its first traced request; the responses none.
    expect(new Set(socketListeners)).toEqual(new Set([plainSocket + 1]));
    expect(new Set(responseListeners)).toEqual(new Set([plainResponse]));
  });

  it('a request aborted on a keep-alive connection after others finished: only that one is aborted', async () => {
    let hangingSocket: net.Socket | undefined;
    const { server, spans } = await start((app) => {
      app.get('/fine', (_req: unknown, res: http.ServerResponse) => res.end('fine'));
      app.get('/hang', (req: http.IncomingMessage, res: http.ServerResponse) => {
        res.writeHead(200);
        res.write('partial');
        hangingSocket = req.socket;
      });
    });
    const socket = await pipeline(server.port, ['/fine']);
    let received = '';
    await new Promise<void>((resolve) =>
      socket.on('data', (chunk) => {
        received += chunk;
        if (received.includes('fine') && hangingSocket === undefined) {
          socket.write('GET /hang HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
        } else if (received.includes('partial')) resolve();
      }),
    );
    const closed = new Promise((resolve) => hangingSocket!.once('close', resolve));
    socket.destroy();
    await closed;
    const [fine, hang] = await Promise.all([
      spans.waitFor((s) => s.name === 'GET /fine'),
      spans.waitFor((s) => s.name === 'GET /hang'),
    ]);
    expect(noteValues(fine)).not.toContain('aborted');
    expect(noteValues(hang)).toContain('aborted');
    expect(hang.tags['http.status_code']).toBe(200);
    expect(spans.spans.filter(isServer)).toHaveLength(2);
  });

  it('pipelined requests all complete: each span ends once, in order, none aborted', async () => {
    const { server, spans } = await start((app) =>
      app.get('/p/:n', (req: { params: { n: string } }, res: http.ServerResponse) => {
        // Later requests answer first; Node still sends (and finishes) the responses in order.
        setTimeout(() => res.end(`r${req.params.n};`), 30 - 10 * Number(req.params.n));
      }),
    );
    const socket = await pipeline(server.port, ['/p/0', '/p/1', '/p/2']);
    let received = '';
    await new Promise<void>((resolve) =>
      socket.on('data', (chunk) => {
        received += chunk;
        if (received.includes('r2;')) resolve();
      }),
    );
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.end();
    await closed;
    const ended = await spans.waitForCount(3, isServer);
    expect(received.indexOf('r0;')).toBeLessThan(received.indexOf('r1;'));
    expect(received.indexOf('r1;')).toBeLessThan(received.indexOf('r2;'));
    expect(ended.map((s) => s.tags['http.path'])).toEqual(['/p/0', '/p/1', '/p/2']);
    for (const span of ended) {
      expect(noteValues(span)).not.toContain('aborted');
      expect(span.tags['http.status_code']).toBe(200);
    }
    await server.close();
    expect(spans.spans.filter(isServer)).toHaveLength(3);
  });

  it('a connection closed with pipelined requests in flight ends them all as aborted, queued ones too', async () => {
    let served = 0;
    let allArrived!: () => void;
    const arrived = new Promise<void>((resolve) => (allArrived = resolve));
    let serverSocket: net.Socket | undefined;
    const { server, spans } = await start((app) =>
      app.get('/q/:n', (req: http.IncomingMessage, res: http.ServerResponse) => {
        serverSocket = req.socket;
        // The first answers in part and hangs; the others wait behind it.
        if (req.url === '/q/0') {
          res.writeHead(200);
          res.write('part');
        }
        if (++served === 3) allArrived();
      }),
    );
    const socket = await pipeline(server.port, ['/q/0', '/q/1', '/q/2']);
    await arrived;
    const closed = new Promise((resolve) => serverSocket!.once('close', resolve));
    socket.destroy();
    await closed;
    const ended = await spans.waitForCount(3, isServer);
    expect(ended.map((s) => s.tags['http.path']).sort()).toEqual(['/q/0', '/q/1', '/q/2']);
    for (const span of ended) expect(noteValues(span)).toContain('aborted');
    expect(ended.find((s) => s.tags['http.path'] === '/q/0')?.tags['http.status_code']).toBe(200);
    expect(ended.find((s) => s.tags['http.path'] === '/q/2')?.tags['http.status_code']).toBeUndefined();
  });

  it('keeps nothing for a response once it ended', async () => {
    let response: http.ServerResponse | undefined;
    const { server, spans } = await start((app) =>
      app.get('/', (_req: unknown, res: http.ServerResponse) => {
        response = res;
        expect(exchangeOf(res)).toBeDefined();
        res.end('ok');
      }),
    );
    expect((await send(`${server.url}/`)).body).toBe('ok');
    await spans.waitFor(isServer);
    expect(exchangeOf(response!)).toBeUndefined();
  });

  it('a second middleware (a sub-app, or used twice) adds no span, sampled or not', async () => {
    const { server, spans, tracer } = await start((app, tracer) => {
      const sub = express();
      sub.use(expressMiddleware({ tracer }));
      sub.get('/x', (_req: unknown, res: http.ServerResponse) => res.end(String(tracer.currentSpan()?.sampled)));
      app.use(expressMiddleware({ tracer }));
      app.use('/sub', sub);
    });
    expect((await send(`${server.url}/sub/x`)).body).toBe('true');
    expect((await spans.waitFor(isServer)).name).toBe('GET /sub/x');
    const unsampled = await send(`${server.url}/sub/x`, {
      headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' },
    });
    expect(unsampled.body).toBe('false');
    await tracer.flush();
    expect(tracer.stats().spansStarted).toBe(1);
    expect(spans.spans.filter(isServer)).toHaveLength(1);
  });
});
