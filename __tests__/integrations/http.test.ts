import diagnosticsChannel from 'node:diagnostics_channel';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { ZipkinHttpClient } from '../../exporters/zipkin-http';
import { instrumentHttp, type HttpInstrumentationOptions } from '../../integrations/http';
import { publishesRequestCreated } from '../../integrations/http-channels';
import { Tracer } from '../../lib/tracer';
import type { Exporter, FinishedSpan } from '../../lib/types';
import { listen, type TestServer } from '../helpers/http-servers';
import { collectingTracer, type CollectingTracer } from '../helpers/span-collector';

/** A server that answers by path and remembers the headers of every request it got. */
async function recordingServer(): Promise<TestServer & { received: IncomingHttpHeaders[] }> {
  const received: IncomingHttpHeaders[] = [];
  const server = await listen((req, res) => {
    received.push(req.headers);
    if (req.url?.startsWith('/status/')) res.statusCode = Number(req.url.slice(8, 11));
    if (req.url === '/partial') {
      res.write('part', () => res.socket?.destroy());
      return;
    }
    if (req.url === '/hang') {
      res.write('part');
      return;
    }
    res.end('ok');
  });
  return Object.assign(server, { received });
}

/** A port nothing listens on (a server bound, then closed). */
async function closedPort(): Promise<number> {
  const server = await listen((_req, res) => res.end());
  await server.close();
  return server.port;
}

