import * as http from 'node:http';
import * as https from 'node:https';

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
 * POSTs bodies to a Zipkin collector over one keep-alive agent, one attempt per call. Every
 * outcome is a settled promise: a 2xx resolves, anything else rejects with a
 * `ZipkinExportError` that says whether a retry may help. Nothing here throws or emits an
 * unhandled 'error'. Idle sockets are unref'd by the agent, so they never hold a process open.
 */
export class ZipkinHttpClient {
  /** The collector's address for messages: no credentials, no query. */
  readonly target: string;
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;
  private readonly url: URL;
  private readonly timeoutMs: number;
  private readonly plainHeaders: Readonly<Record<string, string>>;
  private readonly gzipHeaders: Readonly<Record<string, string>>;

  constructor(options: ZipkinHttpOptions) {
    this.url = options.url;
    this.target = `${options.url.origin}${options.url.pathname}`;
    this.timeoutMs = options.timeoutMs;
    const isHttps = options.url.protocol === 'https:';
    // LIFO reuses the warmest socket, so the rest can idle out; a few sockets are plenty, since
    // the export queue sends one batch at a time.
    const agentOptions: http.AgentOptions = { keepAlive: true, maxSockets: 8, maxFreeSockets: 4, scheduling: 'lifo' };
    this.agent = isHttps ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.request = isHttps ? https.request : http.request;
    // Our headers last: `b3: 0` must stay, so an instrumented collector never traces uploads.
    const base = { ...options.headers, 'content-type': 'application/json', b3: '0' };
    this.plainHeaders = base;
    this.gzipHeaders = { ...base, 'content-encoding': 'gzip' };
  }

  /** One POST of `body` (JSON, or gzipped JSON when `gzipped`). Never throws. */
  post(body: Buffer, gzipped: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      let req: http.ClientRequest | undefined;
      const settle = (error?: ZipkinExportError) => {
        if (settled) return;
        settled = true;
        if (error === undefined) resolve();
        else reject(error);
      };
      const done = () => {
        if (timer !== undefined) clearTimeout(timer);
        timer = undefined;
      };
      try {
        req = this.request(this.url, {
          method: 'POST',
          agent: this.agent,
          headers: { ...(gzipped ? this.gzipHeaders : this.plainHeaders), 'content-length': String(body.length) },
        });
      } catch (error) {
        settle(this.networkError(error));
        return;
      }
      const request = req;
      // One timer for the whole exchange (a socket timeout would only catch silence, and a
      // listener on the pooled socket per request is how keep-alive clients leak listeners).
      timer = setTimeout(() => {
        timer = undefined;
        settle(
          new ZipkinExportError(zipkinErrorCodes.TIMEOUT, `zipkin: POST ${this.target} took longer than ${this.timeoutMs} ms`, {
            retryable: true,
          }),
        );
        request.destroy();
      }, this.timeoutMs);
      timer.unref();
      request.on('response', (res) => {
        const status = res.statusCode ?? 0;
        res.on('error', () => undefined);
        res.on('close', done);
        // Drain the (tiny) body so the socket goes back to the pool.
        res.resume();
        if (status >= 200 && status < 300) settle();
        else settle(this.statusError(status));
      });
      request.on('error', (error) => {
        done();
        settle(this.networkError(error));
      });
      request.on('close', () => {
        if (!settled) {
          done();
          settle(this.networkError(new Error('connection closed before a response')));
        }
      });
      request.end(body);
    });
  }

  /** Closes every socket, idle or busy; posts still running reject. */
  destroy(): void {
    this.agent.destroy();
  }

  private statusError(status: number): ZipkinExportError {
    const retryable = status >= 500;
    return new ZipkinExportError(
      retryable ? zipkinErrorCodes.UNAVAILABLE : zipkinErrorCodes.REJECTED,
      `zipkin: POST ${this.target} answered HTTP ${status}`,
      { status, retryable },
    );
  }

  private networkError(cause: unknown): ZipkinExportError {
    const reason = cause instanceof Error ? (cause as NodeJS.ErrnoException).code ?? cause.message : String(cause);
    return new ZipkinExportError(zipkinErrorCodes.UNAVAILABLE, `zipkin: POST ${this.target} failed: ${reason}`, {
      retryable: true,
      cause,
    });
  }
}
