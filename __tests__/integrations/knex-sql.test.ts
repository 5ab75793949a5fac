/**
 * The Knex integration's SQL text helpers: the comment that nothing can break out of, error
 * messages that keep no binding value, operations, tables, truncation, and database endpoints.
 */
import fc from 'fast-check';
import { databaseInfo } from '../../integrations/knex-endpoint';
import {
  appendComment, formatBindings, operationOf, scrubErrorMessage, sqlComment, tableOf, truncate,
} from '../../integrations/knex-sql';

describe('sqlComment', () => {
  it('writes sqlcommenter key=value pairs, keys sorted, values URL-encoded', () => {
    expect(sqlComment({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' })).toBe(
      "/*traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'*/",
    );
    expect(sqlComment({ route: '/users/:id', action: "it's" })).toBe("/*action='it\\'s',route='%2Fusers%2F%3Aid'*/");
    expect(sqlComment({})).toBe('');
    expect(sqlComment({ empty: '' })).toBe('');
  });

  it('no key or value can close the comment, open a nested one, or end the quoted value', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1 }), fc.string()), (pairs) => {
        const comment = sqlComment(pairs);
        if (comment === '') return;
        const body = comment.slice(2, -2);
        expect(comment.startsWith('/*') && comment.endsWith('*/')).toBe(true);
        expect(body).not.toContain('*/');
        expect(body).not.toContain('/*');
        // Every quote inside a value is escaped: the pairs parse back to what went in.
        // A Map, not an object: a key such as `__proto__` must come back as a key.
        const parsed = new Map<string, string>();
        for (const match of body.matchAll(/([^=,]+)='((?:[^'\\]|\\.)*)'/g)) {
          const unescape = (text: string): string => decodeURIComponent(text.replace(/\\'/g, "'"));
          parsed.set(unescape(match[1]), unescape(match[2]));
        }
        const expected = new Map(Object.entries(pairs).filter(([, v]) => v !== ''));
        expect(parsed).toEqual(expected);
      }),
    );
  });

  it('a key named __proto__ is an ordinary key (found once by the property above)', () => {
    const pairs = JSON.parse('{"__proto__":" "}') as Record<string, string>;
    expect(sqlComment(pairs)).toBe("/*__proto__='%20'*/");
  });

  it('hostile values stay inside', () => {
    const comment = sqlComment({ traceparent: "x'*/ drop table users; /* --" });
    expect(comment).toBe("/*traceparent='x\\'*%2F%20drop%20table%20users%3B%20%2F*%20--'*/");
    expect(comment.indexOf('*/')).toBe(comment.length - 2);
  });
});

describe('appendComment', () => {
  const c = "/*traceparent='t'*/";
  it('goes after the statement, before a trailing semicolon, on a new line after a -- comment', () => {
    expect(appendComment('select 1', c)).toBe(`select 1 ${c}`);
    expect(appendComment('select 1;  \n', c)).toBe(`select 1 ${c};`);
    expect(appendComment('select 1 -- why', c)).toBe(`select 1 -- why\n${c}`);
    expect(appendComment('select 1 -- a\nfrom t', c)).toBe(`select 1 -- a\nfrom t ${c}`);
    expect(appendComment('select 1', '')).toBe('select 1');
  });

  it("never goes inside MySQL's # line comment: a new line ends that comment first", () => {
    expect(appendComment('select 1 # why', c)).toBe(`select 1 # why\n${c}`);
    expect(appendComment('select 1; # why\n', c)).toBe(`select 1; # why\n${c}`);
    expect(appendComment('select 1 # a\nfrom t', c)).toBe(`select 1 # a\nfrom t ${c}`);
    // A # that is no comment (in a string, PostgreSQL's xor) costs only a harmless line break.
    expect(appendComment("select '#' as x", c)).toBe(`select '#' as x\n${c}`);
  });
});

