/**
 * The Knex integration on SQLite (better-sqlite3, a temp file per test), under Knex 3 and Knex 2:
 * spans and their tags, where the parent comes from, transactions, errors and what they may
 * show, notes mode, comments, the pool wait, detach, and options.
 */
import { instrumentKnex } from '../../integrations/knex';
import { testTracer, type TestTracer } from '../helpers/core-fixtures';
import { knexConfig, tempSqliteFile, uniqueTable } from '../helpers/databases';
import { childrenOf, exportedText, knexVersions, type KnexLike, maxOverlap, only } from '../helpers/knex-fixtures';

const USERS = uniqueTable('knex', 'users');
const SECRET = 'binding-secret-7f3a';

describe.each(knexVersions)('instrumentKnex on SQLite, %s', (_label, makeKnex) => {
  let t: TestTracer;
  let knex: KnexLike;
  let detach: () => void;
  let file: string;

  async function setUp(options: Parameters<typeof instrumentKnex>[1] = {}, config: Record<string, unknown> = {}): Promise<void> {
    file = tempSqliteFile();
    knex = makeKnex({ ...knexConfig('sqlite', 1, file), ...config });
    await knex.schema.createTable(USERS, (table: KnexLike) => {
      table.increments('id');
      table.string('email').unique();
      table.integer('age');
    });
    t = testTracer();
    detach = instrumentKnex(knex, { tracer: t.tracer, ...options });
  }

  afterEach(async () => {
    detach?.();
    await knex?.destroy();
    await t?.tracer.shutdown();
  });

  describe('a query', () => {
    beforeEach(() => setUp());

    it('is a CLIENT span named after its operation, a child of the span current where it was built', async () => {
      await t.tracer.trace('request', async () => {
        await knex(USERS).insert({ email: SECRET, age: 41 });
        await knex(USERS).where({ email: SECRET }).select('id');
      });
      const spans = await t.spans();
      const request = only(spans, 'request');
      const [insert, select] = childrenOf(spans, request);
      expect(insert.name).toBe('insert');
      expect(select.name).toBe('select');
      expect(select.kind).toBe('CLIENT');
      expect(select.tags).toEqual({
        'db.system': 'sqlite',
        'db.name': file,
        'db.operation': 'select',
        'db.sql.table': USERS,
        'db.statement': `select \`id\` from \`${USERS}\` where \`email\` = ?`,
      });
      expect(select.remote).toBeUndefined();
      expect(select.error).toBeUndefined();
      expect(exportedText(spans)).not.toContain(SECRET);
    });

    it('names each operation: insert, update, delete, select (first, pluck), raw, and schema statements by keyword', async () => {
      await t.tracer.trace('request', async () => {
        await knex(USERS).insert({ email: 'a@x', age: 1 });
        await knex(USERS).update({ age: 2 }).where('id', 1);
        await knex(USERS).first('id');
        await knex(USERS).pluck('id');
        await knex(USERS).increment('age', 1);
        await knex(`${USERS} as u`).count('* as n');
        await knex.raw('select 1 as one');
        await knex(USERS).del().where('id', 1);
        await knex.schema.createTable(`${USERS}_b`, (table: KnexLike) => table.increments('id'));
      });
      const spans = await t.spans();
      const names = childrenOf(spans, only(spans, 'request')).map((s) => [s.name, s.tags['db.sql.table']]);
      expect(names).toEqual([
        ['insert', USERS],
        ['update', USERS],
        ['select', USERS],
        ['select', USERS],
        ['update', USERS],
        ['select', USERS],
        ['raw', undefined],
        ['delete', USERS],
        ['create', `${USERS}_b`],
      ]);
      expect(only(spans, 'raw').tags['db.operation']).toBe('raw');
    });

    it('keeps the parent of the place the builder was made, even when awaited in another span', async () => {
      let builder: KnexLike;
      t.tracer.trace('made here', () => {
        builder = knex(USERS).select('id');
      });
      await t.tracer.trace('awaited here', async () => {
        await builder;
      });
      const spans = await t.spans();
      expect(only(spans, 'select').parentId).toBe(only(spans, 'made here').id);
    });

    it('takes the span current when run for a builder made outside any span', async () => {
      const builder = knex(USERS).select('id');
      await t.tracer.trace('awaited here', async () => {
        await builder;
      });
      const spans = await t.spans();
      expect(only(spans, 'select').parentId).toBe(only(spans, 'awaited here').id);
    });

    it('is a root span when no span is current anywhere', async () => {
      await knex(USERS).select('id');
      const spans = await t.spans();
      expect(only(spans, 'select').parentId).toBeUndefined();
    });

    it('traces a builder awaited twice at once as two queries, each ended', async () => {
      await t.tracer.trace('request', async () => {
        const builder = knex(USERS).select('id');
        await Promise.all([builder, builder, builder.then((rows: unknown[]) => rows)]);
      });
      const spans = await t.spans();
      expect(childrenOf(spans, only(spans, 'request')).map((s) => s.name)).toEqual(['select', 'select', 'select']);
      expect(t.tracer.stats().spansStarted).toBe(t.tracer.stats().spansFinished);
    });

    it('with the cls-hooked context store too: 20 concurrent traces through one connection keep their parents', async () => {
      const cls = testTracer({ context: 'cls-hooked' });
      detach();
      detach = instrumentKnex(knex, { tracer: cls.tracer });
      const builders: KnexLike[] = [];
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          cls.tracer.trace(`request ${i}`, async () => {
            const builder = knex(USERS).where('id', i).select('id');
            builders.push(builder);
            await builder;
            await knex.raw('select ?', [i]);
          }),
        ),
      );
      const spans = await cls.spans();
      for (let i = 0; i < 20; i++) {
        const request = only(spans, `request ${i}`);
        expect(childrenOf(spans, request).map((s) => s.name)).toEqual(['select', 'raw']);
      }
      expect(spans.filter((s) => s.name === 'select' || s.name === 'raw')).toHaveLength(40);
      await cls.tracer.shutdown();
    });

    it('leaves streamed queries untraced, and working', async () => {
      await knex(USERS).insert([{ email: 'k@x', age: 1 }, { email: 'l@x', age: 2 }]);
      await t.tracer.flush();
      t.memory.reset();
      const rows: unknown[] = [];
      await t.tracer.trace('request', async () => {
        for await (const row of knex(USERS).select('email').stream()) rows.push(row);
      });
      expect(rows).toHaveLength(2);
      expect((await t.spans()).map((s) => s.name)).toEqual(['request']);
    });

    it('traces instances made afterwards with withUserParams', async () => {
      const tenant = knex.withUserParams({ tenant: 'a' });
      await t.tracer.trace('request', async () => {
        await tenant(USERS).select('id');
        await tenant.raw('select 1');
      });
      const spans = await t.spans();
      expect(childrenOf(spans, only(spans, 'request')).map((s) => s.name)).toEqual(['select', 'raw']);
    });

    it('fails its span with the error the app catches, the same object, showing no binding value', async () => {
      await knex(USERS).insert({ email: SECRET, age: 1 });
      await t.tracer.flush();
      t.memory.reset();
      let caught: unknown;
      let inner: unknown;
      await t.tracer
        .trace('request', async () => {
          try {
            await knex(USERS).insert({ email: SECRET, age: 2 });
          } catch (error) {
            inner = error;
            throw error;
          }
        })
        .catch((error: unknown) => {
          caught = error;
        });
      expect(caught).toBe(inner);
      expect((caught as Error).message).toContain(SECRET); // Knex's own message, untouched
      const spans = await t.spans();
      const insert = only(spans, 'insert');
      expect(insert.error).toBe(`UNIQUE constraint failed: ${USERS}.email`);
      expect(insert.tags['db.error_code']).toBe('SQLITE_CONSTRAINT_UNIQUE');
      expect(insert.notes.map((n) => n.value)).toContain('error');
      // The request span failed with the same error object: it shows the scrubbed text too.
      expect(only(spans, 'request').error).toBe(insert.error);
      expect(exportedText(spans)).not.toContain(SECRET);
    });

    it('fails a syntax error', async () => {
      const error = await t.tracer.trace('request', () => knex.raw('selec nothing from ?', [SECRET])).catch((e: unknown) => e);
      // better-sqlite3's SqliteError is a function constructor whose prototype chain may lead to
      // another Jest realm's Error.prototype, so instanceof cannot tell here: check what it is.
      expect(error).toMatchObject({ name: 'SqliteError', code: 'SQLITE_ERROR' });
      expect((error as Error).message).toMatch(/syntax error/);
      const spans = await t.spans();
      const raw = only(spans, 'raw');
      expect(raw.error).toMatch(/syntax error/);
      expect(raw.tags['db.error_code']).toBe('SQLITE_ERROR');
      expect(exportedText(spans)).not.toContain(SECRET);
    });

    it('records bindings as db.bindings only with includeBindings', async () => {
      detach();
      detach = instrumentKnex(knex, { tracer: t.tracer, includeBindings: true });
      await knex(USERS).where({ email: SECRET, age: 7 }).select('id');
      const select = only(await t.spans(), 'select');
      expect(select.tags['db.bindings']).toBe(JSON.stringify([SECRET, 7]));
      expect(select.tags['db.statement']).not.toContain(SECRET);
    });

    it('cuts db.statement at maxStatementLength', async () => {
      detach();
      detach = instrumentKnex(knex, { tracer: t.tracer, maxStatementLength: 20 });
      await knex(USERS).select('id', 'email', 'age');
      const statement = only(await t.spans(), 'select').tags['db.statement'] as string;
      expect(statement).toHaveLength(20);
      expect(statement).toBe('select `id`, `email…');
    });
  });

  describe('transactions', () => {
    beforeEach(() => setUp());

    it('knex.transaction(fn): a span "transaction" holding its queries, noting commit', async () => {
      const result = await t.tracer.trace('request', () =>
        knex.transaction(async (trx: KnexLike) => {
          await trx(USERS).insert({ email: 'a@x', age: 1 });
          await trx(USERS).select('id');
          return 'done';
        }),
      );
      expect(result).toBe('done');
      const spans = await t.spans();
      const request = only(spans, 'request');
      const trx = only(spans, 'transaction');
      expect(trx.parentId).toBe(request.id);
      expect(trx.kind).toBeUndefined();
      expect(trx.tags['db.system']).toBe('sqlite');
      expect(childrenOf(spans, trx).map((s) => s.name)).toEqual(['insert', 'select']);
      expect(trx.notes.map((n) => n.value)).toEqual(['commit']);
      expect(trx.error).toBeUndefined();
      const [insert, select] = childrenOf(spans, trx);
      expect(trx.timestamp).toBeLessThanOrEqual(insert.timestamp);
      expect(select.timestamp + select.duration).toBeLessThanOrEqual(trx.timestamp + trx.duration);
    });

    it('knex.transaction(fn) that throws: rollback noted, the same error to the caller, no binding shown', async () => {
      await knex(USERS).insert({ email: SECRET, age: 1 });
      await t.tracer.flush();
      t.memory.reset();
      let thrown: unknown;
      const caught = await t.tracer
        .trace('request', () =>
          knex.transaction(async (trx: KnexLike) => {
            await trx(USERS).insert({ email: 'b@x', age: 2 });
            try {
              await trx(USERS).insert({ email: SECRET, age: 3 });
            } catch (error) {
              thrown = error;
              throw error;
            }
          }),
        )
        .catch((e: unknown) => e);
      expect(caught).toBe(thrown);
      expect(await knex(USERS).where({ email: 'b@x' })).toEqual([]);
      const spans = await t.spans();
      const trx = only(spans, 'transaction');
      expect(trx.notes.map((n) => n.value)).toEqual(['rollback', 'error']);
      expect(trx.error).toBe(`UNIQUE constraint failed: ${USERS}.email`);
      expect(exportedText(spans)).not.toContain(SECRET);
    });

    it('await knex.transaction(): queries built from trx anywhere are its children; commit noted', async () => {
      let endedBeforeCommitReturned = false;
      await t.tracer.trace('request', async () => {
        const trx = await knex.transaction();
        await trx(USERS).insert({ email: 'c@x', age: 1 });
        // 'inner work' is not inside the transaction (the code runs in the request's flow), but
        // the query goes through trx: the transaction is its parent.
        await t.tracer.trace('inner work', () => trx(USERS).select('id'));
        await trx.commit();
        await t.tracer.flush();
        endedBeforeCommitReturned = t.memory.spans.some((s) => s.name === 'transaction');
      });
      const spans = await t.spans();
      const trx = only(spans, 'transaction');
      expect(endedBeforeCommitReturned).toBe(true);
      expect(trx.parentId).toBe(only(spans, 'request').id);
      expect(childrenOf(spans, trx).map((s) => s.name)).toEqual(['insert', 'select']);
      expect(only(spans, 'inner work').parentId).toBe(only(spans, 'request').id);
      expect(trx.notes.map((n) => n.value)).toEqual(['commit']);
    });

    it('knex.transaction(fn): a span opened inside the container, and queries built in it, stay inside', async () => {
      await t.tracer.trace('request', () =>
        knex.transaction((trx: KnexLike) => t.tracer.trace('inner work', () => trx(USERS).select('id'))),
      );
      const spans = await t.spans();
      const inner = only(spans, 'inner work');
      expect(inner.parentId).toBe(only(spans, 'transaction').id);
      expect(only(spans, 'select').parentId).toBe(inner.id);
    });

    it('trx.rollback() without an error: rollback noted, no error', async () => {
      await t.tracer.trace('request', async () => {
        const trx = await knex.transaction();
        await trx(USERS).insert({ email: 'd@x', age: 1 });
        await trx.rollback();
      });
      const trx = only(await t.spans(), 'transaction');
      expect(trx.notes.map((n) => n.value)).toEqual(['rollback']);
      expect(trx.error).toBeUndefined();
    });

    it('a builder made outside and run with .transacting(trx) is a child of the transaction', async () => {
      await t.tracer.trace('request', async () => {
        const builder = knex(USERS).select('id');
        await knex.transaction(async (trx: KnexLike) => {
          await builder.transacting(trx);
        });
      });
      const spans = await t.spans();
      expect(only(spans, 'select').parentId).toBe(only(spans, 'transaction').id);
    });

    it('a nested transaction (savepoint) is a transaction span inside the outer one', async () => {
      await t.tracer.trace('request', () =>
        knex.transaction(async (trx: KnexLike) => {
          await trx(USERS).insert({ email: 'e@x', age: 1 });
          await trx.transaction(async (inner: KnexLike) => {
            await inner(USERS).insert({ email: 'f@x', age: 2 });
          });
        }),
      );
      const spans = await t.spans();
      const [outer, inner] = spans.filter((s) => s.name === 'transaction').sort((a, b) => a.timestamp - b.timestamp);
      expect(inner.parentId).toBe(outer.id);
      expect(childrenOf(spans, outer).map((s) => s.name)).toEqual(['insert', 'transaction']);
      expect(childrenOf(spans, inner).map((s) => s.name)).toEqual(['insert']);
      expect(inner.notes.map((n) => n.value)).toEqual(['commit']);
      expect(outer.notes.map((n) => n.value)).toEqual(['commit']);
    });
  });

  describe('the pool', () => {
    beforeEach(() => setUp());

    it('a query waiting for a connection starts its span when sent, the wait in a pool.acquire note', async () => {
      // One connection: a transaction holds it while three queries queue for it.
      await t.tracer.trace('request', async () => {
        const trx = await knex.transaction();
        const queued = [knex(USERS).select('id'), knex(USERS).select('age'), knex(USERS).select('email')].map((b) => b.then());
        await trx(USERS).insert({ email: 'g@x', age: 1 });
        await trx.commit();
        await Promise.all(queued);
      });
      const spans = await t.spans();
      const selects = spans.filter((s) => s.name === 'select');
      expect(selects).toHaveLength(3);
      const trx = only(spans, 'transaction');
      for (const select of selects) {
        const wait = select.notes.find((n) => n.value === 'pool.acquire');
        expect(wait).toBeDefined();
        // Sent once the transaction gave its connection back; the wait began before it ended.
        expect(select.timestamp).toBeGreaterThanOrEqual(trx.timestamp + trx.duration);
        expect(wait!.timestamp).toBeLessThan(trx.timestamp + trx.duration);
        expect(select.timestamp).toBeGreaterThanOrEqual(wait!.timestamp + wait!.duration!);
      }
      // One connection: query spans never overlap, as they would if they covered their waits.
      expect(maxOverlap(spans.filter((s) => s.kind === 'CLIENT'))).toBe(1);
    });

    it('no pool.acquire note when a connection was idle', async () => {
      await knex.raw('select 1'); // the pool now holds one idle connection
      await t.tracer.flush();
      t.memory.reset();
      await knex(USERS).select('id');
      expect(only(await t.spans(), 'select').notes).toEqual([]);
    });

    it('a query that times out waiting for a connection gets a failed span covering the wait', async () => {
      await knex.destroy();
      knex = makeKnex({ ...knexConfig('sqlite', 1, file), acquireConnectionTimeout: 50, log: { warn: () => undefined } });
      detach = instrumentKnex(knex, { tracer: t.tracer });
      const trx = await knex.transaction();
      const error = await t.tracer.trace('request', () => knex(USERS).select('id')).catch((e: unknown) => e);
      await trx.commit();
      expect((error as Error).name).toBe('KnexTimeoutError');
      const select = only(await t.spans(), 'select');
      expect(select.error).toMatch(/Timeout acquiring a connection/);
      expect(select.duration).toBeGreaterThanOrEqual(45_000);
      expect(select.notes.map((n) => n.value)).toEqual(['pool.acquire', 'error']);
    });
  });

  describe("mode: 'note'", () => {
    beforeEach(() => setUp({ mode: 'note' }));

    it('notes each query on the current span as "<operation> <table>" with its duration; no spans', async () => {
      await t.tracer.trace('request', async () => {
        await knex(USERS).insert({ email: SECRET, age: 1 });
        await knex(USERS).select('id');
        await knex.raw('select 1');
        await knex(USERS).insert({ email: SECRET, age: 1 }).catch(() => undefined);
        await knex.transaction(async (trx: KnexLike) => {
          await trx(USERS).update({ age: 2 });
        });
      });
      const spans = await t.spans();
      expect(spans.map((s) => s.name)).toEqual(['request']);
      const notes = spans[0].notes;
      expect(notes.map((n) => n.value)).toEqual([
        `insert ${USERS}`,
        `select ${USERS}`,
        'raw',
        `insert ${USERS} error`,
        `update ${USERS}`,
        'transaction commit',
      ]);
      for (const note of notes) expect(note.duration).toBeGreaterThanOrEqual(0);
      expect(spans[0].error).toBeUndefined();
      expect(exportedText(spans)).not.toContain(SECRET);
    });

    it('notes nothing outside a span', async () => {
      await knex(USERS).select('id');
      expect(await t.spans()).toEqual([]);
    });
  });

  describe('comment: true', () => {
    beforeEach(() => setUp({ comment: true }));

    it("sends each statement with /*traceparent='…'*/ naming its span, and the database runs it", async () => {
      const sent: string[] = [];
      knex.on('query', (query: { sql: string }) => sent.push(query.sql));
      const rows = await t.tracer.trace('request', async () => {
        await knex(USERS).insert({ email: 'h@x', age: 5 });
        await knex.raw('select 1 as one;');
        return knex(USERS).where('age', 5).select('email');
      });
      expect(rows).toEqual([{ email: 'h@x' }]);
      const spans = await t.spans();
      const ids = childrenOf(spans, only(spans, 'request')).map((s) => `00-${s.traceId}-${s.id}-03`);
      expect(sent).toEqual([
        `insert into \`${USERS}\` (\`age\`, \`email\`) values (?, ?) /*traceparent='${ids[0]}'*/`,
        `select 1 as one /*traceparent='${ids[1]}'*/;`,
        `select \`email\` from \`${USERS}\` where \`age\` = ? /*traceparent='${ids[2]}'*/`,
      ]);
      // db.statement is the statement as built, without the comment.
      expect(only(spans, 'raw').tags['db.statement']).toBe('select 1 as one;');
    });

    it('comments statements inside transactions with their own span', async () => {
      const sent: string[] = [];
      knex.on('query', (query: { sql: string }) => sent.push(query.sql));
      await t.tracer.trace('request', () => knex.transaction((trx: KnexLike) => trx(USERS).select('id')));
      const select = only(await t.spans(), 'select');
      expect(sent).toContain(`select \`id\` from \`${USERS}\` /*traceparent='00-${select.traceId}-${select.id}-03'*/`);
      expect(sent.filter((sql) => sql.includes('/*'))).toHaveLength(1); // not BEGIN or COMMIT
    });
  });

  describe('detach and set-up', () => {
    beforeEach(() => setUp());

    it('detach() restores the client and stops tracing; queries already sent still end', async () => {
      knex.once('query', () => detach()); // the statement is on its way to the database
      await t.tracer.trace('request', () => knex(USERS).select('id'));
      expect(Object.prototype.hasOwnProperty.call(knex.client, 'queryBuilder')).toBe(false);
      expect(Object.prototype.hasOwnProperty.call(knex.client, 'runner')).toBe(false);
      await t.tracer.trace('later', () => knex(USERS).select('id'));
      const spans = await t.spans();
      expect(spans.map((s) => s.name).sort()).toEqual(['later', 'request', 'select']);
      detach(); // twice: harmless
    });

    it('instrumenting the same instance twice is reported and changes nothing', async () => {
      const second = instrumentKnex(knex, { tracer: t.tracer });
      expect(t.codes()).toEqual(['TOMOGRAPH_INTEGRATION_ERROR']);
      second();
      await t.tracer.trace('request', () => knex(USERS).select('id'));
      expect((await t.spans()).map((s) => s.name).sort()).toEqual(['request', 'select']);
    });

    it('costs nothing and records nothing with an unconfigured tracer', async () => {
      detach();
      const { Tracer } = await import('../../lib/tracer');
      const idle = new Tracer();
      detach = instrumentKnex(knex, { tracer: idle });
      await knex(USERS).insert({ email: 'i@x', age: 1 });
      expect(await knex(USERS).count('* as n')).toEqual([{ n: 1 }]);
      expect(idle.stats().spansStarted).toBe(0);
    });

    it('a tracer that throws never breaks a query or a transaction: the fault is reported', async () => {
      detach();
      const { Tracer } = await import('../../lib/tracer');
      const codes: string[] = [];
      const broken = new Tracer({ serviceName: 'broken', onDiagnostic: (event) => codes.push(event.code) });
      broken.startSpan = () => {
        throw new Error('tracer bug');
      };
      detach = instrumentKnex(knex, { tracer: broken, comment: true });
      await knex(USERS).insert({ email: 'j@x', age: 1 });
      const result = await knex.transaction(async (trx: KnexLike) => trx(USERS).where({ email: 'j@x' }).first('age'));
      expect(result).toEqual({ age: 1 });
      const error = await knex.raw('selec 1').catch((e: unknown) => e);
      expect((error as Error).message).toMatch(/syntax error/);
      expect(codes.length).toBeGreaterThan(0);
      expect(new Set(codes)).toEqual(new Set(['TOMOGRAPH_INTEGRATION_ERROR']));
    });

    it('comment: true in note mode carries the current span', async () => {
      detach();
      detach = instrumentKnex(knex, { tracer: t.tracer, mode: 'note', comment: true });
      const sent: string[] = [];
      knex.on('query', (query: { sql: string }) => sent.push(query.sql));
      await t.tracer.trace('request', () => knex(USERS).select('id'));
      await knex(USERS).select('id'); // no current span: no comment
      const request = only(await t.spans(), 'request');
      expect(sent).toEqual([
        `select \`id\` from \`${USERS}\` /*traceparent='00-${request.traceId}-${request.id}-03'*/`,
        `select \`id\` from \`${USERS}\``,
      ]);
    });

    it('throws a TypeError with a stable code on wrong arguments', () => {
      const bad: Array<[unknown, unknown]> = [
        [{}, undefined],
        [null, undefined],
        [knex, { mode: 'spans' }],
        [knex, { maxStatementLength: 0 }],
        [knex, { includeBindings: 'yes' }],
        [knex, { comment: 1 }],
        [knex, { remoteService: '' }],
        [knex, { tracer: {} }],
        [knex, { colour: 'red' }],
      ];
      for (const [instance, options] of bad) {
        let thrown: unknown;
        try {
          instrumentKnex(instance as never, options as never);
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(TypeError);
        expect((thrown as { code?: string }).code).toBe('TOMOGRAPH_ERR_INVALID_OPTION');
      }
    });
  });
});
