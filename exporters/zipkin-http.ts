import { Pool, type Dispatcher } from 'undici';

/**
 * The `code` of every error a `ZipkinExporter` rejects with. Stable: match on them in
 * `onDiagnostic` (the event's `detail.error.code`). Never reused for another meaning.
 */
export const zipkinErrorCodes = {
  /** The collector answered with a status other than 2xx or 5xx (a 4xx: the batch is bad); not retried. */
  REJECTED: 'TOMOGRAPH_ZIPKIN_REJECTED',
  /** The collector kept answering 5xx, or could not be reached, through every retry. */
  UNAVAILABLE: 'TOMOGRAPH_ZIPKIN_UNAVAILABLE',
  /** The last attempt took longer than `timeoutMs`. */
  TIMEOUT: 'TOMOGRAPH_ZIPKIN_TIMEOUT',
  /** Taking the batch would have put more than `maxBytesInFlight` bytes in flight; not sent. */
  OVERLOADED: 'TOMOGRAPH_ZIPKIN_OVERLOADED',
  /** The exporter was shut down before the batch could be delivered. */
  SHUT_DOWN: 'TOMOGRAPH_ZIPKIN_SHUT_DOWN',
  /** The batch could not be encoded (a span whose fields throw when read). */
  ENCODE_FAILED: 'TOMOGRAPH_ZIPKIN_ENCODE_FAILED',
} as const;

/** One of `zipkinErrorCodes`. */
export type ZipkinErrorCode = (typeof zipkinErrorCodes)[keyof typeof zipkinErrorCodes];

/** Why a batch did not reach the collector. */
export class ZipkinExportError extends Error {
  /** One of `zipkinErrorCodes`. */
  readonly code: ZipkinErrorCode;
  /** The collector's HTTP status, when it answered. */
  readonly status: number | undefined;
  /** Whether another attempt may succeed (5xx, network error, timeout). */
  readonly retryable: boolean;
  /** Attempts made (1 + retries). */
  attempts = 1;
  /** Spans in the batch that was lost. */
  spans = 0;

  constructor(code: ZipkinErrorCode, message: string, options: { status?: number; retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ZipkinExportError';
    this.code = code;
    this.status = options.status;
    this.retryable = options.retryable ?? false;
  }
}

/** What one `ZipkinHttpClient` needs to know. */
export interface ZipkinHttpOptions {
  url: URL;
  /** Longest time one POST may take, connection to last response byte, in milliseconds. */
  timeoutMs: number;
  /** Extra request headers (authorization, say). */
  headers: Readonly<Record<string, string>>;
}

/**
 * POSTs bodies to a Zipkin collector, one attempt per call, over undici's keep-alive pool.
 * undici's `dispatch` rather than `http.request`: a POST of a 236 KB batch took 204-249 µs of
 * CPU against 379-473 µs in a same-process A/B here, and a tiny one 135 against 460
 * (BENCHMARKS.md, section zipkin); posting is a third of an exporter's work. Every outcome is a settled
 * promise: a 2xx resolves, anything else rejects with a `ZipkinExportError` that says whether
 * a retry may help. Nothing here throws. Idle sockets are unref'd by undici, so they never
 * hold a process open.
 */
export class ZipkinHttpClient {
  /** The collector's address for messages: no credentials, no query. */
  readonly target: string;
  /** Longest time one POST may take. */
  readonly timeoutMs: number;
  private readonly pool: Pool;
  private readonly path: string;
  private readonly plainHeaders: Record<string, string>;
  private readonly gzipHeaders: Record<string, string>;

