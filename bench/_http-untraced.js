'use strict';
/**
 * `bench/http.js` / `bench/instructions.js` variants without a tracer:
 *   untraced    the app alone
 *   empty-mw    plus an Express middleware that only calls `next()` (the cost of being one)
 *   als         plus a middleware that runs `next` inside `AsyncLocalStorage.run` (the floor any
 *               tracer with async context pays on this Node)
 * With BENCH_KNEX=1 the app serves `/knex` (Knex not instrumented).
 */
const { AsyncLocalStorage } = require('node:async_hooks');
const app = require('./_http-app');

const variant = process.env.BENCH_VARIANT || 'untraced';
let use;
if (variant === 'empty-mw') {
  use = (express) => express.use((_req, _res, next) => next());
} else if (variant === 'als') {
  const als = new AsyncLocalStorage();
  use = (express) => express.use((req, _res, next) => als.run(req, next));
}
app.serve({ use, knex: process.env.BENCH_KNEX === '1' ? app.makeKnex() : undefined });
