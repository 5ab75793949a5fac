/**
 * The one conformance suite every Express version runs (`express4.test.ts`, `express5.test.ts`):
 * real apps on 127.0.0.1, real clients, spans awaited from a `SpanCollector`.
 *
 *   expressConformance({ label: 'Express 5', express: require('express'), asyncErrors: true, errorObjects: true });
 *
 * Each test builds its own app and tracer, so the suite is safe to run in parallel files.
 */
import http from 'node:http';
import { expressMiddleware, type ExpressMiddlewareOptions } from '../../middleware/express';
import { Tracer } from '../../lib/tracer';
import type { FinishedSpan } from '../../lib/types';
import { collectingTracer, type CollectingTracer } from './span-collector';
import { listen, send, sendRaw, type TestServer } from './http-servers';

/** An Express module as `require` returns it (untyped: Express 4 ships no types). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ExpressModule = any;

/** The Express version under test, and what it can do. */
export interface ExpressUnderTest {
  /** Shown in test names, e.g. `'Express 4'`. */
  label: string;
  /** The module: `require('express4')` or `require('express')`. */
  express: ExpressModule;
  /** A rejected async handler reaches the error handlers (Express 5; Express 4 cannot). */
  asyncErrors: boolean;
  /** The span's `error` is the error's own message (Express 5's router channel) rather than `HTTP 500`. */
  errorObjects: boolean;
}

/** A traced app under test: its server, tracer and collected spans. */
export interface TracedApp extends CollectingTracer {
  server: TestServer;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  app: any;
}

/** The incoming ids the propagation tests send. */
export const INCOMING_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
export const INCOMING_SPAN_ID = '00f067aa0ba902b7';

const T = INCOMING_TRACE_ID;
const S = INCOMING_SPAN_ID;
const isServer = (s: FinishedSpan) => s.kind === 'SERVER';

/**
 * Starts an app with `expressMiddleware` (plus `options`) first, then whatever `build` adds,
 * on a fresh collecting tracer. Servers are closed by the suite after each test; callers outside
 * the suite close `server` themselves.
 */
export async function startTracedApp(
  express: ExpressModule,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  build: (app: any) => void,
  options: Omit<ExpressMiddlewareOptions, 'tracer'> = {},
  serverOptions: http.ServerOptions = {},
): Promise<TracedApp> {
  const traced = collectingTracer();
  const app = express();
  app.use(expressMiddleware({ tracer: traced.tracer, ...options }));
  build(app);
  const server = await listen(app, serverOptions);
  return { ...traced, server, app };
}

