/**
 * CLIENT spans for `fetch`, from undici's `diagnostics_channel`s (Node's bundled undici and the
 * `undici` package publish the same ones). `undici:request:create` runs in the caller's async
 * context before anything is sent, so the span starts and the headers go in there; the peer's
 * address is taken from the socket at `undici:client:sendHeaders`; the span ends when the body is
 * complete (`trailers`) or the request fails (`error`).
 */
import { codes } from '../lib/codes';
import type { Span } from '../lib/span';
import { chooseInstrumentation, endRequestSpan, recordPeer, recordStatus, splitHostPort, startClientSpan, withoutQuery } from './http-tracers';

const SPAN = Symbol('tomograph.fetchSpan');

/** undici's request object, as much as we use of it. */
interface UndiciRequest {
  origin?: unknown;
  path?: unknown;
  method?: unknown;
  /** `[name, value, name, value, ...]` in undici 6+, a `name: value\r\n` string in undici 5. */
  headers?: unknown;
  addHeader?: (name: string, value: string) => unknown;
  [SPAN]?: Span | null;
}

/**
 * Writes a header into an undici request, replacing a value the caller already set (so the
 * request never carries two different `traceparent`s), else through the public `addHeader`.
 * One shared instance, pointed at each request in turn: `inject` uses it synchronously.
 */
const carrier = {
  request: undefined as UndiciRequest | undefined,
  get(): undefined {
    return undefined;
  },
  set(name: string, value: string): void {
    const request = this.request!;
    const headers = request.headers;
    if (Array.isArray(headers)) {
      for (let i = 0; i + 1 < headers.length; i += 2) {
        const key = headers[i];
        if (typeof key === 'string' && key.length === name.length && key.toLowerCase() === name) {
          headers[i + 1] = value;
          return;
        }
      }
    }
    request.addHeader!(name, value);
  },
};

/** `undici:request:create`: start the span and add the trace headers. */
export function onFetchCreate(message: unknown): void {
  const request = (message as { request?: UndiciRequest } | undefined)?.request;
  if (request === undefined || request === null || request[SPAN] !== undefined) return;
  try {
    const instrumentation = chooseInstrumentation();
    if (instrumentation === undefined) {
      request[SPAN] = null;
      return;
    }
    let origin = String(request.origin);
    if (origin.endsWith('/')) origin = origin.slice(0, -1);
    const method = typeof request.method === 'string' ? request.method : 'GET';
    const target = splitHostPort(origin.slice(origin.indexOf('://') + 3), origin.startsWith('https:') ? 443 : 80);
    const path = typeof request.path === 'string' ? withoutQuery(request.path) : '/';
    const span = startClientSpan(instrumentation, method, origin + path, target.address, target.port);
    request[SPAN] = span ?? null;
    if (span === undefined || typeof request.addHeader !== 'function') return;
    carrier.request = request;
    try {
      instrumentation.tracer.inject(carrier, span);
    } finally {
      carrier.request = undefined;
    }
  } catch (error) {
    request[SPAN] = null;
    chooseInstrumentation()?.tracer.report(codes.INTEGRATION_ERROR, 'tomograph: failed to trace a fetch request', error);
  }
}

/** `undici:client:sendHeaders`: the request is on a connected socket, the peer is known. */
export function onFetchSendHeaders(message: unknown): void {
  const m = message as { request?: UndiciRequest; socket?: { remoteAddress?: unknown; remotePort?: unknown } } | undefined;
  const span = m?.request?.[SPAN];
  if (span !== undefined && span !== null) recordPeer(span, m?.socket);
}

/** `undici:request:headers`: the status. */
export function onFetchHeaders(message: unknown): void {
  const m = message as { request?: UndiciRequest; response?: { statusCode?: unknown } } | undefined;
  const span = m?.request?.[SPAN];
  if (span !== undefined && span !== null && span.recording) recordStatus(span, m?.response?.statusCode);
}

/** `undici:request:trailers`: the response body is complete. */
export function onFetchTrailers(message: unknown): void {
  endRequestSpan((message as { request?: UndiciRequest } | undefined)?.request, SPAN, false);
}

/** `undici:request:error`: a network error or an abort. */
export function onFetchError(message: unknown): void {
  const m = message as { request?: UndiciRequest; error?: unknown } | undefined;
  endRequestSpan(m?.request, SPAN, true, m?.error);
}
