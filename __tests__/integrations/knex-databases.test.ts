/**
 * The Knex integration against the real PostgreSQL and MySQL (MariaDB) servers of this machine:
 * peer and database tags, drivers' error codes, error messages that quote binding values,
 * query timeouts, transactions, and comments the database really receives.
 */
import { instrumentKnex } from '../../integrations/knex';
import { testTracer, type TestTracer } from '../helpers/core-fixtures';
import { type DatabaseName, describeDatabase, knexConfig, servers, uniqueTable } from '../helpers/databases';
import { childrenOf, exportedText, knexVersions, type KnexLike, only } from '../helpers/knex-fixtures';

const SECRET = 'binding-secret-4c1d';

interface Expectations {
  system: string;
  duplicateCode: string;
  syntaxCode: string;
  /** The driver's message for a unique violation, after scrubbing. */
  duplicateMessage: (table: string) => RegExp;
  sleep: (seconds: number) => string;
  /** A statement that returns its own text as the server received it. */
  ownText: string;
  ownTextRow: (rows: unknown) => string;
}

const expectations: Record<Exclude<DatabaseName, 'sqlite'>, Expectations> = {
  postgresql: {
    system: 'postgresql',
    duplicateCode: '23505',
    syntaxCode: '42601',
    duplicateMessage: (table) => new RegExp(`^duplicate key value violates unique constraint "${table}_email_unique"$`),
    sleep: (seconds) => `select pg_sleep(${seconds})`,
    ownText: 'select query from pg_stat_activity where pid = pg_backend_pid()',
    ownTextRow: (result) => (result as { rows: Array<{ query: string }> }).rows[0].query,
  },
  mysql: {
    system: 'mysql',
    duplicateCode: 'ER_DUP_ENTRY',
    syntaxCode: 'ER_PARSE_ERROR',
    // MySQL quotes the value itself: the scrubbed message shows '?' in its place.
    duplicateMessage: (table) => new RegExp(`^Duplicate entry '\\?' for key '(${table}\\.)?${table}_email_unique'$`),
    sleep: (seconds) => `select sleep(${seconds})`,
    ownText: 'select info from information_schema.processlist where id = connection_id()',
    ownTextRow: (result) => (result as Array<Array<{ info: string }>>)[0][0].info,
  },
};