/** Registers the conformance suite for one Express version. */
export function expressConformance(x: ExpressUnderTest): void {
  const { express } = x;
  let open: TestServer[] = [];

  async function start(
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    build: (app: any) => void,
    options: Omit<ExpressMiddlewareOptions, 'tracer'> = {},
    serverOptions: http.ServerOptions = {},
  ): Promise<TracedApp> {
    const traced = await startTracedApp(express, build, options, serverOptions);
    open.push(traced.server);
    return traced;
  }

  afterEach(async () => {
    await Promise.all(open.map((s) => s.close()));
    open = [];
  });

  describe(`${x.label}: expressMiddleware conformance`, () => {
    describe('span names and tags', () => {
      it('names a request by its route template and tags method, route, path and status', async () => {
        const { server, spans } = await start((app) => app.get('/users/:id', (_req: unknown, res: http.ServerResponse) => res.end('ok')));
        const res = await send(`${server.url}/users/7?tab=1`);
        expect(res.status).toBe(200);
        const span = await spans.waitFor(isServer);
        expect(span.name).toBe('GET /users/:id');
        expect(span.kind).toBe('SERVER');
        expect(span.tags).toEqual({
          'http.method': 'GET',
          'http.route': '/users/:id',
          'http.path': '/users/7',
          'http.status_code': 200,
        });
        expect(span.host).toEqual({ address: '127.0.0.1', port: server.port });
        expect(span.service).toBe('test-service');
        expect(span.parentId).toBeUndefined();
        expect(span.error).toBeUndefined();
      });

      it('joins the mount paths of nested routers, parameters as templates, never values', async () => {
        const { server, spans } = await start((app) => {
          const api = express.Router();
          const org = express.Router({ mergeParams: true });
          org.get('/teams/:team', (_req: unknown, res: http.ServerResponse) => res.end('team'));
          api.use('/orgs/:org', org);
          api.get('/items/:id', (_req: unknown, res: http.ServerResponse) => res.end('item'));
          app.use('/api', api);
        });
        for (const path of ['/api/items/1', '/api/orgs/acme/teams/7', '/api/orgs/globex/teams/9']) {
          expect((await send(server.url + path)).status).toBe(200);
        }
        const names = (await spans.waitForCount(3, isServer)).map((s) => s.name).sort();
        expect(names).toEqual(['GET /api/items/:id', 'GET /api/orgs/:org/teams/:team', 'GET /api/orgs/:org/teams/:team']);
        expect(spans.spans.map((s) => s.tags['http.route']).sort()).toEqual([
          '/api/items/:id', '/api/orgs/:org/teams/:team', '/api/orgs/:org/teams/:team',
        ]);
      });

      it('names array paths, of routes and of mounts, by the alternative that matched', async () => {
        const { server, spans } = await start((app) => {
          const r = express.Router();
          r.get('/ping', (_req: unknown, res: http.ServerResponse) => res.end('pong'));
          app.use(['/v1', '/v2'], r);
          app.get(['/a', '/b/:x'], (_req: unknown, res: http.ServerResponse) => res.end('ab'));
        });
        for (const path of ['/a', '/b/5', '/v1/ping', '/v2/ping']) expect((await send(server.url + path)).status).toBe(200);
        const names = (await spans.waitForCount(4, isServer)).map((s) => s.name).sort();
        expect(names).toEqual(['GET /a', 'GET /b/:x', 'GET /v1/ping', 'GET /v2/ping']);
      });

      it('names regular-expression routes and mounts by their source', async () => {
        const route = /^\/re\/(\d+)$/;
        const mount = /^\/ver\d+/;
        const { server, spans } = await start((app) => {
          const r = express.Router();
          r.get('/x', (_req: unknown, res: http.ServerResponse) => res.end('x'));
          app.use(mount, r);
          app.get(route, (_req: unknown, res: http.ServerResponse) => res.end('re'));
        });
        expect((await send(`${server.url}/re/42`)).status).toBe(200);
        expect((await send(`${server.url}/ver3/x`)).status).toBe(200);
        const names = (await spans.waitForCount(2, isServer)).map((s) => s.name).sort();
        expect(names).toEqual([`GET ${String(mount)}/x`, `GET ${String(route)}`].sort());
      });

      it('follows the mount a request came through when one router is mounted twice', async () => {
        const { server, spans } = await start((app) => {
          const r = express.Router();
          r.get('/z/:id', (_req: unknown, res: http.ServerResponse) => res.end('z'));
          app.use('/x', r);
          app.use('/y', r);
        });
        for (const path of ['/y/z/1', '/x/z/2', '/y/z/3']) expect((await send(server.url + path)).status).toBe(200);
        const names = (await spans.waitForCount(3, isServer)).map((s) => s.name).sort();
        expect(names).toEqual(['GET /x/z/:id', 'GET /y/z/:id', 'GET /y/z/:id']);
      });

      it('names routes of a mounted sub-app with its mount path', async () => {
        const { server, spans } = await start((app) => {
          const admin = express();
          admin.get('/users/:id', (_req: unknown, res: http.ServerResponse) => res.end('admin'));
          app.use('/admin', admin);
        });
        expect((await send(`${server.url}/admin/users/3`)).status).toBe(200);
        expect((await spans.waitFor(isServer)).name).toBe('GET /admin/users/:id');
      });

      it('names a request that no route matched by its method alone', async () => {
        const { server, spans } = await start((app) => app.get('/only', (_req: unknown, res: http.ServerResponse) => res.end()));
        expect((await send(`${server.url}/nothing/here`, { method: 'POST' })).status).toBe(404);
        const span = await spans.waitFor(isServer);
        expect(span.name).toBe('POST');
        expect(span.tags['http.route']).toBeUndefined();
        expect(span.tags['http.status_code']).toBe(404);
        expect(span.tags['http.path']).toBe('/nothing/here');
        expect(span.error).toBeUndefined();
      });
    });

    describe('context', () => {
      it('makes spans opened in handlers children of the server span, before and after awaits', async () => {
        let tracer!: Tracer;
        const { server, spans, tracer: t } = await start((app) => {
          // Middleware that continues asynchronously, as body parsers and auth checks do.
          app.use((_req: unknown, _res: unknown, next: () => void) => setImmediate(next));
          app.get('/work', async (_req: unknown, res: http.ServerResponse) => {
            tracer.trace('sync child', () => undefined);
            await new Promise((resolve) => setImmediate(resolve));
            await tracer.trace('async child', async () => {
              await new Promise((resolve) => setImmediate(resolve));
            });
            res.end('done');
          });
        });
        tracer = t;
        expect((await send(`${server.url}/work`)).status).toBe(200);
        const [server_, sync, async_] = await Promise.all([
          spans.waitFor(isServer),
          spans.waitFor((s) => s.name === 'sync child'),
          spans.waitFor((s) => s.name === 'async child'),
        ]);
        for (const child of [sync, async_]) {
          expect(child.traceId).toBe(server_.traceId);
          expect(child.parentId).toBe(server_.id);
        }
      });

      it('keeps concurrent requests in separate traces', async () => {
        let tracer!: Tracer;
        const { server, spans, tracer: t } = await start((app) =>
          app.get('/n/:n', async (req: { params: { n: string } }, res: http.ServerResponse) => {
            await new Promise((resolve) => setImmediate(resolve));
            tracer.trace(`child ${req.params.n}`, () => undefined);
            res.end();
          }),
        );
        tracer = t;
        await Promise.all(Array.from({ length: 20 }, (_, n) => send(`${server.url}/n/${n}`)));
        const servers = await spans.waitForCount(20, isServer);
        for (let n = 0; n < 20; n++) {
          const child = await spans.waitFor((s) => s.name === `child ${n}`);
          const parent = servers.find((s) => s.id === child.parentId);
          expect(parent?.tags['http.path']).toBe(`/n/${n}`);
          expect(parent?.traceId).toBe(child.traceId);
        }
        expect(new Set(servers.map((s) => s.traceId)).size).toBe(20);
      });
    });

    describe('errors', () => {
      it('next(err): the same error object reaches the error handler, and the span is failed', async () => {
        const thrown = new Error('boom');
        let seen: unknown;
        const { server, spans } = await start((app) => {
          app.get('/fail', (_req: unknown, _res: unknown, next: (e: unknown) => void) => next(thrown));
          app.use((err: unknown, _req: unknown, res: http.ServerResponse, _next: unknown) => {
            seen = err;
            res.statusCode = 500;
            res.end('handled');
          });
        });
        const res = await send(`${server.url}/fail`);
        expect(res.body).toBe('handled');
        expect(seen).toBe(thrown);
        const span = await spans.waitFor(isServer);
        expect(span.name).toBe('GET /fail');
        expect(span.error).toBe(x.errorObjects ? 'boom' : 'HTTP 500');
        expect(span.notes.map((n) => n.value)).toContain('error');
        expect(span.tags['http.status_code']).toBe(500);
      });

      it('a handler that throws, with no error handler: 500 from Express, span failed', async () => {
        const { server, spans } = await start((app) =>
          app.get('/throw', () => {
            throw new Error('sync boom');
          }),
        );
        expect((await send(`${server.url}/throw`)).status).toBe(500);
        const span = await spans.waitFor(isServer);
        expect(span.error).toBe(x.errorObjects ? 'sync boom' : 'HTTP 500');
      });

      (x.asyncErrors ? it : it.skip)('an async handler that rejects: same object to the error handler, span failed', async () => {
        const thrown = new Error('async boom');
        let seen: unknown;
        const { server, spans } = await start((app) => {
          app.get('/async', async () => {
            await new Promise((resolve) => setImmediate(resolve));
            throw thrown;
          });
          app.use((err: unknown, _req: unknown, res: http.ServerResponse, _next: unknown) => {
            seen = err;
            res.statusCode = 502;
            res.end();
          });
        });
        expect((await send(`${server.url}/async`)).status).toBe(502);
        expect(seen).toBe(thrown);
        expect((await spans.waitFor(isServer)).error).toBe('async boom');
      });

      it('a 5xx response is an error; a 4xx response is not', async () => {
        const { server, spans } = await start((app) => {
          app.get('/unavailable', (_req: unknown, res: http.ServerResponse) => {
            res.statusCode = 503;
            res.end();
          });
          app.get('/missing', (_req: unknown, res: http.ServerResponse) => {
            res.statusCode = 404;
            res.end();
          });
        });
        await send(`${server.url}/unavailable`);
        await send(`${server.url}/missing`);
        const [unavailable, missing] = await Promise.all([
          spans.waitFor((s) => s.name === 'GET /unavailable'),
          spans.waitFor((s) => s.name === 'GET /missing'),
        ]);
        expect(unavailable.error).toBe('HTTP 503');
        expect(unavailable.tags['http.status_code']).toBe(503);
        expect(missing.error).toBeUndefined();
        expect(missing.tags['http.status_code']).toBe(404);
      });
    });

    describe('response lifecycle', () => {
      it('a client that disconnects mid-response ends the span with the note aborted', async () => {
        const { server, spans } = await start((app) =>
          app.get('/slow', (_req: unknown, res: http.ServerResponse) => {
            res.writeHead(200, { 'content-type': 'text/plain' });
            res.write('first part');
            // Never ends: the client goes away first.
          }),
        );
        await new Promise<void>((resolve, reject) => {
          const req = http.get(`${server.url}/slow`, { agent: false }, (res) => {
            res.once('data', () => {
              req.destroy();
              resolve();
            });
          });
          req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? undefined : reject(error)));
        });
        const span = await spans.waitFor(isServer);
        expect(span.name).toBe('GET /slow');
        expect(span.notes.map((n) => n.value)).toContain('aborted');
        expect(span.tags['http.status_code']).toBe(200);
      });

      it('a streamed response ends the span when the stream ends', async () => {
        let release!: () => void;
        const released = new Promise<void>((resolve) => (release = resolve));
        let endedAt = 0;
        let tracer!: Tracer;
        const { server, spans, tracer: t } = await start((app) =>
          app.get('/stream', async (_req: unknown, res: http.ServerResponse) => {
            res.write('one,');
            await released;
            endedAt = tracer.now();
            res.end('two');
          }),
        );
        tracer = t;
        const body = await new Promise<string>((resolve, reject) => {
          http.get(`${server.url}/stream`, { agent: false }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              text += chunk;
              release();
            });
            res.on('end', () => resolve(text));
          }).on('error', reject);
        });
        expect(body).toBe('one,two');
        const span = await spans.waitFor(isServer);
        expect(endedAt).toBeGreaterThan(0);
        expect(span.timestamp + span.duration).toBeGreaterThanOrEqual(endedAt);
        expect(span.notes.map((n) => n.value)).not.toContain('aborted');
      });
    });

    describe('options', () => {
      it('ignore: exact paths, RegExps and predicates get no span; other requests do', async () => {
        const { server, spans, tracer } = await start(
          (app) => app.use((_req: unknown, res: http.ServerResponse) => res.end('ok')),
          { ignore: ['/health', /^\/internal\//, (req) => req.headers['x-no-trace'] === '1'] },
        );
        await send(`${server.url}/health`);
        await send(`${server.url}/health?verbose=1`);
        await send(`${server.url}/internal/metrics`);
        await send(`${server.url}/orders`, { headers: { 'x-no-trace': '1' } });
        expect(tracer.stats().spansStarted).toBe(0);
        await send(`${server.url}/healthz`);
        await send(`${server.url}/orders`);
        const traced = await spans.waitForCount(2, isServer);
        expect(traced.map((s) => s.tags['http.path']).sort()).toEqual(['/healthz', '/orders']);
        expect(tracer.stats().spansStarted).toBe(2);
      });

      it('traceIdHeader sends the trace id on the response; no header by default', async () => {
        const withHeader = await start((app) => app.get('/', (_req: unknown, res: http.ServerResponse) => res.end()), {
          traceIdHeader: 'x-trace-id',
        });
        const res = await send(`${withHeader.server.url}/`);
        const span = await withHeader.spans.waitFor(isServer);
        expect(res.headers['x-trace-id']).toBe(span.traceId);

        const without = await start((app) => app.get('/', (_req: unknown, res: http.ServerResponse) => res.end()));
        expect((await send(`${without.server.url}/`)).headers['x-trace-id']).toBeUndefined();
      });

      it('serviceName and onResponse: tags from request and response; a throwing hook is reported', async () => {
        const { server, spans } = await start((app) => app.get('/', (_req: unknown, res: http.ServerResponse) => res.end()), {
          serviceName: 'shop-api',
          onResponse: (span, req, res) => {
            span.tag('user', String(req.headers['x-user']));
            span.tag('content.type', String(res.getHeader('content-type') ?? 'none'));
          },
        });
        await send(`${server.url}/`, { headers: { 'x-user': 'ada' } });
        const span = await spans.waitFor(isServer);
        expect(span.service).toBe('shop-api');
        expect(span.tags.user).toBe('ada');
        expect(span.tags['content.type']).toBe('none');

        const thrower = await start((app) => app.get('/', (_req: unknown, res: http.ServerResponse) => res.end('fine')), {
          onResponse: () => {
            throw new Error('hook bug');
          },
        });
        expect((await send(`${thrower.server.url}/`)).body).toBe('fine');
        expect((await thrower.spans.waitFor(isServer)).name).toBe('GET /');
        expect(thrower.diagnostics.map((d) => d.code)).toContain('TOMOGRAPH_INTEGRATION_ERROR');
      });

      it('rejects wrong options with a TypeError carrying TOMOGRAPH_ERR_INVALID_OPTION', () => {
        const wrong: unknown[] = [
          { ignore: 5 },
          { ignore: [/ok/, null] },
          { traceIdHeader: 'bad header' },
          { traceIdHeader: true },
          { onResponse: 'tag it' },
          { serviceName: '' },
          { tracer: {} },
          { colour: 'blue' },
          null,
        ];
        for (const options of wrong) {
          let caught: unknown;
          try {
            expressMiddleware(options as ExpressMiddlewareOptions);
          } catch (error) {
            caught = error;
          }
          expect(caught).toBeInstanceOf(TypeError);
          expect((caught as { code?: string }).code).toBe('TOMOGRAPH_ERR_INVALID_OPTION');
        }
      });

      it('an unconfigured tracer passes every request straight through', async () => {
        const tracer = new Tracer();
        const app = express();
        app.use(expressMiddleware({ tracer, traceIdHeader: 'x-trace-id' }));
        app.get('/', (_req: unknown, res: http.ServerResponse) => res.end(String(tracer.currentSpan())));
        const server = await listen(app);
        open.push(server);
        const res = await send(`${server.url}/`);
        expect(res.body).toBe('undefined');
        expect(res.headers['x-trace-id']).toBeUndefined();
      });
    });

    describe('continuing incoming traces', () => {
      const cases: [string, Record<string, string>][] = [
        ['X-Trace-Info', { 'X-Trace-Info': `00-${T}-${S}-01` }],
        ['traceparent', { traceparent: `00-${T}-${S}-01` }],
        ['b3', { b3: `${T}-${S}-1` }],
        ['X-B3-*', { 'X-B3-TraceId': T, 'X-B3-SpanId': S, 'X-B3-Sampled': '1' }],
      ];
      it.each(cases)('continues %s', async (_label, headers) => {
        const { server, spans } = await start((app) => app.get('/', (_req: unknown, res: http.ServerResponse) => res.end()));
        await send(`${server.url}/`, { headers });
        const span = await spans.waitFor(isServer);
        expect(span.traceId).toBe(T);
        expect(span.parentId).toBe(S);
      });

      it('an unsampled incoming trace records nothing but keeps its trace id', async () => {
        let tracer!: Tracer;
        const { server, tracer: t } = await start(
          (app) => app.get('/', (_req: unknown, res: http.ServerResponse) => res.end(String(tracer.trace('child', (s) => s.sampled)))),
          { traceIdHeader: 'x-trace-id' },
        );
        tracer = t;
        const res = await send(`${server.url}/`, { headers: { traceparent: `00-${T}-${S}-00` } });
        expect(res.body).toBe('false');
        expect(res.headers['x-trace-id']).toBe(T);
        expect(tracer.stats().spansStarted).toBe(0);
      });
    });

    describe('malformed trace headers', () => {
      it('garbage, oversized, duplicated headers: the request is served as a new trace, and counted', async () => {
        const { server, spans, tracer } = await start((app) => app.get('/', (_req: unknown, res: http.ServerResponse) => res.end('ok')));
        const sets = [
          ['traceparent: garbage!'],
          [`X-Trace-Info: ${'a'.repeat(10 * 1024)}`],
          [`b3: ${T}-${S}-1`, `b3: ${T}-${S}-1`],
          ['X-B3-TraceId: not-hex', `X-B3-SpanId: ${S}`],
          [`X-Trace-Info: 00-${'0'.repeat(32)}-${S}-01`],
        ];
        for (const lines of sets) {
          const res = await sendRaw(server.port, '/', lines);
          expect(res.status).toBe(200);
          expect(res.body).toBe('ok');
        }
        const served = await spans.waitForCount(sets.length, isServer);
        for (const span of served) {
          expect(span.parentId).toBeUndefined();
          expect(span.traceId).not.toBe(T);
        }
        expect(tracer.stats().malformedHeaders).toBe(sets.length);
      });

      it('CR/LF in a header: Node refuses it before the app; folded lines that get through are counted', async () => {
        // Node's strict parser answers 400 itself, and the server keeps serving.
        const strict = await start((app) => app.get('/', (_req: unknown, res: http.ServerResponse) => res.end('ok')));
        expect((await sendRaw(strict.server.port, '/', [`traceparent: 00-${T}\r-${S}-01`])).status).toBe(400);
        expect((await sendRaw(strict.server.port, '/', [`X-Trace-Info: 00-${T}\n-${S}-01`])).status).toBe(400);
        expect((await sendRaw(strict.server.port, '/', [])).status).toBe(200);
        expect((await strict.spans.waitFor(isServer)).parentId).toBeUndefined();

        // A lenient parser lets an obs-folded (CRLF + space) value reach the middleware.
        const lenient = await start(
          (app) => app.get('/', (_req: unknown, res: http.ServerResponse) => res.end('ok')),
          {},
          { insecureHTTPParser: true },
        );
        const res = await sendRaw(lenient.server.port, '/', [`traceparent: 00-${T}`, ` -${S}-01`]);
        expect(res.status).toBe(200);
        const span = await lenient.spans.waitFor(isServer);
        expect(span.parentId).toBeUndefined();
        expect(lenient.tracer.stats().malformedHeaders).toBe(1);
      });
    });
  });
}
