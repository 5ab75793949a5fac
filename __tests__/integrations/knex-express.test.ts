/**
 * 200 concurrent Express 5 requests, each running three queries (one inside a transaction)
 * through a pool of two connections (one for SQLite), traced by the real `expressMiddleware`
 * and `instrumentKnex`: every query span hangs under its own request (or its transaction),
 * none is lost or doubled, and each covers its query, not its wait for a connection.
 */
import express from 'express';
import { instrumentKnex } from '../../integrations/knex';
import type { FinishedSpan } from '../../lib/types';
import { expressMiddleware } from '../../middleware/express';
import { testTracer } from '../helpers/core-fixtures';
import { allDatabases, describeDatabase, knexConfig, uniqueTable } from '../helpers/databases';
import { listen, send } from '../helpers/http-servers';
import { knexVersions, type KnexLike, maxOverlap } from '../helpers/knex-fixtures';

const REQUESTS = 200;
const makeKnex = knexVersions[0][1];

for (const name of allDatabases) {
  const table = uniqueTable('knexexpress', name);
  const poolSize = name === 'sqlite' ? 1 : 2;

  describeDatabase(name, `${REQUESTS} concurrent requests, pool of ${poolSize}`, () => {
    let knex: KnexLike;

    beforeAll(async () => {
      knex = makeKnex(knexConfig(name, poolSize));
      await knex.schema.dropTableIfExists(table);
      await knex.schema.createTable(table, (tb: KnexLike) => {
        tb.integer('id').primary();
        tb.integer('hits').notNullable();
      });
      await knex(table).insert(Array.from({ length: REQUESTS }, (_, id) => ({ id, hits: 0 })));
    });

    afterAll(async () => {
      await knex.schema.dropTableIfExists(table);
      await knex.destroy();
    });

    it('parents every query to its own request or transaction; spans cover queries, notes cover waits', async () => {
      const t = testTracer({ maxQueueSize: 10_000 });
      // includeBindings: the request's id in each query's bindings tells which request ran it.
      const detach = instrumentKnex(knex, { tracer: t.tracer, includeBindings: true });
      const app = express();
      app.use(expressMiddleware({ tracer: t.tracer }));
      let arrived = 0;
      let allArrived!: () => void;
      const everyoneArrived = new Promise<void>((resolve) => (allArrived = resolve));
      app.get('/items/:id', async (req, res) => {
        const id = Number(req.params.id);
        if (++arrived === REQUESTS) allArrived();
        await knex(table).where({ id }).select('hits');
        await knex.transaction(async (trx: KnexLike) => {
          await trx(table).where({ id }).increment('hits', 1);
          // Transactions hold their connection until every request has come in, so that the
          // pool is contended (better-sqlite3 answers synchronously: without this, SQLite
          // requests would run one after another, never waiting for a connection).
          await everyoneArrived;
        });
        const [row] = await knex(table).where({ id }).select('hits');
        res.json(row);
      });
      const server = await listen(app);
      try {
        const responses = await Promise.all(
          Array.from({ length: REQUESTS }, (_, id) => send(`${server.url}/items/${id}`)),
        );
        expect(responses.map((r) => r.status)).toEqual(Array(REQUESTS).fill(200));
        expect(responses.map((r) => JSON.parse(r.body))).toEqual(Array(REQUESTS).fill({ hits: 1 }));
      } finally {
        await server.close();
        detach();
      }
      await knex(table).update({ hits: 0 });

      const spans = await t.spans();
      const servers = spans.filter((s) => s.kind === 'SERVER');
      const queries = spans.filter((s) => s.kind === 'CLIENT');
      const transactions = spans.filter((s) => s.name === 'transaction');
      expect(servers).toHaveLength(REQUESTS);
      expect(transactions).toHaveLength(REQUESTS);
      expect(queries).toHaveLength(3 * REQUESTS);
      expect(new Set(spans.map((s) => s.id)).size).toBe(spans.length);

      const byId = new Map(spans.map((s) => [s.id, s]));
      const requestOf = (span: FinishedSpan): FinishedSpan | undefined => {
        let parent = span.parentId === undefined ? undefined : byId.get(span.parentId);
        while (parent !== undefined && parent.kind !== 'SERVER') parent = parent.parentId === undefined ? undefined : byId.get(parent.parentId);
        return parent;
      };
      for (const server of servers) {
        const id = Number(String(server.tags['http.path']).split('/').pop());
        const direct = spans.filter((s) => s.parentId === server.id).sort((a, b) => a.timestamp - b.timestamp);
        expect(direct.map((s) => s.name)).toEqual(['select', 'transaction', 'select']);
        const inTransaction = spans.filter((s) => s.parentId === direct[1].id);
        expect(inTransaction.map((s) => s.name)).toEqual(['update']);
        expect(direct[1].notes.map((n) => n.value)).toContain('commit');
        for (const query of [direct[0], inTransaction[0], direct[2]]) {
          expect(query.traceId).toBe(server.traceId);
          expect(JSON.parse(String(query.tags['db.bindings']))).toContain(id);
        }
      }
      for (const query of queries) expect(requestOf(query)).toBeDefined();

      // Only `poolSize` connections: if query spans covered their waits, hundreds would overlap.
      expect(maxOverlap(queries)).toBeLessThanOrEqual(poolSize);
      const waited = queries.filter((q) => q.notes.some((n) => n.value === 'pool.acquire'));
      expect(waited.length).toBeGreaterThan(REQUESTS / 2);
      for (const query of waited) {
        const wait = query.notes.find((n) => n.value === 'pool.acquire')!;
        expect(wait.duration).toBeGreaterThanOrEqual(0);
        expect(wait.timestamp + wait.duration!).toBeLessThanOrEqual(query.timestamp);
      }
      expect(t.events).toEqual([]);
      await t.tracer.shutdown();
    });
  });
}
