'use strict';
/**
 * The piece variants of `bench/instructions.js` (BENCHMARKS.md, "Cost table"): what each part of
 * tomograph's Express request path costs, measured as the difference between a copy of
 * `expressMiddleware`'s request path and the same copy with one part left out. The copy is built
 * here, in the bench, from the middleware's own modules (`dist/middleware/express-*.js`), so the
 * middleware carries no switch for it; `tomograph-copy` (nothing left out) is counted beside
 * `tomograph-noexport` (the real middleware) to show the copy costs what the real one does. It
 * handles what the bench app needs (no `ignore`, `onResponse` or `traceIdHeader`).
 *
 *   tomograph-copy          the copy, nothing left out
 *   tomograph-no-headers    no `extractContext` / `extractBaggage` (every request a new root)
 *   tomograph-no-route      no route template, span name or `http.route` tag at the end
 *   tomograph-no-tags       no `http.method` / `http.path` tags, no status read or tag
 *   tomograph-no-tracking   no response-end tracking (no Exchange, WeakMap, finish-channel
 *                           subscription, in-flight list): the span ends right after `next()`
 *                           returns (the bench's routes answer synchronously)
 *   tomograph-no-error      no lookup of the router's error record
 *   tomograph-no-end        the span is never ended (no duration, no batch queue)
 *   tomograph-context-only  only `tracer.withSpan(span, next)` with one span made at start-up:
 *                           tomograph's context store against the `als` variant's bare `run`
 * Exported: `pieceMiddleware(tracer, variant)`, or undefined for another variant.
 */
const path = require('node:path');

const dist = process.env.TOMOGRAPH_DIST || path.join(__dirname, '..', 'dist');
const { Exchange, connectionOf, isSeen, listenToResponses, markSeen, track } = require(path.join(dist, 'middleware/express-responses'));
const { pathname, routeName, routeTemplate } = require(path.join(dist, 'middleware/express-route'));
const { firstRouterError } = require(path.join(dist, 'middleware/express-errors'));
const { codes } = require(path.join(dist, 'lib/codes'));

const PIECES = ['tomograph-copy', 'tomograph-no-headers', 'tomograph-no-route', 'tomograph-no-tags', 'tomograph-no-tracking', 'tomograph-no-error', 'tomograph-no-end', 'tomograph-context-only'];

function pieceMiddleware(tracer, variant) {
  if (!PIECES.includes(variant)) return undefined;
  if (variant === 'tomograph-context-only') {
    const fixed = tracer.startSpan('GET /hello', { kind: 'SERVER', parent: null });
    return function contextOnly(_req, _res, next) {
      tracer.withSpan(fixed, next);
    };
  }
  // Decided once: each is a constant for the life of the process.
  const headers = variant !== 'tomograph-no-headers';
  const route = variant !== 'tomograph-no-route';
  const tags = variant !== 'tomograph-no-tags';
  const tracking = variant !== 'tomograph-no-tracking';
  const error = variant !== 'tomograph-no-error';
  const end = variant !== 'tomograph-no-end';
  if (tracking) listenToResponses();
  const spanOptions = { kind: 'SERVER', parent: null, host: undefined, service: undefined, baggage: undefined };

  function describe(span, req, res) {
    if (route) {
      const template = routeTemplate(req);
      if (template !== undefined) {
        span.updateName(routeName(req.method ?? 'GET', template));
        span.tag('http.route', template);
      }
    }
    const status = tags && res.headersSent ? res.statusCode : undefined;
    if (status !== undefined) span.tag('http.status_code', status);
    const err = error ? firstRouterError(req) : undefined;
    if (err !== undefined) span.fail(err);
    else if (status !== undefined && status >= 500) span.fail('HTTP ' + status);
  }

  function onEnd(exchange, aborted) {
    try {
      describe(exchange.span, exchange.request, exchange.response);
      if (aborted) exchange.span.annotate('aborted');
      if (end) exchange.span.end();
    } catch (e) {
      tracer.report(codes.INTEGRATION_ERROR, 'bench: failed to end a span', e);
    }
  }

  return function tomographPieces(req, res, next) {
    if (!tracer.isEnabled || (tracking && isSeen(res))) {
      next();
      return;
    }
    let span;
    try {
      const parent = headers ? tracer.extractContext(req.headers) : undefined;
      spanOptions.parent = parent ?? null;
      spanOptions.baggage = headers && parent === undefined ? tracer.extractBaggage(req.headers) : undefined;
      const connection = connectionOf(req.socket);
      spanOptions.host = connection?.host;
      const method = req.method ?? 'GET';
      span = tracer.startSpan(method, spanOptions);
      if (tags && span.recording) {
        span.tag('http.method', method);
        const original = req.originalUrl;
        span.tag('http.path', pathname(typeof original === 'string' ? original : req.url ?? '/'));
      }
      if (tracking) {
        if (span.recording) track(new Exchange(span, req, res, onEnd), connection);
        else markSeen(res);
      }
    } catch (e) {
      tracer.report(codes.INTEGRATION_ERROR, 'bench: failed to start a span', e);
      next();
      return;
    }
    tracer.withSpan(span, next);
    if (!tracking && span.recording) {
      try {
        describe(span, req, res);
        if (end) span.end();
      } catch (e) {
        tracer.report(codes.INTEGRATION_ERROR, 'bench: failed to end a span', e);
      }
    }
  };
}

module.exports = { pieceMiddleware, PIECES };