function get(url: string, options: http.RequestOptions = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, options, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

const isClient = (s: FinishedSpan) => s.kind === 'CLIENT';
const TOKEN = /^00-([0-9a-f]{32})-([0-9a-f]{16})-03$/;

describe('instrumentHttp', () => {
  let target: Awaited<ReturnType<typeof recordingServer>>;
  let t: CollectingTracer;
  let undo: () => void;

  function instrument(options: Omit<HttpInstrumentationOptions, 'tracer'> = {}): void {
    undo = instrumentHttp({ tracer: t.tracer, ...options });
  }

  beforeEach(async () => {
    target = await recordingServer();
    t = collectingTracer({ serviceName: 'caller' });
    undo = () => undefined;
  });

  afterEach(async () => {
    undo();
    await target.close();
  });

  describe('http', () => {
    it('http.get: a CLIENT span, child of the current span, with its ids in the request headers', async () => {
      instrument({ remoteServiceName: (url) => (url.includes(`:${target.port}/`) ? 'target' : undefined) });
      const parent = await t.tracer.trace('parent', async (span) => {
        expect((await get(`${target.url}/users/1?secret=x`)).body).toBe('ok');
        return span;
      });
      const span = await t.spans.waitFor(isClient);
      expect(span.name).toBe('GET');
      expect(span.parentId).toBe(parent.id);
      expect(span.traceId).toBe(parent.traceId);
      expect(span.tags).toEqual({
        'http.method': 'GET',
        'http.url': `http://127.0.0.1:${target.port}/users/1`,
        'http.status_code': 200,
      });
      expect(span.remote).toEqual({ service: 'target', address: '127.0.0.1', port: target.port });
      expect(span.error).toBeUndefined();
      const headers = target.received[0];
      expect(headers['x-trace-info']).toBe(`00-${span.traceId}-${span.id}-03`);
      expect(headers.traceparent).toBe(`00-${span.traceId}-${span.id}-03`);
      expect(headers.b3).toBe(`${span.traceId}-${span.id}-1`);
    });

    it('http.request: a POST with a body written in parts; the propagation option decides the headers', async () => {
      t = collectingTracer({ propagation: ['b3-multi'] });
      instrument();
      await t.tracer.trace('parent', () =>
        new Promise<void>((resolve, reject) => {
          const req = http.request(`${target.url}/orders`, { method: 'POST' }, (res) => {
            res.resume();
            res.on('end', resolve);
          });
          req.on('error', reject);
          req.write('{"a":');
          req.end('1}');
        }),
      );
      const span = await t.spans.waitFor(isClient);
      expect(span.name).toBe('POST');
      expect(span.tags['http.method']).toBe('POST');
      const headers = target.received[0];
      expect(headers['x-b3-traceid']).toBe(span.traceId);
      expect(headers['x-b3-spanid']).toBe(span.id);
      expect(headers['x-b3-sampled']).toBe('1');
      expect(headers.traceparent).toBeUndefined();
    });

    it('a request through a proxy (absolute URL as path) is tagged with that URL; remote is the proxy', async () => {
      instrument();
      await t.tracer.trace('parent', () =>
        get(`${target.url}`, { path: 'http://upstream.example/v1/users?id=3', headers: { host: 'upstream.example' } }),
      );
      const span = await t.spans.waitFor(isClient);
      expect(span.tags['http.url']).toBe('http://upstream.example/v1/users');
      expect(span.remote).toEqual({ address: '127.0.0.1', port: target.port });
      expect(target.received[0].traceparent).toBe(`00-${span.traceId}-${span.id}-03`);
    });

    it('a 5xx response fails the span; a 4xx does not', async () => {
      instrument();
      await t.tracer.trace('parent', async () => {
        await get(`${target.url}/status/503`);
        await get(`${target.url}/status/404`);
      });
      const spans = await t.spans.waitForCount(2, isClient);
      const byStatus = new Map(spans.map((s) => [s.tags['http.status_code'], s]));
      expect(byStatus.get(503)?.error).toBe('HTTP 503');
      expect(byStatus.get(404)?.error).toBeUndefined();
    });

    it('a refused connection fails the span with the network error; the caller gets the same error', async () => {
      instrument();
      const port = await closedPort();
      const caught = await t.tracer.trace('parent', () =>
        new Promise<NodeJS.ErrnoException>((resolve) => {
          http.get(`http://127.0.0.1:${port}/x`).on('error', resolve);
        }),
      );
      expect(caught.code).toBe('ECONNREFUSED');
      const span = await t.spans.waitFor(isClient);
      // (In Jest's realm Node's errors are not `instanceof Error`, so the core prefixes the name.)
      expect(span.error).toContain(caught.message);
      expect(span.remote).toEqual({ address: '127.0.0.1', port });
      expect(span.tags['http.status_code']).toBeUndefined();
    });

    it('https requests are traced too (here: a refused one)', async () => {
      instrument();
      const port = await closedPort();
      await t.tracer.trace('parent', () =>
        new Promise<void>((resolve) => {
          https.get(`https://127.0.0.1:${port}/secure?q=1`).on('error', () => resolve());
        }),
      );
      const span = await t.spans.waitFor(isClient);
      expect(span.tags['http.url']).toBe(`https://127.0.0.1:${port}/secure`);
      expect(span.error).toMatch(/ECONNREFUSED/);
    });

    it('a response the server cuts off mid-body ends the span with the note aborted', async () => {
      instrument();
      await t.tracer.trace('parent', () =>
        new Promise<void>((resolve) => {
          const req = http.get(`${target.url}/partial`, (res) => {
            res.on('error', () => undefined);
            res.resume();
          });
          req.on('error', () => undefined);
          req.on('close', resolve);
        }),
      );
      const span = await t.spans.waitFor(isClient);
      expect(span.notes.map((n) => n.value)).toContain('aborted');
      expect(span.tags['http.status_code']).toBe(200);
    });

    it('a request the caller destroys mid-response ends the span with the note aborted', async () => {
      instrument();
      await t.tracer.trace('parent', () =>
        new Promise<void>((resolve) => {
          const req = http.get(`${target.url}/hang`, (res) => {
            res.on('error', () => undefined);
            res.once('data', () => req.destroy());
          });
          req.on('error', () => undefined);
          req.on('close', resolve);
        }),
      );
      const span = await t.spans.waitFor(isClient);
      expect(span.notes.map((n) => n.value)).toContain('aborted');
    });

    it('a request made outside any span is not traced, unless root: true', async () => {
      instrument();
      await get(`${target.url}/a`);
      expect(target.received[0].traceparent).toBeUndefined();
      expect(t.tracer.stats().spansStarted).toBe(0);
      undo();

      instrument({ root: true });
      await get(`${target.url}/b`);
      const span = await t.spans.waitFor(isClient);
      expect(span.parentId).toBeUndefined();
      expect(target.received[1].traceparent).toBe(`00-${span.traceId}-${span.id}-03`);
    });

    it('undo stops tracing and restores http.request and http.get', async () => {
      const originalRequest = http.request;
      const originalGet = http.get;
      instrument();
      if (!publishesRequestCreated()) expect(http.request).not.toBe(originalRequest);
      undo();
      undo();
      expect(http.request).toBe(originalRequest);
      expect(http.get).toBe(originalGet);
      await t.tracer.trace('parent', () => get(`${target.url}/after-undo`));
      await t.tracer.flush();
      expect(t.spans.spans.filter(isClient)).toEqual([]);
      expect(target.received[0].traceparent).toBeUndefined();
    });

    it('a request created without http.request gets its headers from http.client.request.created (Node >= 22.12)', async () => {
      instrument();
      const parent = await t.tracer.trace('parent', (span) =>
        new Promise<FinishedSpan | unknown>((resolve, reject) => {
          const req = new http.ClientRequest(`${target.url}/direct`, (res) => {
            res.resume();
            res.on('end', () => resolve(span));
          });
          req.on('error', reject);
          // What Node >= 22.12 publishes at the end of the ClientRequest constructor.
          diagnosticsChannel.channel('http.client.request.created').publish({ request: req });
          req.end();
        }),
      );
      const span = await t.spans.waitFor(isClient);
      expect(span.parentId).toBe((parent as { id: string }).id);
      expect(target.received[0].traceparent).toBe(`00-${span.traceId}-${span.id}-03`);
    });

    it('a request nobody saw created still gets a span at request.start, without headers', async () => {
      instrument();
      await t.tracer.trace('parent', () =>
        new Promise<void>((resolve, reject) => {
          const req = new http.ClientRequest(`${target.url}/late`, (res) => {
            res.resume();
            res.on('end', resolve);
          });
          req.on('error', reject);
          req.end();
        }),
      );
      const span = await t.spans.waitFor(isClient);
      expect(span.tags['http.url']).toBe(`${target.url}/late`);
      expect(span.tags['http.status_code']).toBe(200);
      expect(target.received[0].traceparent).toBeUndefined();
    });

    it('a throwing remoteServiceName is reported; the request is traced all the same', async () => {
      instrument({
        remoteServiceName: () => {
          throw new Error('naming bug');
        },
      });
      await t.tracer.trace('parent', () => get(`${target.url}/x`));
      const span = await t.spans.waitFor(isClient);
      expect(span.remote).toEqual({ address: '127.0.0.1', port: target.port });
      expect(t.diagnostics.map((d) => d.code)).toContain('TOMOGRAPH_INTEGRATION_ERROR');
    });
  });

  describe('fetch', () => {
    it('a CLIENT span with headers injected, status and url without query', async () => {
      instrument({ remoteServiceName: () => 'target' });
      const parent = await t.tracer.trace('parent', async (span) => {
        const res = await fetch(`${target.url}/items?page=2`, { method: 'PUT', body: 'x' });
        expect(await res.text()).toBe('ok');
        return span;
      });
      const span = await t.spans.waitFor(isClient);
      expect(span.name).toBe('PUT');
      expect(span.parentId).toBe(parent.id);
      expect(span.tags).toEqual({ 'http.method': 'PUT', 'http.url': `${target.url}/items`, 'http.status_code': 200 });
      expect(span.remote).toEqual({ service: 'target', address: '127.0.0.1', port: target.port });
      expect(target.received[0].traceparent).toBe(`00-${span.traceId}-${span.id}-03`);
      expect(target.received[0]['x-trace-info']).toBe(`00-${span.traceId}-${span.id}-03`);
    });

    it("replaces a trace header the caller set, so the request never carries two", async () => {
      instrument();
      await t.tracer.trace('parent', async () => {
        const stale = t.tracer.inject({} as Record<string, string>);
        await (await fetch(`${target.url}/`, { headers: stale })).text();
      });
      const span = await t.spans.waitFor(isClient);
      expect(target.received[0].traceparent).toBe(`00-${span.traceId}-${span.id}-03`);
      expect(target.received[0]['x-trace-info']).toMatch(TOKEN);
      expect(target.received[0]['x-trace-info']).toBe(`00-${span.traceId}-${span.id}-03`);
    });

    it('a 5xx fails the span; a refused connection fails it with the network error', async () => {
      instrument();
      const port = await closedPort();
      await t.tracer.trace('parent', async () => {
        await (await fetch(`${target.url}/status/500`)).text();
        await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
      });
      const spans = await t.spans.waitForCount(2, isClient);
      const ok = spans.find((s) => s.tags['http.status_code'] === 500);
      const refused = spans.find((s) => s.tags['http.url'] === `http://127.0.0.1:${port}/`);
      expect(ok?.error).toBe('HTTP 500');
      expect(refused?.error).toMatch(/ECONNREFUSED|connect/i);
    });

    it('fetch outside any span is not traced', async () => {
      instrument();
      await (await fetch(`${target.url}/`)).text();
      expect(target.received[0].traceparent).toBeUndefined();
      expect(t.tracer.stats().spansStarted).toBe(0);
    });
  });

  it('never traces an exporter upload: requests made under suppressed context get no span and no headers', async () => {
    let uploads = 0;
    const uploaded = new Promise<void>((resolve) => {
      const uploader: Exporter = {
        async export() {
          // An exporter sending spans over HTTP with both of Node's clients, and with the Zipkin
          // exporter's own (undici's npm package, which publishes the same undici:* channels).
          await get(`${target.url}/upload-http`);
          await (await fetch(`${target.url}/upload-fetch`)).text();
          const zipkin = new ZipkinHttpClient({ url: new URL(`${target.url}/upload-undici`), timeoutMs: 5000, headers: {} });
          await zipkin.post(Buffer.from('[]'), false);
          zipkin.destroy();
          uploads++;
          resolve();
        },
      };
      t = collectingTracer({ exporters: [uploader], scheduledDelayMs: 0 });
    });
    instrument({ root: true });
    t.tracer.trace('work', () => undefined);
    await uploaded;
    await t.tracer.flush();
    expect(uploads).toBe(1);
    expect(target.received.map((h) => h.traceparent)).toEqual([undefined, undefined, undefined]);
    // Only `work` was ever started: no CLIENT span for the uploads.
    expect(t.tracer.stats().spansStarted).toBe(1);
  });

  it('rejects wrong options with a TypeError carrying TOMOGRAPH_ERR_INVALID_OPTION', () => {
    for (const options of [{ root: 'yes' }, { remoteServiceName: 'svc' }, { tracer: {} }, { colour: 1 }, null]) {
      let caught: unknown;
      try {
        instrumentHttp(options as HttpInstrumentationOptions);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(TypeError);
      expect((caught as { code?: string }).code).toBe('TOMOGRAPH_ERR_INVALID_OPTION');
    }
  });

  it('an unconfigured tracer traces nothing and adds no headers', async () => {
    undo = instrumentHttp({ tracer: new Tracer(), root: true });
    await get(`${target.url}/`);
    await (await fetch(`${target.url}/`)).text();
    expect(target.received.map((h) => h.traceparent)).toEqual([undefined, undefined, undefined]);
  });
});