describe('scrubErrorMessage', () => {
  it("drops Knex's prefix (the statement with its values written in)", () => {
    expect(
      scrubErrorMessage(
        "insert into `t` (`a`, `b`) values ('alice@x', 1) - Duplicate entry 'alice@x' for key 't_a_unique'",
        'insert into `t` (`a`, `b`) values (?, ?)',
        ['alice@x', 1],
        false,
      ),
    ).toBe("Duplicate entry '?' for key 't_a_unique'");
    // PostgreSQL: the statement keeps $n placeholders; the driver quotes the value.
    expect(
      scrubErrorMessage(
        'select * from "t" where "age" = $1 - invalid input syntax for type integer: "abc"',
        'select * from "t" where "age" = $1',
        ['abc'],
        false,
      ),
    ).toBe('invalid input syntax for type integer: "?"');
  });

  it('replaces values only where they stand alone, not inside other words', () => {
    expect(scrubErrorMessage("Duplicate entry '1' for key 'users_1_key'", 'x', [1], false)).toBe(
      "Duplicate entry '?' for key 'users_1_key'",
    );
    expect(scrubErrorMessage("value 'a' in name", 'x', ['a'], false)).toBe("value '?' in name");
  });

  it('keeps values with includeBindings, dropping only the prefix', () => {
    expect(scrubErrorMessage("select ? - bad 'v'", 'select ?', ['v'], true)).toBe("bad 'v'");
  });

  it('whatever the value, the scrubbed message of a Knex-style error never quotes it', () => {
    // Values that are not part of the message's own words (a value 'key' would also blank the word key).
    const template = "insert into `t` (`a`, `b`) values (, ) - Duplicate entry '-' for key 't_a_b_unique'";
    const value = fc.string({ minLength: 1, maxLength: 30 }).filter((v) => !v.includes('?') && !template.includes(v));
    fc.assert(
      fc.property(value, fc.nat(), (secret, number) => {
        const escaped = secret.replace(/'/g, "\\'");
        const message =
          `insert into \`t\` (\`a\`, \`b\`) values ('${escaped}', ${number}) - ` +
          `Duplicate entry '${secret}-${number}' for key 't_a_b_unique'`;
        const out = scrubErrorMessage(message, 'insert into `t` (`a`, `b`) values (?, ?)', [secret, number], false);
        expect(out).not.toContain('insert into');
        expect(out).not.toContain(`${secret}-`);
        // A value made of quotes can merge with the driver's own quote ('''-0' for the value ''),
        // and which quote is the value's is then undecidable: the value is still gone.
        expect(out).toMatch(/^Duplicate entry .*\?.*-\?' for key 't_a_b_unique'$/);
        // Values without quotes leave the rest of the message exactly as the driver wrote it.
        if (!secret.includes("'")) expect(out).toBe("Duplicate entry '?-?' for key 't_a_b_unique'");
      }),
    );
  });

  it('leaves messages without bindings alone', () => {
    expect(scrubErrorMessage('Defined query timeout of 50ms exceeded when running query.', 'select 1', [], false)).toBe(
      'Defined query timeout of 50ms exceeded when running query.',
    );
  });
});

describe('operationOf, tableOf, truncate, formatBindings', () => {
  it('maps Knex methods and falls back to the first keyword', () => {
    expect(operationOf('del', '')).toBe('delete');
    expect(operationOf('first', '')).toBe('select');
    expect(operationOf('counter', '')).toBe('update');
    expect(operationOf('raw', 'select 1')).toBe('raw');
    expect(operationOf(undefined, '  CREATE TABLE x')).toBe('create');
    expect(operationOf('columnInfo', 'PRAGMA table_info(`t`)')).toBe('pragma');
    expect(operationOf(undefined, '')).toBe('query');
  });

  it('reads the table Knex knows, without alias', () => {
    expect(tableOf({ _single: { table: 'users' } })).toBe('users');
    expect(tableOf({ _single: { table: 'users AS u' } })).toBe('users');
    expect(tableOf({ _single: { table: { u: 'users' } } })).toBe('users');
    expect(tableOf({ _single: { table: () => undefined } })).toBeUndefined();
    expect(tableOf({ _single: {} })).toBeUndefined();
    expect(tableOf({ _sequence: [{ method: 'createTable', args: ['accounts', () => undefined] }] })).toBe('accounts');
    expect(tableOf({ _sequence: [{ args: ['a'] }, { args: ['b'] }] })).toBeUndefined();
    expect(tableOf({})).toBeUndefined();
  });

  it('truncates to the length given, never splitting a surrogate pair', () => {
    expect(truncate('abcdef', 6)).toBe('abcdef');
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('ab😀cd', 4)).toBe('ab…');
  });

  it('formats bindings as JSON with buffers and bigints made readable', () => {
    expect(formatBindings(['a', 1, null, 2n, Buffer.from('xyz')])).toBe('["a",1,null,"2","<Buffer 3 bytes>"]');
  });
});

describe('databaseInfo', () => {
  it('reads system, database and peer from connection settings; never the password', () => {
    const pg = databaseInfo({ driverName: 'pg', connectionSettings: { host: 'db.internal', port: '6432', database: 'shop', user: 'u', password: 'pw' } }, undefined);
    expect(pg).toEqual({ system: 'postgresql', name: 'shop', remote: { service: 'postgresql', address: 'db.internal', port: 6432 } });
    const url = databaseInfo({ driverName: 'pg', connectionSettings: 'postgres://u:pw@10.0.0.5:5433/orders' }, 'orders-db');
    expect(url).toEqual({ system: 'postgresql', name: 'orders', remote: { service: 'orders-db', address: '10.0.0.5', port: 5433 } });
    expect(JSON.stringify(url)).not.toContain('pw');
    const mysql = databaseInfo({ driverName: 'mysql2', connectionSettings: { socketPath: '/tmp/mysql.sock', database: 'x' } }, undefined);
    expect(mysql).toEqual({ system: 'mysql', name: 'x', remote: { service: 'mysql' } });
    const sqlite = databaseInfo({ driverName: 'better-sqlite3', connectionSettings: { filename: '/data/app.db' } }, undefined);
    expect(sqlite).toEqual({ system: 'sqlite', name: '/data/app.db', remote: undefined });
  });
});
