import { gzip as gzipCallback, constants as zlibConstants } from 'node:zlib';
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { describeValue, invalidOption } from '../lib/options';
import type { Exporter, ExporterHost, FinishedSpan } from '../lib/types';
import { encodeZipkinBodies, type ZipkinBody, type ZipkinResourceTags, zipkinResourceTags } from './zipkin-json';
import { ZipkinExportError, ZipkinHttpClient, zipkinErrorCodes } from './zipkin-http';

export { toZipkinSpan, type ZipkinSpan, type ZipkinEndpoint, type ZipkinAnnotation } from './zipkin-encode';
export { encodeZipkinBodies, encodeZipkinSpan, encodeZipkinSpans, type ZipkinBody } from './zipkin-json';
export { ZipkinExportError, zipkinErrorCodes, type ZipkinErrorCode } from './zipkin-http';

/** The collector used when neither `url` nor `TOMOGRAPH_ZIPKIN_URL` says otherwise. */
export const DEFAULT_ZIPKIN_URL = 'http://127.0.0.1:9411/api/v2/spans';

/** Options of `ZipkinExporter`. Every field is optional. */
export interface ZipkinExporterOptions {
  /**
   * The collector's span endpoint (http or https). Default: `TOMOGRAPH_ZIPKIN_URL`, else
   * `http://127.0.0.1:9411/api/v2/spans`.
   */
  url?: string | URL;
  /** Gzip each POST (`Content-Encoding: gzip`, fastest level). Default false. */
  gzip?: boolean;
  /** Longest time one POST may take, in milliseconds. Default 5000. */
  timeoutMs?: number;
  /** Retries after a 5xx, a network error or a timeout (never after a 4xx). Default 3. */
  maxRetries?: number;
  /** Backoff base in milliseconds: retry n waits a random time in [0, base * 2^n). Default 100. */
  retryBaseMs?: number;
  /** Longest backoff before one retry, in milliseconds. Default max(2000, retryBaseMs). */
  retryMaxMs?: number;
  /**
   * Longest time one `export` call may spend on a batch, retries included, in milliseconds: no
   * retry starts that could not finish within it. Keep it under the tracer's `exportTimeoutMs`
   * (default 10000), so the queue never gives up on a batch that a late retry then delivers.
   * Default 9000.
   */
  deadlineMs?: number;
  /**
   * Bytes of encoded spans being sent or retried at most; a batch that would go over is
   * rejected at once (the queue counts it failed) instead of being buffered. Default 5 MiB.
   */
  maxBytesInFlight?: number;
  /** Largest POST body (JSON, before gzip) in bytes; bigger batches go as several POSTs. Default 1 MiB. */
  maxBatchBytes?: number;
  /** Extra request headers, such as `authorization`. */
  headers?: Record<string, string>;
  /** Random numbers in [0, 1) for the backoff jitter. Default `Math.random`. */
  random?: () => number;
}

/** Counts since the exporter was made. */
export interface ZipkinExporterStats {
  /** POST attempts made, retries included. */
  posts: number;
  /** Attempts that were retries. */
  retries: number;
  /** Spans the collector accepted. */
  spansSent: number;
  /** Spans in batches that were finally lost (rejected, unavailable, overloaded, shut down). */
  spansFailed: number;
  /** Encoded bytes (before gzip) now being sent or waiting for a retry. */
  bytesInFlight: number;
}

const KNOWN_OPTIONS = new Set([
  'url', 'gzip', 'timeoutMs', 'maxRetries', 'retryBaseMs', 'retryMaxMs', 'deadlineMs', 'maxBytesInFlight', 'maxBatchBytes',
  'headers', 'random',
]);
const MIB = 1024 * 1024;
/** Headers the exporter writes per request; a user value would corrupt the upload. */
const RESERVED_HEADERS = new Set(['content-length', 'content-encoding', 'content-type', 'transfer-encoding', 'b3', 'host']);

