import { DEFAULT_ZIPKIN_URL, encodeZipkinSpans, ZipkinExporter, ZipkinExportError, zipkinErrorCodes } from '../../exporters/zipkin';
import { codes, Tracer, type FinishedSpan } from '../../lib';
import type { DiagnosticEvent } from '../../lib/types';
import { ZipkinCollector } from '../helpers/zipkin-collector';

const T0 = 1_700_000_000_000_000;
let next = 1;

/** `count` finished spans with unique ids, a few tags and notes each. */
function spans(count: number, extra: Partial<FinishedSpan> = {}): FinishedSpan[] {
  return Array.from({ length: count }, () => {
    const n = next++;
    return {
      traceId: n.toString(16).padStart(32, '0'),
      id: n.toString(16).padStart(16, 'a'),
      name: `GET /Items/${n % 7}`,
      service: 'Shop',
      kind: 'SERVER' as const,
      host: { address: '10.0.0.1', port: 8080 },
      timestamp: T0 + n,
      duration: 100 + n,
      notes: [{ timestamp: T0 + n + 1, value: 'select', duration: 1234 }],
      tags: { 'http.status_code': 200, n },
      sampled: true,
      ...extra,
    };
  });
}

async function rejection(promise: Promise<unknown>): Promise<ZipkinExportError> {
  try {
    await promise;
  } catch (error) {
    return error as ZipkinExportError;
  }
  throw new Error('expected the export to reject');
}

let collector: ZipkinCollector;
const exporters: ZipkinExporter[] = [];

function exporter(options: ConstructorParameters<typeof ZipkinExporter>[0] = {}): ZipkinExporter {
  // random 0: every backoff is 0 ms, so retry tests wait for nothing but the collector.
  const made = new ZipkinExporter({ url: collector.url, random: () => 0, ...options });
  exporters.push(made);
  return made;
}

beforeEach(async () => {
  collector = await ZipkinCollector.start();
});

afterEach(async () => {
  await Promise.all(exporters.splice(0).map((e) => e.shutdown()));
  await collector.stop();
});

