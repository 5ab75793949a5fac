/**
 * `tomograph/express`: one SERVER span per request, for Express 4 and 5.
 *
 * The middleware continues the incoming trace, makes the span current for the rest of the
 * request (`withSpan(span, next)`, so every handler, sync or async, opens children of it) and
 * ends it when the response ends: after the last byte of a normal or streamed response, or
 * when the client went away first (note `aborted`); see `express-responses.ts`. Only then is
 * the route known, so the span is renamed `<METHOD> <route template>` at the end (see
 * `express-route.ts`). Children may be exported before that: an exporter whose names hold the
 * root's name (StatsD) waits for the root to end before naming them (`statsd-hold.ts`).
 *
 * Hot path: the options are compiled once; per request there is one small record in a WeakMap
 * (nothing is added to the response, no listener on it). Ignored requests cost a path
 * comparison.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { defaultTracer } from '../lib/api';
import { codes } from '../lib/codes';
import { invalidOption } from '../lib/options';
import { mayCarryTrace } from '../lib/propagation';
import type { Baggage } from '../lib/baggage';
import type { Span } from '../lib/span';
import type { SpanOptions, Tracer } from '../lib/tracer';
import type { TraceContext } from '../lib/types';
import { firstRouterError } from './express-errors';
import { connectionOf, Exchange, isSeen, listenToResponses, markSeen, track } from './express-responses';
import { pathname, routeName, routeTemplate } from './express-route';

/** Which requests get no span: exact paths, patterns of the path, or a predicate. */
export type IgnoreRule = string | RegExp | ((req: IncomingMessage) => boolean);

/** Options for `expressMiddleware`. */
export interface ExpressMiddlewareOptions {
  /** The tracer to record with. Default: the default tracer (the module functions' one). */
  tracer?: Tracer;
  /**
   * Requests to leave untraced (health checks): a path (exact match on the path without its
   * query string), a RegExp tested on that path, a predicate of the request, or an array of
   * these. Ignored requests get no span and pass straight to `next`. Default: none.
   */
  ignore?: IgnoreRule | readonly IgnoreRule[];
  /** The service recorded on the server spans. Default: the tracer's `serviceName`. */
  serviceName?: string;
  /**
   * Called when a recorded request ends, just before its span ends, to add tags from the
   * request and response. An exception it throws is reported (`onDiagnostic`), never raised.
   */
  onResponse?: (span: Span, req: IncomingMessage, res: ServerResponse) => void;
  /**
   * A response header that carries the trace id (32 hex), e.g. `'x-trace-id'`, so clients can
   * quote it in bug reports; `false` or absent for none. Default: none.
   */
  traceIdHeader?: string | false;
}

/** The middleware: a plain `(req, res, next)` function, so Express 4 and 5 both take it. */
export type ExpressMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** A valid HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Makes the Express middleware: `app.use(expressMiddleware())` before your routes.
 * Throws a TypeError (code `TOMOGRAPH_ERR_INVALID_OPTION`) on a wrong option.
 */
export function expressMiddleware(options: ExpressMiddlewareOptions = {}): ExpressMiddleware {
  const { tracer, ignore, serviceName, onResponse, traceIdHeader } = validate(options);
  listenToResponses();

  // One options object reused for every request: startSpan reads it synchronously and keeps
  // none of it, so filling it in place saves an allocation per request.
  const spanOptions: SpanOptions = { kind: 'SERVER', parent: null, host: undefined, service: serviceName, baggage: undefined };

  // Runs from a diagnostics channel or an event listener, where a throw would reach the app.
  function onEnd(exchange: Exchange, aborted: boolean): void {
    try {
      describeResponse(exchange, aborted, tracer, onResponse);
      exchange.span.end();
    } catch (error) {
      tracer.report(codes.INTEGRATION_ERROR, 'tomograph: express middleware failed to end a span', error);
    }
  }

  return function tomographExpress(req, res, next) {
    // Disabled tracer, a response traced by an outer tomograph middleware, or an ignored path.
    if (!tracer.isEnabled || isSeen(res) || (ignore !== undefined && isIgnored(ignore, req, tracer))) {
      next();
      return;
    }
    let span: Span;
    try {
      const headers = req.headers;
      let parent: TraceContext | undefined;
      let baggage: Baggage | undefined;
      // Most requests carry no trace header: one pass over the names they have tells, where
      // asking for each absent name cost ~2 k instructions (see `mayCarryTrace`).
      if (mayCarryTrace(headers)) {
        parent = tracer.extractContext(headers);
        // Baggage comes with the trace context; a request may also carry it alone.
        if (parent === undefined) baggage = tracer.extractBaggage(headers);
      }
      spanOptions.parent = parent ?? null;
      spanOptions.baggage = baggage;
      const connection = connectionOf(req.socket);
      spanOptions.host = connection?.host;
      const method = req.method ?? 'GET';
      span = tracer.startSpan(method, spanOptions);
      if (span.recording) {
        span.tag('http.method', method);
        span.tag('http.path', pathname(urlOf(req)));
      }
      if (traceIdHeader !== undefined && span.traceId !== '' && !res.headersSent) res.setHeader(traceIdHeader, span.traceId);
      // An unsampled span records nothing: no need to hear how the response ends.
      if (span.recording) track(new Exchange(span, req, res, onEnd), connection);
      else markSeen(res);
    } catch (error) {
      tracer.report(codes.INTEGRATION_ERROR, 'tomograph: express middleware failed to start a span', error);
      next();
      return;
    }
    tracer.withSpan(span, next);
  };
}