/**
 * Sends finished spans to a Zipkin collector as v2 JSON (`POST {url}`), every span normalised
 * so that one odd span cannot get a whole POST rejected. Retries 5xx, network errors and
 * timeouts with exponential backoff and full jitter; never a 4xx. `export()` resolves once the
 * collector accepted the batch and rejects with a `ZipkinExportError` (with `code` and
 * `status`) once it is lost, which the tracer's queue counts and reports. Memory is bounded by
 * `maxBytesInFlight`. Idle sockets never hold the process open (a POST or a backoff wait in
 * progress does, briefly, so awaiting code sees it end); `shutdown()` closes them all.
 */
export class ZipkinExporter implements Exporter {
  /** The collector's address (no credentials), for messages and logs. */
  readonly url: string;
  private readonly client: ZipkinHttpClient;
  private readonly gzip: boolean;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly deadlineMs: number;
  private readonly maxBytesInFlight: number;
  private readonly maxBatchBytes: number;
  private readonly random: () => number;
  private readonly counts = { posts: 0, retries: 0, spansSent: 0, spansFailed: 0 };
  private bytesInFlight = 0;
  private readonly inFlight = new Set<Promise<void>>();
  /** Wakes backoff waits early, at shutdown. */
  private readonly sleepers = new Set<() => void>();
  private closing = false;
  private destroyed = false;
  private shutdownPromise: Promise<void> | undefined;
  /** The tracer's resource as tag members, encoded once by `attach`. */
  private resourceTags: ZipkinResourceTags | undefined;

  constructor(options: ZipkinExporterOptions = {}) {
    if (options === null || typeof options !== 'object') throw invalidOption('ZipkinExporter takes an options object');
    for (const key of Object.keys(options)) {
      if (!KNOWN_OPTIONS.has(key)) throw invalidOption(`ZipkinExporter: unknown option "${key}"`);
    }
    const url = parseUrl(options.url);
    if (options.gzip !== undefined && typeof options.gzip !== 'boolean') {
      throw invalidOption('ZipkinExporter: gzip must be a boolean');
    }
    this.gzip = options.gzip === true;
    this.timeoutMs = integer('timeoutMs', options.timeoutMs, 5000, 1);
    this.maxRetries = integer('maxRetries', options.maxRetries, 3, 0);
    this.retryBaseMs = integer('retryBaseMs', options.retryBaseMs, 100, 0);
    this.retryMaxMs = integer('retryMaxMs', options.retryMaxMs, Math.max(2000, this.retryBaseMs), 0);
    if (this.retryMaxMs < this.retryBaseMs) throw invalidOption('ZipkinExporter: retryMaxMs must not be below retryBaseMs');
    this.deadlineMs = integer('deadlineMs', options.deadlineMs, 9000, 1);
    this.maxBytesInFlight = integer('maxBytesInFlight', options.maxBytesInFlight, 5 * MIB, 1);
    this.maxBatchBytes = integer('maxBatchBytes', options.maxBatchBytes, Math.min(MIB, this.maxBytesInFlight), 2);
    if (this.maxBatchBytes > this.maxBytesInFlight) {
      throw invalidOption('ZipkinExporter: maxBatchBytes must not exceed maxBytesInFlight');
    }
    if (options.random !== undefined && typeof options.random !== 'function') {
      throw invalidOption('ZipkinExporter: random must be a function returning [0, 1)');
    }
    this.random = options.random ?? Math.random;
    this.client = new ZipkinHttpClient({ url, timeoutMs: this.timeoutMs, headers: checkHeaders(options.headers) });
    this.url = this.client.target;
  }

  /** Takes the tracer's `resource`: its attributes become tags on every span sent. */
  attach(tracer: ExporterHost): void {
    this.resourceTags = zipkinResourceTags(tracer.resource);
  }

