/**
 * The errors an Express 5 request met, as the router itself reports them.
 *
 * router >= 2.3 (what Express 5 installs) publishes every handler invocation on the
 * `express.router.request` TracingChannel; its `error` event carries the error at its origin,
 * whether passed to `next(err)`, thrown, or rejected by an async handler, before any error
 * handler sees it. We only read it: the user's error object reaches their handler unchanged.
 * Express 4 has no such channel and no public hook for `next(err)`; there a 5xx response is
 * what marks the span failed (README, "Errors").
 *
 * Subscribing makes the router allocate a small context per handler call, so we subscribe once,
 * when the first middleware is created, and only record on requests we trace.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { exchangeOf } from './express-responses';

/** The channel's `error` event name (`TracingChannel('express.router.request').error`). */
export const ROUTER_ERROR_CHANNEL = 'tracing:express.router.request:error';

interface RouterErrorContext {
  res?: object;
  error?: unknown;
}

let subscribed = false;

function onRouterError(message: unknown): void {
  const ctx = message as RouterErrorContext | undefined;
  const res = ctx?.res;
  if (res === undefined || res === null || typeof res !== 'object') return;
  const exchange = exchangeOf(res);
  if (exchange === undefined) return;
  // The first error is the origin; a handler that replaces it later does not hide it.
  if (exchange.error === undefined && ctx!.error !== undefined) exchange.error = ctx!.error;
}

/** Subscribes to the router's error events (once per process). Never throws. */
export function listenToRouterErrors(): void {
  if (subscribed) return;
  subscribed = true;
  try {
    diagnosticsChannel.subscribe(ROUTER_ERROR_CHANNEL, onRouterError);
  } catch {
    // An old Node without the channel API: a 5xx still marks the span failed.
  }
}
