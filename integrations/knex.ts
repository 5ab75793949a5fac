import { defaultTracer } from '../lib/api';
import { codes } from '../lib/codes';
import { describeValue, invalidOption } from '../lib/options';
import type { Tracer } from '../lib/tracer';
import { listenToResponses, trackRun } from './knex-queries';
import { appendComment } from './knex-sql';
import { type KnexClient, KnexTracing, PARENT, type ResolvedKnexOptions } from './knex-tracing';
import { traceTransaction } from './knex-transactions';

/** Options for `instrumentKnex`. */
export interface KnexInstrumentationOptions {
  /** The tracer that records the queries. Default: the default tracer (`configure`). */
  tracer?: Tracer;
  /**
   * `'span'` (default): a CLIENT span per query, and a span `transaction` per transaction.
   * `'note'`: no spans; each query is a note on the current span, valued `<operation> <table>`
   * (`select users`; `raw` for raw SQL; `… error` when it failed), with its duration, as the
   * Python tomograph did with `db_trace_as_spans = False`. Statements are not recorded then.
   */
  mode?: 'span' | 'note';
  /** Records the binding values as the tag `db.bindings`. Default false: values appear nowhere. */
  includeBindings?: boolean;
  /** Longest `db.statement` (and `db.bindings`, and error message), in characters. Default 2048. */
  maxStatementLength?: number;
  /**
   * Appends the query's trace token to each statement as a sqlcommenter comment,
   * `/*traceparent='00-…-…-01'*\/`, so slow-query logs and `pg_stat_activity` join to the trace.
   * Default false.
   */
  comment?: boolean;
  /** The `remote.service` of query spans. Default: `db.system` (`postgresql`, `mysql`). */
  remoteService?: string;
}

/** A Knex instance (what `knex(config)` returns), Knex 2 or 3. */
export interface KnexInstance {
  client: unknown;
}

const KNOWN_OPTIONS = new Set(['tracer', 'mode', 'includeBindings', 'maxStatementLength', 'comment', 'remoteService']);
/** On an instrumented client: its `KnexTracing`. */
const INSTRUMENTED: unique symbol = Symbol('tomograph.knex');
/** On our wrapper functions (which `withUserParams` copies onto clones): the `KnexTracing` behind them. */
const WRAPPED: unique symbol = Symbol('tomograph.knex.wrapper');
const FACTORIES = ['queryBuilder', 'raw', 'schemaBuilder'] as const;

interface Patch {
  key: string;
  hadOwn: boolean;
  previous: unknown;
  wrapper: Function;
}

/**
 * Traces the queries of one Knex instance (Knex 2 or 3; PostgreSQL, MySQL/MariaDB, SQLite): a
 * CLIENT span per query, a `transaction` span around each transaction, or notes with
 * `mode: 'note'`. The parent of a query is the span current where its builder was made (Knex
 * builders are thenables that may be awaited elsewhere); a query's span starts when it is sent,
 * and time spent waiting for a pooled connection is a `pool.acquire` note on it.
 *
 * Patches only this instance's client (and the clients Knex makes for its transactions and for
 * `withUserParams` clones made afterwards), never a prototype. Returns `detach()`, which undoes
 * the patches: queries running then still finish their spans; later ones are not traced.
 * Throws a TypeError (code `TOMOGRAPH_ERR_INVALID_OPTION`) on a wrong argument; never after.
 */
export function instrumentKnex(knex: KnexInstance, options: KnexInstrumentationOptions = {}): () => void {
  const client = clientOf(knex);
  const { tracer, resolved } = resolveOptions(options);
  const existing = (client[INSTRUMENTED] ?? (client.queryBuilder as { [WRAPPED]?: KnexTracing })[WRAPPED]) as
    | KnexTracing
    | undefined;
  if (existing !== undefined && existing.active) {
    tracer.report(codes.INTEGRATION_ERROR, 'tomograph: instrumentKnex() called on a knex instance already instrumented; nothing done');
    return () => undefined;
  }

  const t = new KnexTracing(tracer, resolved);
  t.patchTransactionClient = (trxClient) => patchClient(t, trxClient, undefined);
  const patches: Patch[] = [];
  patchClient(t, client, patches);
  const stopListening = listenToResponses(client);
  client[INSTRUMENTED] = t;

  return function detach(): void {
    if (!t.active) return;
    // The response listener stays until statements already sent are answered, so their spans
    // end. Clones made by withUserParams keep their copy of it: it finishes what they started.
    t.detach(stopListening);
    for (const patch of patches.reverse()) {
      // Someone wrapped it after us: leave theirs in place; ours now passes straight through.
      if (client[patch.key] !== patch.wrapper) continue;
      if (patch.hadOwn) client[patch.key] = patch.previous;
      else delete client[patch.key];
    }
    if (client[INSTRUMENTED] === t) delete client[INSTRUMENTED];
  };
}

