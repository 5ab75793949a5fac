/**
 * `tomograph/http`: a CLIENT span, and trace headers, for every outgoing `http`/`https` request
 * and every `fetch`, from Node's `diagnostics_channel`s (see `http-channels.ts` for which ones,
 * and `http-client.ts` for the one place Node 20 needs more).
 *
 *   const undo = instrumentHttp({ remoteServiceName: (url) => new URL(url).hostname });
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { defaultTracer } from '../lib/api';
import { invalidOption } from '../lib/options';
import type { Tracer } from '../lib/tracer';
import { channels, publishesRequestCreated } from './http-channels';
import { onRequestCreated, onRequestError, onRequestStart, onResponseHeaders, traceNewRequest } from './http-client';
import { onFetchCreate, onFetchError, onFetchHeaders, onFetchSendHeaders, onFetchTrailers } from './http-fetch';
import { installRequestWrappers, removeRequestWrappers } from './http-request-wrappers';
import { addInstrumentation, type Instrumentation, removeInstrumentation } from './http-tracers';

/** Options for `instrumentHttp`. */
export interface HttpInstrumentationOptions {
  /** The tracer to record with. Default: the default tracer (the module functions' one). */
  tracer?: Tracer;
  /**
   * Names the service a request goes to, for the span's `remote.service`: called with the
   * target URL without its query string (`http://users.internal:8080/v1/users`). Return
   * `undefined` for none. An exception it throws is reported, never raised. Default: none.
   */
  remoteServiceName?: (url: string) => string | undefined;
  /**
   * Also trace requests made outside any span, each as a new root trace. Default `false`:
   * only requests made while a span is current (inside a traced request, `trace()`, ...).
   */
  root?: boolean;
}

const SUBSCRIPTIONS: readonly [string, (message: unknown) => void][] = [
  [channels.httpRequestCreated, onRequestCreated],
  [channels.httpRequestStart, onRequestStart],
  [channels.httpResponseFinish, onResponseHeaders],
  [channels.httpRequestError, onRequestError],
  [channels.undiciRequestCreate, onFetchCreate],
  [channels.undiciClientSendHeaders, onFetchSendHeaders],
  [channels.undiciRequestHeaders, onFetchHeaders],
  [channels.undiciRequestTrailers, onFetchTrailers],
  [channels.undiciRequestError, onFetchError],
];

const KNOWN = new Set(['tracer', 'remoteServiceName', 'root']);

/**
 * Traces outgoing HTTP: a CLIENT span (a child of the current span) for each `http`/`https`
 * request and each `fetch`, with the tracer's `propagation` headers injected, tags
 * `http.method`, `http.url` (no query string), `http.status_code`, and `error` on network
 * errors and 5xx responses. Requests made while tracing is suppressed (exporter uploads) are
 * never traced. Throws a TypeError (code `TOMOGRAPH_ERR_INVALID_OPTION`) on a wrong option.
 *
 * @returns undo: stops this instrumentation (idempotent); the last undo unsubscribes entirely.
 */
export function instrumentHttp(options: HttpInstrumentationOptions = {}): () => void {
  const instrumentation = validate(options);
  if (addInstrumentation(instrumentation)) {
    for (const [name, handler] of SUBSCRIPTIONS) diagnosticsChannel.subscribe(name, handler);
    if (!publishesRequestCreated()) installRequestWrappers(traceNewRequest);
  }
  let undone = false;
  return function undoInstrumentHttp(): void {
    if (undone) return;
    undone = true;
    if (!removeInstrumentation(instrumentation)) return;
    for (const [name, handler] of SUBSCRIPTIONS) diagnosticsChannel.unsubscribe(name, handler);
    removeRequestWrappers();
  };
}

function validate(options: HttpInstrumentationOptions): Instrumentation {
  if (options === null || typeof options !== 'object') throw invalidOption('instrumentHttp() takes an options object');
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw invalidOption(`instrumentHttp: unknown option "${key}"`);
  }
  const tracer = options.tracer ?? defaultTracer;
  if (tracer === null || typeof tracer !== 'object' || typeof tracer.startSpan !== 'function') {
    throw invalidOption('instrumentHttp: tracer must be a Tracer');
  }
  if (options.remoteServiceName !== undefined && typeof options.remoteServiceName !== 'function') {
    throw invalidOption('instrumentHttp: remoteServiceName must be a function (url) => string | undefined');
  }
  if (options.root !== undefined && typeof options.root !== 'boolean') throw invalidOption('instrumentHttp: root must be a boolean');
  return { tracer, root: options.root ?? false, remoteServiceName: options.remoteServiceName };
}
