/**
 * The active `instrumentHttp` calls, and the CLIENT span every outgoing request gets.
 *
 * Node's channels are process-wide, but a process may run more than one tracer (two services
 * in one test, a library with its own): each keeps its own context store. So the integration
 * subscribes once, and for each request picks the instrumentation whose tracer has a span
 * current in this async flow; failing that, the most recent one with `root: true`. The request
 * is then traced by that tracer alone, and its headers carry that tracer's ids.
 */
import { codes } from '../lib/codes';
import { NOOP_SPAN, type Span } from '../lib/span';
import type { Tracer } from '../lib/tracer';
import type { Endpoint, FinishedSpan } from '../lib/types';

/** One `instrumentHttp` call, as the channel handlers see it. */
export interface Instrumentation {
  readonly tracer: Tracer;
  readonly root: boolean;
  readonly remoteServiceName: ((url: string) => string | undefined) | undefined;
}

const active: Instrumentation[] = [];

/** Adds an instrumentation; true when it is the first (time to subscribe). */
export function addInstrumentation(instrumentation: Instrumentation): boolean {
  active.push(instrumentation);
  return active.length === 1;
}

/** Removes an instrumentation; true when none is left (time to unsubscribe). */
export function removeInstrumentation(instrumentation: Instrumentation): boolean {
  const i = active.indexOf(instrumentation);
  if (i !== -1) active.splice(i, 1);
  return i !== -1 && active.length === 0;
}

/** The instrumentation that should trace a request made now, if any. */
export function chooseInstrumentation(): Instrumentation | undefined {
  // Most recent first: a later instrumentHttp() call for the same tracer takes over its options.
  for (let i = active.length - 1; i >= 0; i--) {
    if (active[i].tracer.currentSpan() !== undefined) return active[i];
  }
  for (let i = active.length - 1; i >= 0; i--) {
    if (active[i].root) return active[i];
  }
  return undefined;
}

/**
 * Starts the CLIENT span of an outgoing request, a child of the current span (or a root, for
 * `root: true`). Undefined when the context is suppressed (an exporter's own upload) or the
 * tracer is off: such requests are neither traced nor given headers.
 *
 * @param url the target without its query string (`http://host:port/path`).
 */
export function startClientSpan(
  instrumentation: Instrumentation,
  method: string,
  url: string,
  address: string | undefined,
  port: number | undefined,
): Span | undefined {
  const { tracer } = instrumentation;
  const remote: Endpoint = { address, port };
  if (instrumentation.remoteServiceName !== undefined) {
    try {
      const service = instrumentation.remoteServiceName(url);
      if (typeof service === 'string' && service !== '') remote.service = service;
    } catch (error) {
      tracer.report(codes.INTEGRATION_ERROR, 'tomograph: remoteServiceName threw; span has no remote service', error);
    }
  }
  const span = tracer.startSpan(method, { kind: 'CLIENT', remote });
  if (span === NOOP_SPAN) return undefined;
  if (span.recording) {
    span.tag('http.method', method);
    span.tag('http.url', url);
  }
  return span;
}

/**
 * Corrects the span's peer to the socket's: the address actually connected to (an IP, which
 * Zipkin endpoints need, where the URL may name a host) and its port (which a `Host` header
 * set by hand hides). `remote` is the object `startClientSpan` made for this span.
 */
/**
 * Ends the span a request carries under `key`, once (the slot is set to null, so a later
 * channel message for the same request finds nothing), failed with `error` when `failed`.
 */
export function endRequestSpan<K extends symbol>(
  request: { [P in K]?: Span | null } | undefined,
  key: K,
  failed: boolean,
  error?: unknown,
): void {
  const span = request?.[key];
  if (span === undefined || span === null) return;
  request![key] = null;
  if (failed) span.fail(error);
  span.end();
}

export function recordPeer(span: Span, socket: { remoteAddress?: unknown; remotePort?: unknown } | null | undefined): void {
  if (socket === null || socket === undefined || !span.recording) return;
  const remote = (span as Partial<FinishedSpan>).remote;
  if (remote === undefined) return;
  if (typeof socket.remoteAddress === 'string') remote.address = socket.remoteAddress;
  if (typeof socket.remotePort === 'number') remote.port = socket.remotePort;
}

/** Records a response status: a tag, and a failure for 5xx. */
export function recordStatus(span: Span, status: unknown): void {
  if (typeof status !== 'number') return;
  span.tag('http.status_code', status);
  if (status >= 500) span.fail('HTTP ' + status);
}

/** `url` without its query string or fragment. */
export function withoutQuery(url: string): string {
  let end = url.length;
  const q = url.indexOf('?');
  if (q !== -1) end = q;
  const h = url.indexOf('#');
  if (h !== -1 && h < end) end = h;
  return end === url.length ? url : url.slice(0, end);
}

/** Splits `host[:port]` (`[v6]:port` too); `defaultPort` when none is written. */
export function splitHostPort(hostPort: string, defaultPort: number): { address: string; port: number } {
  if (hostPort.charCodeAt(0) === 0x5b /* [ */) {
    const close = hostPort.indexOf(']');
    const port = close !== -1 && hostPort.charCodeAt(close + 1) === 0x3a ? Number(hostPort.slice(close + 2)) : defaultPort;
    return { address: hostPort.slice(1, close === -1 ? undefined : close), port: Number.isInteger(port) ? port : defaultPort };
  }
  const colon = hostPort.lastIndexOf(':');
  if (colon === -1) return { address: hostPort, port: defaultPort };
  const port = Number(hostPort.slice(colon + 1));
  return { address: hostPort.slice(0, colon), port: Number.isInteger(port) && port > 0 ? port : defaultPort };
}