/**
 * Wraps, on `client` itself: the builder factories (to record the current span on each builder
 * made), `runner` (a builder's `then()`: when its run began), `transaction`, and with
 * `comment: true`, `query` (the one place the statement can still be changed before it is sent).
 */
function patchClient(t: KnexTracing, client: KnexClient, patches: Patch[] | undefined): void {
  for (const key of FACTORIES) {
    wrap(t, client, key, patches, (previous) =>
      function (this: unknown) {
        const made = previous.apply(this, arguments);
        if (t.on) capture(t, made);
        return made;
      },
    );
  }
  wrap(t, client, 'runner', patches, (previous) =>
    function (this: KnexClient, builder: unknown) {
      const runner = previous.apply(this, arguments);
      if (t.on) {
        try {
          trackRun(t, this, builder);
        } catch (error) {
          t.fault(error, 'runner');
        }
      }
      return runner;
    },
  );
  wrap(t, client, 'transaction', patches, (previous) =>
    function (this: KnexClient) {
      return traceTransaction(t, this, previous, arguments);
    },
  );
  if (t.options.comment) {
    wrap(t, client, 'query', patches, (previous) =>
      function (this: unknown, _connection: unknown, query: unknown) {
        if (t.on) addComment(t, query);
        return previous.apply(this, arguments);
      },
    );
  }
}

function wrap(
  t: KnexTracing,
  client: KnexClient,
  key: string,
  patches: Patch[] | undefined,
  make: (previous: Function) => Function,
): void {
  const previous = client[key];
  if (typeof previous !== 'function') return;
  const wrapper = make(previous);
  (wrapper as { [WRAPPED]?: KnexTracing })[WRAPPED] = t;
  patches?.push({ key, hadOwn: Object.prototype.hasOwnProperty.call(client, key), previous, wrapper });
  client[key] = wrapper;
}

function capture(t: KnexTracing, made: unknown): void {
  try {
    const span = t.tracer.currentSpan();
    if (span !== undefined && made !== null && typeof made === 'object') (made as KnexClient)[PARENT] = span;
  } catch (error) {
    t.fault(error, 'builder');
  }
}

function addComment(t: KnexTracing, query: unknown): void {
  try {
    if (query === null || typeof query !== 'object') return;
    const q = query as { sql?: unknown };
    if (typeof q.sql !== 'string') return;
    const comment = t.takeComment(q.sql);
    if (comment !== '') q.sql = appendComment(q.sql, comment);
  } catch (error) {
    t.fault(error, 'comment');
  }
}

function clientOf(knex: KnexInstance): KnexClient {
  const client = (knex as { client?: unknown } | null | undefined)?.client as KnexClient | undefined;
  if (
    (typeof knex !== 'function' && (knex === null || typeof knex !== 'object')) ||
    client === undefined || client === null || typeof client !== 'object' ||
    typeof client.queryBuilder !== 'function' || typeof client.runner !== 'function'
  ) {
    throw invalidOption('instrumentKnex() takes a Knex instance, the function that knex(config) returns');
  }
  return client;
}

function resolveOptions(options: KnexInstrumentationOptions): { tracer: Tracer; resolved: ResolvedKnexOptions } {
  if (options === null || typeof options !== 'object') throw invalidOption('instrumentKnex() options must be an object');
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw invalidOption(`instrumentKnex(): unknown option "${key}"`);
  }
  const tracer = options.tracer ?? defaultTracer;
  if (tracer === null || typeof tracer !== 'object' || typeof tracer.startSpan !== 'function' || typeof tracer.now !== 'function') {
    throw invalidOption('instrumentKnex(): tracer must be a Tracer');
  }
  const mode = options.mode ?? 'span';
  if (mode !== 'span' && mode !== 'note') throw invalidOption(`instrumentKnex(): mode must be 'span' or 'note', not ${JSON.stringify(mode)}`);
  const maxStatementLength = options.maxStatementLength ?? 2048;
  if (!Number.isInteger(maxStatementLength) || maxStatementLength < 1) {
    throw invalidOption(`instrumentKnex(): maxStatementLength must be a positive integer, not ${describeValue(maxStatementLength)}`);
  }
  for (const key of ['includeBindings', 'comment'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') throw invalidOption(`instrumentKnex(): ${key} must be a boolean`);
  }
  const remoteService = options.remoteService;
  if (remoteService !== undefined && (typeof remoteService !== 'string' || remoteService.trim() === '')) {
    throw invalidOption('instrumentKnex(): remoteService must be a non-empty string');
  }
  return {
    tracer,
    resolved: {
      mode,
      includeBindings: options.includeBindings ?? false,
      maxStatementLength,
      comment: options.comment ?? false,
      remoteService,
    },
  };
}