function describeResponse(exchange: Exchange, aborted: boolean, tracer: Tracer, onResponse: ExpressMiddlewareOptions['onResponse']): void {
  const { span, request: req, response: res } = exchange;
  const template = routeTemplate(req);
  if (template !== undefined) {
    span.updateName(routeName(req.method ?? 'GET', template));
    span.tag('http.route', template);
  }
  const status = res.headersSent ? res.statusCode : undefined;
  if (status !== undefined) span.tag('http.status_code', status);
  const error = firstRouterError(req);
  if (error !== undefined) span.fail(error);
  else if (status !== undefined && status >= 500) span.fail('HTTP ' + status);
  if (aborted) span.annotate('aborted');
  if (onResponse !== undefined) {
    try {
      onResponse(span, req, res);
    } catch (err) {
      tracer.report(codes.INTEGRATION_ERROR, 'tomograph: the onResponse hook threw; ignored', err);
    }
  }
}

function urlOf(req: IncomingMessage): string {
  const original = (req as { originalUrl?: unknown }).originalUrl;
  return typeof original === 'string' ? original : req.url ?? '/';
}

/** An ignore rule compiled once: exact paths in a Set, then patterns, then predicates. */
interface CompiledIgnore {
  paths: Set<string>;
  patterns: RegExp[];
  predicates: ((req: IncomingMessage) => boolean)[];
}

function isIgnored(ignore: CompiledIgnore, req: IncomingMessage, tracer: Tracer): boolean {
  if (ignore.paths.size > 0 || ignore.patterns.length > 0) {
    const path = pathname(urlOf(req));
    if (ignore.paths.has(path)) return true;
    for (const pattern of ignore.patterns) {
      pattern.lastIndex = 0;
      if (pattern.test(path)) return true;
    }
  }
  for (const predicate of ignore.predicates) {
    try {
      if (predicate(req) === true) return true;
    } catch (error) {
      tracer.report(codes.INTEGRATION_ERROR, 'tomograph: an ignore predicate threw; request traced', error);
    }
  }
  return false;
}

interface Validated {
  tracer: Tracer;
  ignore: CompiledIgnore | undefined;
  serviceName: string | undefined;
  onResponse: ExpressMiddlewareOptions['onResponse'];
  traceIdHeader: string | undefined;
}

const KNOWN = new Set(['tracer', 'ignore', 'serviceName', 'onResponse', 'traceIdHeader']);

function validate(options: ExpressMiddlewareOptions): Validated {
  if (options === null || typeof options !== 'object') throw invalidOption('expressMiddleware() takes an options object');
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw invalidOption(`expressMiddleware: unknown option "${key}"`);
  }
  const tracer = options.tracer ?? defaultTracer;
  if (tracer === null || typeof tracer !== 'object' || typeof tracer.startSpan !== 'function') {
    throw invalidOption('expressMiddleware: tracer must be a Tracer');
  }
  const { serviceName, onResponse, traceIdHeader } = options;
  if (serviceName !== undefined && (typeof serviceName !== 'string' || serviceName.trim() === '')) {
    throw invalidOption('expressMiddleware: serviceName must be a non-empty string');
  }
  if (onResponse !== undefined && typeof onResponse !== 'function') {
    throw invalidOption('expressMiddleware: onResponse must be a function (span, req, res) => void');
  }
  if (traceIdHeader !== undefined && traceIdHeader !== false && (typeof traceIdHeader !== 'string' || !HEADER_NAME.test(traceIdHeader))) {
    throw invalidOption(`expressMiddleware: traceIdHeader must be a header name or false, not ${JSON.stringify(traceIdHeader)}`);
  }
  return {
    tracer,
    ignore: compileIgnore(options.ignore),
    serviceName,
    onResponse,
    traceIdHeader: traceIdHeader === false ? undefined : traceIdHeader,
  };
}

function compileIgnore(ignore: ExpressMiddlewareOptions['ignore']): CompiledIgnore | undefined {
  if (ignore === undefined) return undefined;
  const rules = Array.isArray(ignore) ? ignore : [ignore];
  const compiled: CompiledIgnore = { paths: new Set(), patterns: [], predicates: [] };
  for (const rule of rules as unknown[]) {
    if (typeof rule === 'string') compiled.paths.add(rule);
    else if (rule instanceof RegExp) compiled.patterns.push(rule);
    else if (typeof rule === 'function') compiled.predicates.push(rule as (req: IncomingMessage) => boolean);
    else throw invalidOption('expressMiddleware: ignore takes paths, RegExps, predicates, or an array of them');
  }
  return rules.length === 0 ? undefined : compiled;
}
