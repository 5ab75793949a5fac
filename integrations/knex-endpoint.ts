import type { Endpoint } from '../lib/types';

/** What a Knex client says about its database, as spans record it. */
export interface DatabaseInfo {
  /** `db.system`: `postgresql`, `mysql`, `sqlite`, … */
  readonly system: string;
  /** `db.name`: the database, or the SQLite file. */
  readonly name: string | undefined;
  /** The peer of a network database (absent for SQLite), shared by every span: never mutated. */
  readonly remote: Readonly<Endpoint> | undefined;
}

/** Knex dialect or driver names → `db.system`, as OpenTelemetry names them. */
const SYSTEMS: Readonly<Record<string, string>> = {
  postgresql: 'postgresql',
  postgres: 'postgresql',
  pg: 'postgresql',
  pgnative: 'postgresql',
  'pg-native': 'postgresql',
  redshift: 'redshift',
  'pg-redshift': 'redshift',
  cockroachdb: 'cockroachdb',
  mysql: 'mysql',
  mysql2: 'mysql',
  mariadb: 'mariadb',
  sqlite3: 'sqlite',
  sqlite: 'sqlite',
  'better-sqlite3': 'sqlite',
  mssql: 'mssql',
  oracle: 'oracle',
  oracledb: 'oracle',
};

const EMBEDDED = new Set(['sqlite']);

/**
 * Reads `db.system`, `db.name` and the peer from a Knex client: its `driverName`/`dialect` and
 * its `connectionSettings` (an object, or a connection string such as `postgres://host/db`).
 * Never the user or password. `remoteService` names the peer (default: the system).
 */
export function databaseInfo(client: Record<string, unknown>, remoteService: string | undefined): DatabaseInfo {
  const system = systemOf(client);
  const settings = settingsOf(client.connectionSettings);
  const name = firstString(settings.database, settings.db, settings.filename);
  let remote: Endpoint | undefined;
  if (!EMBEDDED.has(system)) {
    remote = { service: remoteService ?? system };
    const host = firstString(settings.host, settings.server);
    if (host !== undefined) remote.address = host;
    const port = Number(settings.port);
    if (Number.isInteger(port) && port > 0 && port < 65536) remote.port = port;
    Object.freeze(remote);
  }
  return Object.freeze({ system, name, remote });
}

function systemOf(client: Record<string, unknown>): string {
  const config = client.config as { client?: unknown } | undefined;
  for (const candidate of [client.driverName, client.dialect, config?.client]) {
    if (typeof candidate === 'string') {
      const system = SYSTEMS[candidate.toLowerCase()];
      if (system !== undefined) return system;
    }
  }
  const named = firstString(client.dialect, client.driverName, config?.client);
  return named === undefined ? 'other_sql' : named.toLowerCase();
}

/** Connection settings as a flat record; connection strings (and `connectionString`) parsed. */
function settingsOf(settings: unknown): Record<string, unknown> {
  if (typeof settings === 'string') return parseUrl(settings);
  if (settings === null || typeof settings !== 'object') return {};
  const record = settings as Record<string, unknown>;
  if (typeof record.connectionString === 'string') return { ...parseUrl(record.connectionString), ...definedOnly(record) };
  return record;
}

function parseUrl(text: string): Record<string, unknown> {
  try {
    const url = new URL(text);
    return {
      host: url.hostname.replace(/^\[|\]$/g, '') || undefined,
      port: url.port === '' ? undefined : Number(url.port),
      database: decodeURIComponent(url.pathname.replace(/^\//, '')) || undefined,
    };
  } catch {
    return {};
  }
}

function definedOnly(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ['host', 'port', 'database']) if (record[key] !== undefined) out[key] = record[key];
  return out;
}

function firstString(...values: unknown[]): string | undefined {
  for (const value of values) if (typeof value === 'string' && value !== '') return value;
  return undefined;
}
