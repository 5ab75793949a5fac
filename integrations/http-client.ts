/**
 * CLIENT spans for `http`/`https` requests, from Node's `diagnostics_channel`s.
 *
 * Injecting headers has to happen before the request renders its header block. Node >= 22.12
 * publishes `http.client.request.created` at the end of the `ClientRequest` constructor, which
 * is exactly that moment. Node 20 has no such channel: its first one,
 * `http.client.request.start`, fires from `ClientRequest#_finish`, after the headers *and body*
 * were written to the socket, where `setHeader` throws `ERR_HTTP_HEADERS_SENT` (see
 * `http-channels.ts`). There, and only there, we wrap `request` and `get` of the `http` and
 * `https` modules: the wrapper calls the original and hands the new request to the same
 * `onRequestCreated` the channel would, then returns it untouched. The wrappers are installed
 * by the first `instrumentHttp()` and removed by the last undo. A request made some other way
 * (`new http.ClientRequest`, a `request` function captured before `instrumentHttp()`) still
 * gets a span at `http.client.request.start`, but cannot carry trace headers.
 *
 * The span ends when the request closes: after the response body was read, or when the
 * connection ended early (note `aborted`), or at once on an error.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import { codes } from '../lib/codes';
import type { Span } from '../lib/span';
import { chooseInstrumentation, endRequestSpan, recordPeer, recordStatus, splitHostPort, startClientSpan, withoutQuery } from './http-tracers';

/** The span of a traced request, on the `ClientRequest`. `null`: seen, not traced. */
const SPAN = Symbol('tomograph.clientSpan');

interface TracedRequest extends ClientRequest {
  [SPAN]?: Span | null;
}

/** `http.client.request.created` (Node >= 22.12), and the Node 20 wrappers: span and headers. */
export function onRequestCreated(message: unknown): void {
  const request = (message as { request?: TracedRequest } | undefined)?.request;
  if (request !== undefined) traceRequest(request, true);
}

/** For the Node 20 wrappers of `http.request`/`get`: the same as the `created` channel. */
export function traceNewRequest(request: ClientRequest): void {
  traceRequest(request, true);
}

/** `http.client.request.start`: a request nobody saw being created gets a span, without headers. */
export function onRequestStart(message: unknown): void {
  const request = (message as { request?: TracedRequest } | undefined)?.request;
  if (request !== undefined && request[SPAN] === undefined) traceRequest(request, false);
}

/** `http.client.response.finish` (response headers received): the status. */
export function onResponseHeaders(message: unknown): void {
  const m = message as { request?: TracedRequest; response?: IncomingMessage } | undefined;
  const span = m?.request?.[SPAN];
  if (span === undefined || span === null || !span.recording) return;
  recordPeer(span, m?.request?.socket);
  recordStatus(span, m?.response?.statusCode);
}

/** `http.client.request.error`: connection refused, reset, timeouts turned into errors... */
export function onRequestError(message: unknown): void {
  const m = message as { request?: TracedRequest; error?: unknown } | undefined;
  endRequestSpan(m?.request, SPAN, true, m?.error);
}

function traceRequest(request: TracedRequest, inject: boolean): void {
  if (request[SPAN] !== undefined) return;
  try {
    const instrumentation = chooseInstrumentation();
    if (instrumentation === undefined) {
      request[SPAN] = null;
      return;
    }
    const protocol = typeof request.protocol === 'string' ? request.protocol : 'http:';
    const defaultPort = protocol === 'https:' ? 443 : 80;
    const hostHeader = request.getHeader('host');
    const authority = typeof hostHeader === 'string' ? hostHeader : request.host;
    const target = splitHostPort(authority, defaultPort);
    // The Host header names the authority the caller asked for; the socket goes to `host`.
    const address = typeof request.host === 'string' ? request.host : target.address;
    const path = request.path;
    // A request through a proxy carries the absolute URL as its path.
    const url = path.charCodeAt(0) === 0x2f ? protocol + '//' + authority + withoutQuery(path) : withoutQuery(path);
    const span = startClientSpan(instrumentation, request.method, url, address, target.port);
    request[SPAN] = span ?? null;
    if (span === undefined) return;
    if (inject && !request.headersSent) instrumentation.tracer.inject(request, span);
    request.on('close', onRequestClose);
  } catch (error) {
    request[SPAN] = null;
    chooseInstrumentation()?.tracer.report(codes.INTEGRATION_ERROR, 'tomograph: failed to trace an http request', error);
  }
}

function onRequestClose(this: TracedRequest): void {
  const span = this[SPAN];
  if (span === undefined || span === null) return;
  this[SPAN] = null;
  const response = (this as { res?: IncomingMessage | null }).res;
  if (response === null || response === undefined || !response.complete) span.annotate('aborted');
  span.end();
}