  /**
   * Sends `spans` (as one POST, or several when over `maxBatchBytes`). Resolves when the
   * collector accepted them all; rejects with a `ZipkinExportError` when any are lost. Never throws.
   */
  export(spans: readonly FinishedSpan[]): Promise<void> {
    if (this.closing) {
      return Promise.reject(this.lost(new ZipkinExportError(zipkinErrorCodes.SHUT_DOWN, 'zipkin: exporter is shut down'), spans.length));
    }
    if (spans.length === 0) return Promise.resolve();
    let chunks: ZipkinBody[];
    try {
      chunks = encodeZipkinBodies(spans, this.maxBatchBytes, this.resourceTags);
    } catch (cause) {
      return Promise.reject(
        this.lost(new ZipkinExportError(zipkinErrorCodes.ENCODE_FAILED, 'zipkin: could not encode the batch', { cause }), spans.length),
      );
    }
    let bytes = 0;
    for (const chunk of chunks) bytes += chunk.body.length;
    if (this.bytesInFlight + bytes > this.maxBytesInFlight) {
      return Promise.reject(
        this.lost(
          new ZipkinExportError(
            zipkinErrorCodes.OVERLOADED,
            `zipkin: ${this.bytesInFlight} bytes already in flight to ${this.url}; dropped a batch of ${bytes} bytes (maxBytesInFlight ${this.maxBytesInFlight})`,
          ),
          spans.length,
        ),
      );
    }
    this.bytesInFlight += bytes;
    const delivery = this.deliverAll(chunks).finally(() => {
      this.bytesInFlight -= bytes;
      this.inFlight.delete(delivery);
    });
    this.inFlight.add(delivery);
    return delivery;
  }

  /** Waits for every POST in flight (retries included) to settle. Never rejects. */
  async flush(): Promise<void> {
    if (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * Stops taking batches, gives each batch still being retried one last attempt now (no
   * backoff), waits for posts in flight (at most `timeoutMs`), then closes every socket. Safe
   * to call twice.
   */
  shutdown(): Promise<void> {
    if (this.shutdownPromise === undefined) this.shutdownPromise = this.close();
    return this.shutdownPromise;
  }

  /** Counts since the exporter was made. */
  stats(): ZipkinExporterStats {
    return { ...this.counts, bytesInFlight: this.bytesInFlight };
  }

  private async close(): Promise<void> {
    this.closing = true;
    for (const wake of [...this.sleepers]) wake();
    if (this.inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.inFlight]),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.timeoutMs);
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
    }
    this.destroyed = true;
    this.client.destroy();
  }

  private async deliverAll(chunks: ZipkinBody[]): Promise<void> {
    if (chunks.length === 1) return this.deliver(chunks[0]);
    const results = await Promise.allSettled(chunks.map((chunk) => this.deliver(chunk)));
    let first: ZipkinExportError | undefined;
    let lostSpans = 0;
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') return;
      first ??= result.reason as ZipkinExportError;
      lostSpans += chunks[i].spans;
    });
    if (first !== undefined) {
      first.spans = lostSpans;
      throw first;
    }
  }

  /** One chunk, with retries. Rejects with the last attempt's error, marked with the attempts made. */
  private async deliver(chunk: ZipkinBody): Promise<void> {
    let body = chunk.body;
    if (this.gzip) {
      try {
        body = await gzipBody(body);
      } catch (cause) {
        throw this.lost(new ZipkinExportError(zipkinErrorCodes.ENCODE_FAILED, 'zipkin: could not gzip the batch', { cause }), chunk.spans, 0);
      }
    }
    const startedMs = Date.now();
    for (let attempt = 0; ; attempt++) {
      if (this.destroyed) {
        throw this.lost(new ZipkinExportError(zipkinErrorCodes.SHUT_DOWN, 'zipkin: exporter is shut down'), chunk.spans, attempt);
      }
      this.counts.posts++;
      if (attempt > 0) this.counts.retries++;
      // An attempt started after shutdown began is the last one.
      const last = this.closing;
      try {
        await this.client.post(body, this.gzip);
        this.counts.spansSent += chunk.spans;
        return;
      } catch (caught) {
        const error = caught as ZipkinExportError;
        if (!error.retryable || attempt >= this.maxRetries || last) throw this.lost(error, chunk.spans, attempt + 1);
        const delayMs = this.backoffDelay(attempt);
        // A retry that could outlast the deadline is not started: the batch is lost now, and
        // counted once, rather than delivered after the queue has already counted it failed.
        if (Date.now() - startedMs + delayMs + this.timeoutMs > this.deadlineMs) {
          throw this.lost(error, chunk.spans, attempt + 1);
        }
        if (!this.closing) await this.sleep(delayMs);
      }
    }
  }

  /** Full jitter: a random wait in [0, min(retryMaxMs, retryBaseMs * 2^attempt)). */
  private backoffDelay(attempt: number): number {
    const ceiling = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** attempt);
    let r = 0;
    try {
      r = this.random();
    } catch {
      // A broken random source must not lose the batch; retry without a wait.
    }
    return Math.floor(ceiling * (r >= 0 && r < 1 ? r : 0));
  }

  private sleep(delayMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      // Not unref'd: code awaiting flush() or shutdown() must see them finish, and an unref'd
      // wait would let Node exit in the middle of that await, skipping the code after it.
      // The wait is bounded (retryMaxMs), and shutdown() cuts it short.
      const timer = setTimeout(wake, delayMs);
      this.sleepers.add(wake);
    });
  }

  private lost(error: ZipkinExportError, spans: number, attempts?: number): ZipkinExportError {
    error.spans = spans;
    if (attempts !== undefined) error.attempts = attempts;
    this.counts.spansFailed += spans;
    return error;
  }
}

