/**
 * The first error an Express 5 request met, as the router itself recorded it.
 *
 * router >= 2.3 (what Express 5 installs) remembers every error that reaches its `next`, whether
 * passed to `next(err)`, thrown, or rejected by an async handler, in a Set on the request under
 * the registered symbol `router.tracing.publishedErrors` (shared by every copy of the router, so
 * nested routers and sub-apps add to the same Set). It does so for every request, traced or not,
 * before any error handler sees the error; the Set keeps them in the order they came, so its
 * first member is the error at its origin, even when an error handler later replaces it. We read
 * it once, when the response ends: a request without an error pays one property lookup.
 *
 * Why not the router's `express.router.request` TracingChannel, whose `error` event carries the
 * same object: subscribing to any of its events makes the router wrap every handler call of
 * every request (a context object, a wrapped `next`, `runStores`), about 1-2% of an Express
 * request's instructions (BENCHMARKS.md, "Instructions per request"). The Set costs nothing.
 * One difference: when another subscriber does trace the channel, the router forgets an error
 * that an error handler recovered from (`next()` without it); such a request is then failed by
 * its status only, as on Express 4 and on router < 2.3, whose routers keep no such record.
 */

const hasOwn = Object.prototype.hasOwnProperty.call.bind(Object.prototype.hasOwnProperty) as (o: object, key: PropertyKey) => boolean;

/** Where router >= 2.3 keeps the errors a request met (`Symbol.for`, shared across its copies). */
export const ROUTER_ERRORS = Symbol.for('router.tracing.publishedErrors');

/** The first error the router recorded for `req` (Express 5), else undefined. Never throws. */
export function firstRouterError(req: object): unknown {
  // An own-property test first: `req[ROUTER_ERRORS]` on a request without errors walks Express's
  // whole prototype chain of the request, megamorphically (~4 k instructions per request).
  if (!hasOwn(req, ROUTER_ERRORS)) return undefined;
  const errors = (req as { [ROUTER_ERRORS]?: unknown })[ROUTER_ERRORS];
  if (!(errors instanceof Set) || errors.size === 0) return undefined;
  // A Set iterates in insertion order: the first member is the first error.
  for (const error of errors) return error;
  return undefined;
}