for (const name of ['postgresql', 'mysql'] as const) {
  const expected = expectations[name];
  const table = uniqueTable('knexdb', name);

  describeDatabase(name, 'instrumentKnex', () => {
    describe.each(knexVersions)('%s', (_label, makeKnex) => {
      let t: TestTracer;
      let knex: KnexLike;
      let detach: (() => void) | undefined;

      beforeAll(async () => {
        const setup = makeKnex(knexConfig(name, 2));
        await setup.schema.dropTableIfExists(table);
        await setup.schema.createTable(table, (tb: KnexLike) => {
          tb.increments('id');
          tb.string('email').unique();
          tb.integer('age');
        });
        await setup.destroy();
      });

      afterAll(async () => {
        const teardown = makeKnex(knexConfig(name, 1));
        await teardown.schema.dropTableIfExists(table);
        await teardown.destroy();
      });

      beforeEach(async () => {
        knex = makeKnex(knexConfig(name, 2));
        await knex(table).del();
        t = testTracer();
      });

      afterEach(async () => {
        detach?.();
        detach = undefined;
        await knex.destroy();
        await t.tracer.shutdown();
      });

      it('tags the database, and the server as the peer', async () => {
        detach = instrumentKnex(knex, { tracer: t.tracer });
        await t.tracer.trace('request', () => knex(table).where({ email: SECRET }).select('id'));
        const spans = await t.spans();
        const select = only(spans, 'select');
        expect(select.parentId).toBe(only(spans, 'request').id);
        expect(select.kind).toBe('CLIENT');
        expect(select.remote).toEqual({ service: expected.system, address: servers[name].host, port: servers[name].port });
        expect(select.tags).toMatchObject({
          'db.system': expected.system,
          'db.name': 'test',
          'db.operation': 'select',
          'db.sql.table': table,
        });
        expect(select.tags['db.statement']).toMatch(/where .email. = \?$/);
        expect(exportedText(spans)).not.toContain(SECRET);
      });

      it('names the peer with remoteService', async () => {
        detach = instrumentKnex(knex, { tracer: t.tracer, remoteService: 'accounts-db' });
        await knex.raw('select 1');
        expect(only(await t.spans(), 'raw').remote?.service).toBe('accounts-db');
      });

      it('a unique violation: the driver code, its message without any binding value, the same error to the app', async () => {
        detach = instrumentKnex(knex, { tracer: t.tracer });
        await knex(table).insert({ email: SECRET, age: 30 });
        let inner: unknown;
        const caught = await t.tracer
          .trace('request', async () => {
            try {
              await knex(table).insert({ email: SECRET, age: 31 });
            } catch (error) {
              inner = error;
              throw error;
            }
          })
          .catch((error: unknown) => error);
        expect(caught).toBe(inner);
        const spans = await t.spans();
        const failed = spans.filter((s) => s.name === 'insert' && s.error !== undefined);
        expect(failed).toHaveLength(1);
        expect(failed[0].tags['db.error_code']).toBe(expected.duplicateCode);
        expect(failed[0].error).toMatch(expected.duplicateMessage(table));
        expect(only(spans, 'request').error).toBe(failed[0].error);
        expect(exportedText(spans)).not.toContain(SECRET);
      });

      it('a value the database rejects: its error quotes the value; the span does not', async () => {
        detach = instrumentKnex(knex, { tracer: t.tracer });
        const error = await knex(table).insert({ email: 'x@y', age: SECRET }).catch((e: unknown) => e);
        expect(String((error as Error).message)).toContain(SECRET);
        const spans = await t.spans();
        expect(only(spans, 'insert').error).toBeDefined();
        expect(exportedText(spans)).not.toContain(SECRET);
      });

      it('a syntax error: failed span with the driver code', async () => {
        detach = instrumentKnex(knex, { tracer: t.tracer });
        await expect(knex.raw('selec ? from nowhere', [SECRET])).rejects.toThrow();
        const spans = await t.spans();
        expect(only(spans, 'raw').tags['db.error_code']).toBe(expected.syntaxCode);
        expect(exportedText(spans)).not.toContain(SECRET);
      });

      it('.timeout(ms): the span fails with the timeout, at the timeout, and the app gets the same error', async () => {
        detach = instrumentKnex(knex, { tracer: t.tracer });
        let inner: unknown;
        const caught = await t.tracer
          .trace('request', () =>
            knex
              .raw(expected.sleep(2))
              .timeout(100, { cancel: true })
              .catch((error: unknown) => {
                inner = error;
                throw error;
              }),
          )
          .catch((error: unknown) => error);
        expect(caught).toBe(inner);
        expect((caught as Error).name).toBe('KnexTimeoutError');
        const raw = only(await t.spans(), 'raw');
        expect(raw.error).toBe('Defined query timeout of 100ms exceeded when running query.');
        expect(raw.duration).toBeGreaterThanOrEqual(90_000);
        expect(raw.duration).toBeLessThan(1_500_000);
      });

      it('transactions: commit and rollback, queries inside', async () => {
        detach = instrumentKnex(knex, { tracer: t.tracer });
        await t.tracer.trace('request', async () => {
          await knex.transaction(async (trx: KnexLike) => {
            await trx(table).insert({ email: 'a@x', age: 1 });
          });
          await knex
            .transaction(async (trx: KnexLike) => {
              await trx(table).insert({ email: 'b@x', age: 2 });
              throw new Error('changed my mind');
            })
            .catch(() => undefined);
        });
        const spans = await t.spans();
        const [committed, rolledBack] = spans.filter((s) => s.name === 'transaction').sort((a, b) => a.timestamp - b.timestamp);
        expect(committed.notes.map((n) => n.value)).toEqual(['commit']);
        expect(rolledBack.notes.map((n) => n.value)).toEqual(['rollback', 'error']);
        expect(rolledBack.error).toBe('changed my mind');
        expect(childrenOf(spans, committed).map((s) => s.name)).toEqual(['insert']);
        expect(childrenOf(spans, rolledBack).map((s) => s.name)).toEqual(['insert']);
        expect(await knex(table).pluck('email')).toEqual(['a@x']);
      });

      it("comment: true: the server receives /*traceparent='…'*/ with the query span's id", async () => {
        detach = instrumentKnex(knex, { tracer: t.tracer, comment: true });
        const text = await t.tracer.trace('request', async () => expected.ownTextRow(await knex.raw(expected.ownText)));
        const raw = only(await t.spans(), 'raw');
        expect(text).toBe(`${expected.ownText} /*traceparent='00-${raw.traceId}-${raw.id}-03'*/`);
      });

      it('comment: true: a statement ending in a line comment gets the comment after it, on its own line', async () => {
        detach = instrumentKnex(knex, { tracer: t.tracer, comment: true });
        // MySQL/MariaDB read # as a line comment; PostgreSQL only --.
        const lineComment = name === 'mysql' ? '# the caller\'s note' : "-- the caller's note";
        const statement = `${expected.ownText} ${lineComment}`;
        const text = await t.tracer.trace('request', async () => expected.ownTextRow(await knex.raw(statement)));
        const raw = only(await t.spans(), 'raw');
        expect(text).toBe(`${statement}\n/*traceparent='00-${raw.traceId}-${raw.id}-03'*/`);
      });

      it('comment: true: builders with bindings and transactions still run', async () => {
        detach = instrumentKnex(knex, { tracer: t.tracer, comment: true });
        const sent: string[] = [];
        knex.on('query', (query: { sql: string }) => sent.push(query.sql));
        await t.tracer.trace('request', async () => {
          await knex(table).insert({ email: 'c@x', age: 3 });
          await knex.transaction((trx: KnexLike) => trx(table).update({ age: 4 }).where('email', 'c@x'));
        });
        expect(await knex(table).where('email', 'c@x').first('age')).toEqual({ age: 4 });
        // insert, BEGIN, update, COMMIT, select: the three statements of builders carry comments.
        const commented = sent.filter((sql) => /\/\*traceparent='00-[0-9a-f]{32}-[0-9a-f]{16}-03'\*\/$/.test(sql));
        expect(sent).toHaveLength(5);
        expect(commented).toEqual([sent[0], sent[2], sent[4]]);
      });
    });
  });
}
