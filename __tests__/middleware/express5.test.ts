import diagnosticsChannel from 'node:diagnostics_channel';
import type http from 'node:http';
import type { FinishedSpan } from '../../lib/types';
import { expressConformance, startTracedApp } from '../helpers/express-conformance';
import { send, type TestServer } from '../helpers/http-servers';

// Express 5 (router >= 2.3): rejected async handlers reach the error handlers, and the router's
// `express.router.request` channel gives the span the error's own message.
expressConformance({
  label: 'Express 5',
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  express: require('express'),
  asyncErrors: true,
  errorObjects: true,
});

describe('the Express under test', () => {
  it('is Express 5 (the suite above must not silently run against another major)', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect(require('express/package.json').version).toMatch(/^5\./);
  });
});

// The error comes from the router's own record of the errors a request met (no subscription to
// its tracing channel, which would make it wrap every handler call of every request).
describe('Express 5: the error on the span is the first one the router met', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const express = require('express');
  const isServer = (s: FinishedSpan) => s.kind === 'SERVER';
  let open: TestServer[] = [];
  afterEach(async () => {
    await Promise.all(open.map((s) => s.close()));
    open = [];
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async function start(build: (app: any) => void) {
    const traced = await startTracedApp(express, build);
    open.push(traced.server);
    return traced;
  }

  it('does not subscribe to the router tracing channel', async () => {
    await start((app) => app.get('/', (_req: unknown, res: http.ServerResponse) => res.end('ok')));
    const channel = diagnosticsChannel.tracingChannel('express.router.request');
    expect([channel.start, channel.end, channel.asyncStart, channel.asyncEnd, channel.error].some((c) => c.hasSubscribers)).toBe(false);
  });

  it('an error handler that replaces the error does not hide the first one', async () => {
    const { server, spans } = await start((app) => {
      app.get('/fail', () => {
        throw new Error('first');
      });
      app.use((_err: unknown, _req: unknown, _res: unknown, next: (e: unknown) => void) => next(new Error('second')));
      app.use((err: Error, _req: unknown, res: http.ServerResponse, _next: unknown) => {
        res.statusCode = 500;
        res.end(err.message);
      });
    });
    const res = await send(`${server.url}/fail`);
    expect(res.body).toBe('second');
    expect((await spans.waitFor(isServer)).error).toBe('first');
  });

  it('an error in a nested router and a sub-app, handled by the top app, with a 4xx: the span is failed all the same', async () => {
    const { server, spans } = await start((app) => {
      const api = express.Router();
      api.get('/items/:id', (_req: unknown, _res: unknown, next: (e: unknown) => void) => next(new Error('no such item')));
      const admin = express();
      admin.get('/users', async () => {
        throw new Error('admin down');
      });
      app.use('/api', api);
      app.use('/admin', admin);
      app.use((err: Error, _req: unknown, res: http.ServerResponse, _next: unknown) => {
        res.statusCode = 404;
        res.end(err.message);
      });
    });
    expect((await send(`${server.url}/api/items/7`)).body).toBe('no such item');
    expect((await spans.waitFor((s) => s.name === 'GET /api/items/:id')).error).toBe('no such item');
    expect((await send(`${server.url}/admin/users`)).body).toBe('admin down');
    expect((await spans.waitFor((s) => s.tags['http.path'] === '/admin/users')).error).toBe('admin down');
  });

  it('a request without an error, after one with an error on the same connection, is not failed', async () => {
    const { server, spans } = await start((app) => {
      app.get('/fail', (_req: unknown, _res: unknown, next: (e: unknown) => void) => next(new Error('boom')));
      app.get('/ok', (_req: unknown, res: http.ServerResponse) => res.end('ok'));
    });
    expect((await send(`${server.url}/fail`)).status).toBe(500);
    expect((await send(`${server.url}/ok`)).status).toBe(200);
    const ok = await spans.waitFor((s) => s.name === 'GET /ok');
    expect(ok.error).toBeUndefined();
    expect((await spans.waitFor((s) => s.name === 'GET /fail')).error).toBe('boom');
    expect(spans.spans.filter(isServer)).toHaveLength(2);
  });
});