describe('ZipkinExporter over HTTP', () => {
  it('delivers a batch as one valid v2 JSON POST, with b3: 0', async () => {
    const batch = spans(20);
    await exporter().export(batch);
    expect(collector.posts).toHaveLength(1);
    const [post] = collector.posts;
    expect(post.problems).toEqual([]);
    expect(post.headers['content-type']).toBe('application/json');
    expect(post.headers.b3).toBe('0');
    expect(post.gzipped).toBe(false);
    expect(collector.spans.map((s) => s.id)).toEqual(batch.map((s) => s.id));
    expect(collector.spans[0]).toMatchObject({
      name: batch[0].name.toLowerCase(),
      kind: 'SERVER',
      localEndpoint: { serviceName: 'shop', ipv4: '10.0.0.1', port: 8080 },
      annotations: [{ value: 'select (1.234 ms)' }],
      tags: { 'http.status_code': '200' },
    });
    expect(collector.problems).toEqual([]);
  });

  it('sends nothing for an empty batch', async () => {
    await exporter().export([]);
    expect(collector.posts).toHaveLength(0);
  });

  it('does not retry a 400, and rejects with the status', async () => {
    collector.answer = 400;
    const zipkin = exporter({ maxRetries: 3 });
    const error = await rejection(zipkin.export(spans(5)));
    expect(error).toBeInstanceOf(ZipkinExportError);
    expect(error).toMatchObject({ code: zipkinErrorCodes.REJECTED, status: 400, attempts: 1, spans: 5, retryable: false });
    expect(error.message).toContain('HTTP 400');
    expect(collector.posts).toHaveLength(1);
    expect(zipkin.stats()).toMatchObject({ posts: 1, retries: 0, spansSent: 0, spansFailed: 5, bytesInFlight: 0 });
  });

  it('retries a 500 and delivers the batch exactly once', async () => {
    collector.script.push(500, 500);
    const zipkin = exporter({ maxRetries: 3 });
    const batch = spans(10);
    await zipkin.export(batch);
    expect(collector.posts.map((p) => p.answer)).toEqual([500, 500, 202]);
    expect(collector.spans.map((s) => s.id)).toEqual(batch.map((s) => s.id));
    expect(zipkin.stats()).toMatchObject({ posts: 3, retries: 2, spansSent: 10, spansFailed: 0 });
  });

  it('gives up after maxRetries on a collector that keeps failing', async () => {
    collector.answer = 503;
    const error = await rejection(exporter({ maxRetries: 2 }).export(spans(3)));
    expect(error).toMatchObject({ code: zipkinErrorCodes.UNAVAILABLE, status: 503, attempts: 3 });
    expect(collector.posts).toHaveLength(3);
    expect(collector.spans).toHaveLength(0);
  });

  it('times out a collector that hangs', async () => {
    collector.answer = 'hang';
    const zipkin = exporter({ timeoutMs: 150, maxRetries: 1 });
    const error = await rejection(zipkin.export(spans(2)));
    expect(error).toMatchObject({ code: zipkinErrorCodes.TIMEOUT, attempts: 2, retryable: true });
    expect(error.message).toContain('150 ms');
    expect(collector.posts).toHaveLength(2);
    expect(zipkin.stats().bytesInFlight).toBe(0);
  });

  it('with the defaults, a POST that stalls is retried within the deadline, and the queue counts the batch exported', async () => {
    // The first POST hangs; the retry is answered. Worst-case jitter: the longest backoff.
    collector.script.push('hang');
    const zipkin = new ZipkinExporter({ url: collector.url, random: () => 0.999 });
    exporters.push(zipkin);
    const tracer = new Tracer({ serviceName: 'stall', exporters: [zipkin], scheduledDelayMs: 0 });
    tracer.trace('checkout', () => undefined);
    await tracer.flush();
    expect(collector.posts.map((post) => post.answer)).toEqual(['hang', 202]);
    expect(collector.spans.map((span) => span.name)).toEqual(['checkout']);
    expect(zipkin.stats()).toMatchObject({ posts: 2, retries: 1, spansSent: 1, spansFailed: 0 });
    // Within the queue's exportTimeoutMs (10 s): the queue never gave up on it.
    expect(tracer.stats()).toMatchObject({ spansExported: 1, exportErrors: 0 });
  }, 20_000);

  it('retries a collector that is down a bounded number of times, then fails', async () => {
    await collector.stop();
    const zipkin = exporter({ maxRetries: 4 });
    const error = await rejection(zipkin.export(spans(4)));
    expect(error).toMatchObject({ code: zipkinErrorCodes.UNAVAILABLE, attempts: 5, status: undefined });
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(zipkin.stats()).toMatchObject({ posts: 5, retries: 4, spansFailed: 4 });
  });

  it('waits between retries with exponential backoff and full jitter', async () => {
    collector.answer = 500;
    const asked: number[] = [];
    const zipkin = exporter({ maxRetries: 3, retryBaseMs: 40, retryMaxMs: 100, random: () => (asked.push(1), 0.5) });
    const started = Date.now();
    await rejection(zipkin.export(spans(1)));
    // 0.5 * min(100, 40 * 2^n) for n = 0, 1, 2: 20 + 40 + 50 ms.
    expect(asked).toHaveLength(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(105);
  });

  it('gzips each POST when asked', async () => {
    const batch = spans(200);
    await exporter({ gzip: true }).export(batch);
    const [post] = collector.posts;
    expect(post.gzipped).toBe(true);
    expect(post.problems).toEqual([]);
    expect(post.bytes).toBeLessThan(JSON.stringify(post.body).length / 4);
    expect(collector.spans).toHaveLength(200);
  });

  it('splits a batch over maxBatchBytes into several POSTs, each span sent once', async () => {
    const batch = spans(100);
    await exporter({ maxBatchBytes: 8 * 1024 }).export(batch);
    expect(collector.posts.length).toBeGreaterThan(2);
    for (const post of collector.posts) expect(post.bytes).toBeLessThanOrEqual(8 * 1024);
    expect(collector.spans.map((s) => s.id).sort()).toEqual(batch.map((s) => s.id).sort());
  });

  it('writes multi-byte and unpaired UTF-16 text exactly, whole or split', async () => {
    const batch = spans(30).map((s, i) => ({ ...s, name: `Grüße 🌍 ${i}`, tags: { odd: `\ud800${i}`, emoji: '🚀'.repeat(i) } }));
    const expected = JSON.parse(encodeZipkinSpans(batch)) as unknown[];
    await exporter().export(batch);
    await exporter({ maxBatchBytes: 2048 }).export(batch);
    expect(collector.posts.length).toBeGreaterThan(3);
    expect(collector.problems).toEqual([]);
    expect(collector.spans.slice(0, 30)).toEqual(expected);
    expect(collector.spans.slice(30)).toEqual(expected);
    expect(collector.spans[1].name).toBe('grüße 🌍 1');
  });

  it('rejects a batch at once when it would put more than maxBytesInFlight in flight', async () => {
    collector.answer = 'hang';
    const zipkin = exporter({ maxBytesInFlight: 64 * 1024, maxBatchBytes: 32 * 1024, timeoutMs: 300, maxRetries: 0 });
    const first = zipkin.export(spans(40));
    await collector.waitForPosts(1);
    const inFlight = zipkin.stats().bytesInFlight;
    expect(inFlight).toBeGreaterThan(0);
    const error = await rejection(zipkin.export(spans(200)));
    expect(error).toMatchObject({ code: zipkinErrorCodes.OVERLOADED, spans: 200, attempts: 1 });
    expect(collector.posts).toHaveLength(1);
    expect(zipkin.stats().bytesInFlight).toBe(inFlight);
    expect((await rejection(first)).code).toBe(zipkinErrorCodes.TIMEOUT);
    expect(zipkin.stats().bytesInFlight).toBe(0);
  });

  it('reuses keep-alive connections and passes extra headers', async () => {
    const zipkin = exporter({ headers: { Authorization: 'Bearer t0k3n' } });
    for (let i = 0; i < 20; i++) await zipkin.export(spans(3));
    // undici waits one event-loop turn before reusing a socket that just answered (a server may
    // close it despite keep-alive), so back-to-back posts alternate between two warm sockets.
    expect(collector.connections).toBeLessThanOrEqual(2);
    expect(collector.posts.every((p) => p.headers.authorization === 'Bearer t0k3n' && p.headers.b3 === '0')).toBe(true);
  });

  it('sends credentials in the URL as basic auth', async () => {
    const url = collector.url.replace('http://', 'http://zip:k%40n@');
    const zipkin = exporter({ url });
    expect(zipkin.url).toBe(collector.url);
    await zipkin.export(spans(1));
    expect(collector.posts[0].headers.authorization).toBe(`Basic ${Buffer.from('zip:k@n').toString('base64')}`);
  });

  it('shuts down: a batch waiting for a retry gets one last attempt, later exports reject', async () => {
    collector.script.push(500);
    const zipkin = exporter({ maxRetries: 5, retryBaseMs: 60_000, deadlineMs: 600_000, random: () => 0.99 });
    const pending = zipkin.export(spans(6));
    await collector.waitForPosts(1);
    await zipkin.shutdown();
    await pending;
    expect(collector.posts.map((p) => p.answer)).toEqual([500, 202]);
    expect(collector.spans).toHaveLength(6);
    expect((await rejection(zipkin.export(spans(1)))).code).toBe(zipkinErrorCodes.SHUT_DOWN);
    await zipkin.shutdown(); // twice is fine
  });

  it('starts no retry that could outlast deadlineMs: the batch is lost once, never delivered late', async () => {
    collector.answer = 500;
    // Backoffs of 198, 396, ... ms: the second retry (at ~200 ms + 396 ms + a 1000 ms timeout)
    // would end past the 1500 ms deadline, so only two posts are made.
    const zipkin = exporter({ maxRetries: 10, retryBaseMs: 200, timeoutMs: 1000, deadlineMs: 1500, random: () => 0.99 });
    const error = await rejection(zipkin.export(spans(3)));
    expect(error.attempts).toBe(2);
    expect(collector.posts).toHaveLength(2);
    expect(zipkin.stats().spansFailed).toBe(3);
    await zipkin.shutdown();
  });

  it('reports a lost batch through the tracer as TOMOGRAPH_EXPORT_FAILED with the error code', async () => {
    collector.answer = 400;
    const events: DiagnosticEvent[] = [];
    const tracer = new Tracer({
      serviceName: 'svc', exporters: [exporter()], scheduledDelayMs: 0, onDiagnostic: (e) => events.push(e),
    });
    tracer.trace('work', () => undefined);
    await tracer.flush();
    const failed = events.find((e) => e.code === codes.EXPORT_FAILED);
    expect(failed?.message).toContain('HTTP 400');
    expect((failed?.detail as { error: ZipkinExportError }).error).toMatchObject({ code: zipkinErrorCodes.REJECTED, status: 400 });
    expect(tracer.stats().spansDropped.exportFailed).toBe(1);
    await tracer.shutdown();
  });
});

describe('ZipkinExporter options', () => {
  const saved = process.env.TOMOGRAPH_ZIPKIN_URL;
  afterEach(() => {
    if (saved === undefined) delete process.env.TOMOGRAPH_ZIPKIN_URL;
    else process.env.TOMOGRAPH_ZIPKIN_URL = saved;
  });

  it.each([
    [{ url: 'not a url' }, /not a valid URL/],
    [{ url: 'ftp://127.0.0.1/spans' }, /http: or https:/],
    [{ url: 42 }, /string or a URL/],
    [{ timeoutMs: 0 }, /timeoutMs/],
    [{ maxRetries: -1 }, /maxRetries/],
    [{ maxRetries: 1.5 }, /maxRetries/],
    [{ retryBaseMs: 500, retryMaxMs: 100 }, /retryMaxMs/],
    [{ maxBytesInFlight: 1000, maxBatchBytes: 2000 }, /maxBatchBytes/],
    [{ gzip: 'yes' }, /gzip/],
    [{ headers: { 'bad header': 'x' } }, /bad header/],
    [{ headers: { 'content-length': '1' } }, /set by the exporter/],
    [{ headers: { a: 1 } }, /must be a string/],
    [{ random: 0.5 }, /random/],
    [{ endpoint: 'http://x' }, /unknown option "endpoint"/],
  ])('rejects %j with a TypeError', (options, message) => {
    let thrown: unknown;
    try {
      new ZipkinExporter(options as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect(thrown).toMatchObject({ code: 'TOMOGRAPH_ERR_INVALID_OPTION' });
    expect((thrown as Error).message).toMatch(message);
  });

  it('takes the URL from TOMOGRAPH_ZIPKIN_URL, else the default, and hides credentials', async () => {
    delete process.env.TOMOGRAPH_ZIPKIN_URL;
    const byDefault = new ZipkinExporter();
    expect(byDefault.url).toBe(DEFAULT_ZIPKIN_URL);
    process.env.TOMOGRAPH_ZIPKIN_URL = 'https://user:secret@zipkin.example:9411/api/v2/spans?x=1';
    const fromEnv = new ZipkinExporter();
    expect(fromEnv.url).toBe('https://zipkin.example:9411/api/v2/spans');
    process.env.TOMOGRAPH_ZIPKIN_URL = 'nope';
    expect(() => new ZipkinExporter()).toThrow(/TOMOGRAPH_ZIPKIN_URL/);
    expect(new ZipkinExporter({ url: new URL('http://127.0.0.1:1/x') }).url).toBe('http://127.0.0.1:1/x');
    await Promise.all([byDefault.shutdown(), fromEnv.shutdown()]);
  });
});
