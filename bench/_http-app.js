'use strict';
/**
 * The Express 5 app every `bench/http.js` variant serves, and its control over IPC. A variant
 * module sets its tracer up first (OpenTelemetry must hook `require('express')`), then calls
 * `serve(hooks)`.
 *
 * Routes:  GET /hello  -> 'Hello World!'      GET /json -> a 20-item JSON array
 *          GET /knex   -> one SQLite query through Knex (better-sqlite3, pool of 1), as JSON,
 *                         when the variant passes `hooks.knex` (from `makeKnex()`)
 * EXPRESS_MODULE picks the Express package (default `express`, i.e. 5; `express4` for 4).
 *
 * IPC from the driver:
 *   'mark'  -> { marked: true }      start of the measured window (CPU time, request count)
 *   'stop'  -> { cpuUs, requests, totalRequests, stats }, after the variant's exporter was
 *              flushed; then the process exits.
 * Prints its port on stdout when listening.
 */

/**
 * The SQLite database behind `/knex`: an in-memory table of 100 rows. A variant calls this after
 * its tracer is set up (OpenTelemetry hooks `require('knex')`) and instruments the instance.
 */
function makeKnex() {
  return require('knex')({
    client: 'better-sqlite3',
    connection: { filename: ':memory:' },
    useNullAsDefault: true,
    pool: { min: 1, max: 1 },
  });
}

/**
 * @param {{ use?: (app: any) => void, flush?: () => Promise<void>, stats?: () => unknown, knex?: any }} hooks
 *   `use` installs the variant's middleware before the routes; `flush` sends whatever the
 *   exporter still holds and resolves when the sink answered; `stats` reports the tracer's counts.
 */
function serve(hooks = {}) {
  const express = require(process.env.EXPRESS_MODULE || 'express');
  const app = express();
  if (hooks.use) hooks.use(app);

  const items = Array.from({ length: 20 }, (_, i) => ({
    id: i + 1,
    name: `item ${i + 1}`,
    price: Math.round((i + 1) * 137.5) / 100,
    tags: ['bench', i % 2 === 0 ? 'even' : 'odd'],
    inStock: i % 3 !== 0,
  }));
  app.get('/hello', (_req, res) => {
    res.send('Hello World!');
  });
  app.get('/json', (_req, res) => {
    res.json(items);
  });

  const knex = hooks.knex;
  let queries = 0;
  if (knex) {
    app.get('/knex', async (_req, res) => {
      res.json(await knex('items').where({ id: queries++ % 100 }).first('id', 'name'));
    });
  }

  let requests = 0;
  let server;
  const listen = () => {
    server = app.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
    server.on('request', () => requests++);
    server.keepAliveTimeout = 30000;
  };
  if (knex) {
    (async () => {
      await knex.schema.createTable('items', (t) => {
        t.integer('id').primary();
        t.string('name');
      });
      await knex('items').insert(Array.from({ length: 100 }, (_, id) => ({ id, name: `item ${id}` })));
      listen();
    })();
  } else {
    listen();
  }

  let mark = { cpu: process.cpuUsage(), requests: 0 };
  process.on('message', async (message) => {
    if (message === 'mark') {
      mark = { cpu: process.cpuUsage(), requests };
      process.send({ marked: true });
      return;
    }
    if (message !== 'stop') return;
    const cpu = process.cpuUsage(mark.cpu);
    const window = requests - mark.requests;
    server.close();
    server.closeAllConnections();
    let flushError;
    try {
      if (hooks.flush) await hooks.flush();
    } catch (error) {
      flushError = String(error);
    }
    process.send(
      {
        cpuUs: cpu.user + cpu.system,
        requests: window,
        totalRequests: requests,
        stats: hooks.stats ? hooks.stats() : undefined,
        flushError,
      },
      () => process.exit(0),
    );
  });
}

module.exports = { serve, makeKnex };