  constructor(options: ZipkinHttpOptions) {
    const url = options.url;
    this.target = `${url.origin}${url.pathname}`;
    this.path = `${url.pathname}${url.search}`;
    this.timeoutMs = options.timeoutMs;
    // A few sockets are plenty: the export queue sends one batch at a time (several only when
    // one batch is split, or a retry overlaps). No undici timeout outlives ours.
    this.pool = new Pool(url.origin, {
      connections: 8,
      connectTimeout: options.timeoutMs,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
    const base: Record<string, string> = {};
    // Credentials in the URL become Basic auth, as http.request would send them, unless the
    // caller set an authorization header of their own.
    if ((url.username !== '' || url.password !== '') && options.headers.authorization === undefined) {
      const user = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
      base.authorization = `Basic ${Buffer.from(user).toString('base64')}`;
    }
    // Our headers last: `b3: 0` must stay, so an instrumented collector never traces uploads.
    Object.assign(base, options.headers, { 'content-type': 'application/json', b3: '0' });
    this.plainHeaders = base;
    this.gzipHeaders = { ...base, 'content-encoding': 'gzip' };
  }

  /** One POST of `body` (JSON, or gzipped JSON when `gzipped`). Never throws. */
  post(body: Buffer, gzipped: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const exchange = new Exchange(this, resolve, reject);
      try {
        this.pool.dispatch({ path: this.path, method: 'POST', headers: gzipped ? this.gzipHeaders : this.plainHeaders, body }, exchange);
      } catch (error) {
        exchange.onResponseError(undefined, error as Error);
      }
    });
  }

  /** Closes every socket, idle or busy; posts still running reject. */
  destroy(): void {
    this.pool.destroy().catch(() => undefined);
  }

  /** @internal */
  statusError(status: number): ZipkinExportError {
    const retryable = status >= 500;
    return new ZipkinExportError(
      retryable ? zipkinErrorCodes.UNAVAILABLE : zipkinErrorCodes.REJECTED,
      `zipkin: POST ${this.target} answered HTTP ${status}`,
      { status, retryable },
    );
  }

  /** @internal */
  networkError(cause: unknown): ZipkinExportError {
    const reason = cause instanceof Error ? (cause as NodeJS.ErrnoException).code ?? cause.message : String(cause);
    return new ZipkinExportError(zipkinErrorCodes.UNAVAILABLE, `zipkin: POST ${this.target} failed: ${reason}`, {
      retryable: true,
      cause,
    });
  }

  /** @internal */
  timeoutError(): ZipkinExportError {
    return new ZipkinExportError(zipkinErrorCodes.TIMEOUT, `zipkin: POST ${this.target} took longer than ${this.timeoutMs} ms`, {
      retryable: true,
    });
  }
}

/**
 * One POST as undici's dispatch handler: no per-request closures, streams or listeners. One
 * timer covers the whole exchange, from the queue for a socket to the last byte of the answer;
 * when it fires, the promise settles at once and the request is aborted as soon as undici hands
 * over its controller (a request still waiting for a connection has none yet).
 */
class Exchange implements Dispatcher.DispatchHandler {
  private status = 0;
  private settled = false;
  private controller: Dispatcher.DispatchController | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: ZipkinHttpClient,
    private readonly resolve: () => void,
    private readonly reject: (error: ZipkinExportError) => void,
  ) {
    this.timer = setTimeout(onTimeout, client.timeoutMs, this);
    this.timer.unref();
  }

  timedOut(): void {
    this.timer = undefined;
    this.settle(this.client.timeoutError());
    this.controller?.abort(new Error('zipkin: POST timed out'));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.settled) controller.abort(new Error('zipkin: POST timed out'));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.status = statusCode;
  }

  onResponseData(): void {
    // The answer's body (tiny, or empty) is read and dropped, so the socket goes back to the pool.
  }

  onResponseEnd(): void {
    this.clearTimer();
    const status = this.status;
    this.settle(status >= 200 && status < 300 ? undefined : this.client.statusError(status));
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    this.clearTimer();
    this.settle(this.client.networkError(error));
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private settle(error: ZipkinExportError | undefined): void {
    if (this.settled) return;
    this.settled = true;
    if (error === undefined) this.resolve();
    else this.reject(error);
  }
}

function onTimeout(exchange: Exchange): void {
  exchange.timedOut();
}