function gzipBody(body: Buffer): Promise<Buffer> {
  // The fastest level: JSON spans still shrink several times, for a fraction of the CPU, and
  // zlib runs on the thread pool, off the event loop.
  return new Promise((resolve, reject) => {
    gzipCallback(body, { level: zlibConstants.Z_BEST_SPEED }, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

function parseUrl(option: string | URL | undefined): URL {
  const fromEnv = option === undefined;
  const env = process.env.TOMOGRAPH_ZIPKIN_URL;
  const raw = option ?? (env !== undefined && env.trim() !== '' ? env.trim() : DEFAULT_ZIPKIN_URL);
  const where = fromEnv ? 'TOMOGRAPH_ZIPKIN_URL' : 'url';
  if (typeof raw !== 'string' && !(raw instanceof URL)) throw invalidOption(`ZipkinExporter: ${where} must be a string or a URL`);
  let url: URL;
  try {
    url = new URL(String(raw));
  } catch {
    throw invalidOption(`ZipkinExporter: ${where} is not a valid URL: ${JSON.stringify(String(raw))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidOption(`ZipkinExporter: ${where} must be http: or https:, not ${url.protocol}`);
  }
  return url;
}

function integer(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalidOption(`ZipkinExporter: ${name} must be an integer >= ${min}, not ${describeValue(value)}`);
  }
  return value;
}

function checkHeaders(headers: unknown): Record<string, string> {
  if (headers === undefined) return {};
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
    throw invalidOption('ZipkinExporter: headers must be an object of header names to strings');
  }
  const checked: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') throw invalidOption(`ZipkinExporter: header "${name}" must be a string`);
    if (RESERVED_HEADERS.has(name.toLowerCase())) {
      throw invalidOption(`ZipkinExporter: header "${name}" is set by the exporter itself`);
    }
    try {
      validateHeaderName(name);
      validateHeaderValue(name, value);
    } catch (error) {
      throw invalidOption(`ZipkinExporter: header "${name}" is not valid: ${(error as Error).message}`);
    }
    checked[name.toLowerCase()] = value;
  }
  return checked;
}
