/**
 * The real databases the Knex tests run against: connection configs, and a check, made once when
 * a test file loads, that the server is reachable. An unreachable PostgreSQL or MySQL skips its
 * suites with a console message, unless `CI=true`: then the suites run, and fail.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeIfService, isServiceReachable } from './service-reachable';

/** The databases the tests know. */
export type DatabaseName = 'sqlite' | 'postgresql' | 'mysql';

/** Where the network databases listen (on this machine; see the team brief). */
export const servers = {
  postgresql: { host: '127.0.0.1', port: Number(process.env.TOMOGRAPH_TEST_PG_PORT ?? 5432), user: 'postgres', database: 'test' },
  mysql: { host: '127.0.0.1', port: Number(process.env.TOMOGRAPH_TEST_MYSQL_PORT ?? 3306), user: 'root', password: '', database: 'test' },
} as const;

/** Knex configs: `client` and `connection`, plus the pool size given. */
export function knexConfig(name: DatabaseName, poolSize = 2, sqliteFile?: string): Record<string, unknown> {
  const pool = { min: 0, max: poolSize };
  switch (name) {
    case 'postgresql':
      return { client: 'pg', connection: { ...servers.postgresql }, pool };
    case 'mysql':
      return { client: 'mysql2', connection: { ...servers.mysql }, pool };
    case 'sqlite':
      return {
        client: 'better-sqlite3',
        connection: { filename: sqliteFile ?? tempSqliteFile() },
        useNullAsDefault: true,
        pool: { min: 0, max: Math.min(poolSize, 1) },
      };
  }
}

const tempFiles: string[] = [];

/** A fresh SQLite file in a temp directory of this process; removed when the process exits. */
export function tempSqliteFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tomograph-knex-'));
  const file = path.join(dir, 'test.sqlite');
  tempFiles.push(dir);
  return file;
}

process.once('exit', () => {
  for (const dir of tempFiles) fs.rmSync(dir, { recursive: true, force: true });
});

/** Whether the database's server answers a TCP connection within a second (SQLite: always). */
export function isReachable(name: DatabaseName): boolean {
  return name === 'sqlite' || isServiceReachable(servers[name]);
}

/**
 * `describe` for a suite that needs `name`: skipped with a console message when the server is not
 * reachable, except under `CI=true`, where it runs (and fails) so a missing database is never silent.
 */
export function describeDatabase(name: DatabaseName, title: string, fn: () => void): void {
  if (name === 'sqlite') {
    describe(`${title} [${name}]`, fn);
    return;
  }
  describeIfService(name, servers[name], isReachable(name), title, fn);
}

/** The databases to run a suite on, each with `describeDatabase`. */
export const allDatabases: readonly DatabaseName[] = ['sqlite', 'postgresql', 'mysql'];

/** A table name unique to this test file and process: test files run in parallel. */
export function uniqueTable(file: string, suffix = ''): string {
  return `tg_${file}_${process.pid}${suffix === '' ? '' : '_' + suffix}`.replace(/[^A-Za-z0-9_]/g, '_');
}
