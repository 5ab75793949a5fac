import type { Span } from '../lib/span';
import type { DatabaseInfo } from './knex-endpoint';
import { formatBindings, operationOf, tableOf, truncate } from './knex-sql';
import { type KnexClient, type KnexTracing, PARENT, errorCode } from './knex-tracing';
import { poolWait, transactionParent, UNKNOWN_POOL_WAIT_US } from './knex-transactions';

/** On a builder that has run: its `BuilderState`. */
const STATE: unique symbol = Symbol('tomograph.knex.builder');

/** The query object Knex's builder events carry (a copy of what `toSQL()` made). */
interface QueryObject {
  sql?: unknown;
  method?: unknown;
  bindings?: unknown;
  __knexQueryUid?: unknown;
}

/** One statement in flight: its span (span mode) or the span its note goes on (note mode). */
class QueryRecord {
  constructor(
    /** The instrumentation that started it (a builder may outlive a detach and run again). */
    readonly t: KnexTracing,
    readonly uid: unknown,
    readonly span: Span | undefined,
    readonly target: Span | undefined,
    readonly startUs: number,
    readonly label: string,
  ) {}
}

/**
 * What this integration keeps on a builder between Knex's events for it. A builder runs one
 * statement at a time per run (schema builders run several in sequence); the same builder awaited
 * twice at once runs twice, so statements are matched by `__knexQueryUid`.
 */
class BuilderState {
  /** When the latest run began (`then()` made its runner), epoch µs. */
  runAtUs = 0;
  /** When that run got its connection (Knex's `start` event), epoch µs; 0 before. */
  acquiredAtUs = 0;
  /** Whether the pool had no idle connection at the run: 0 no, 1 yes, 2 cannot tell. */
  poolWait: 0 | 1 | 2 = 0;
  /** Whether the latest run has sent a statement (or failed before it could). */
  sent = false;
  /** Whether `start` and `error` listeners are on the builder (added at its first busy run). */
  watchesPool = false;
  private inflight: QueryRecord | undefined = undefined;
  private more: QueryRecord[] | undefined = undefined;

  constructor(public t: KnexTracing) {}

  add(record: QueryRecord): void {
    if (this.inflight === undefined) this.inflight = record;
    else (this.more ??= []).push(record);
  }

  take(uid: unknown): QueryRecord | undefined {
    const record = this.inflight;
    if (record !== undefined && record.uid === uid) {
      this.inflight = undefined;
      return record;
    }
    const more = this.more;
    if (more === undefined) return undefined;
    const index = more.findIndex((r) => r.uid === uid);
    return index === -1 ? undefined : more.splice(index, 1)[0];
  }
}

/**
 * Called when Knex makes a runner for `builder` (its `then()`). The first time, subscribes to the
 * builder's own `query` and `query-error` events (the one place a statement and its builder meet,
 * and the only one that hears of `.timeout()`); the responses come through the client's
 * `query-response` event, which names the builder (`listenToResponses`). When the pool has no
 * idle connection, it also notes when the run began and listens for `start` (the connection
 * came) and `error` (it never did). The listeners are shared functions that Knex calls with the
 * builder as `this`: a run costs no closure.
 */
export function trackRun(t: KnexTracing, client: KnexClient, builder: unknown): void {
  if (builder === null || typeof builder !== 'object') return;
  const b = builder as KnexClient & { on: (event: string, listener: Function) => unknown };
  let state = b[STATE] as BuilderState | undefined;
  if (state === undefined) {
    if (typeof b.on !== 'function') return;
    state = new BuilderState(t);
    b[STATE] = state;
    b.on('query', onQuery);
    b.on('query-error', onQueryError);
  } else {
    // Run before under an instrumentation since detached: the listeners are the same functions.
    state.t = t;
  }
  state.sent = false;
  state.acquiredAtUs = 0;
  const wait = poolWait(client, b._connection);
  state.poolWait = wait;
  if (wait === 0) return;
  state.runAtUs = t.tracer.now();
  if (!state.watchesPool) {
    state.watchesPool = true;
    b.on('start', onStart);
    // Knex emits `error` on a builder only when it has listeners; ours only reads it.
    b.on('error', onRunError);
  }
}

/**
 * Subscribes to `client`'s `query-response` event, which Knex emits for every builder run on
 * it, on the clones `withUserParams` makes of it, and on its transactions' clients. Returns the
 * unsubscribe function.
 */
export function listenToResponses(client: KnexClient): () => void {
  const on = client.on;
  const removeListener = client.removeListener;
  if (typeof on !== 'function' || typeof removeListener !== 'function') return () => undefined;
  on.call(client, 'query-response', onResponse);
  return () => removeListener.call(client, 'query-response', onResponse);
}

function onStart(this: KnexClient): void {
  const state = this[STATE] as BuilderState | undefined;
  if (state !== undefined && state.poolWait !== 0 && !state.sent) state.acquiredAtUs = state.t.tracer.now();
}

function onQuery(this: KnexClient, query: QueryObject): void {
  const state = this[STATE] as BuilderState | undefined;
  if (state === undefined || !state.t.on) return;
  try {
    startQuery(state, this, query);
  } catch (error) {
    state.t.fault(error, 'query');
  }
}

function onResponse(_response: unknown, query: QueryObject | undefined, builder: KnexClient | undefined): void {
  settle(builder, query, false, undefined, 'query-response');
}

function onQueryError(this: KnexClient, error: unknown, query: QueryObject | undefined): void {
  settle(this, query, true, error, 'query-error');
}

/** Ends the span (or note) of the query that `event` answered, matched by its `__knexQueryUid`. */
function settle(
  builder: KnexClient | undefined,
  query: QueryObject | undefined,
  failed: boolean,
  error: unknown,
  event: string,
): void {
  const state = builder?.[STATE] as BuilderState | undefined;
  if (state === undefined) return;
  try {
    const record = state.take(query?.__knexQueryUid);
    if (record !== undefined) finishQuery(record, failed, error, query);
  } catch (fault) {
    state.t.fault(fault, event);
  }
}

/**
 * A run that found the pool busy failed. After a statement was sent, `query-error` has handled
 * it; before (no connection within the pool's timeout) no span exists yet, so one is made for
 * the attempt, from the run to now.
 */
function onRunError(this: KnexClient, error: unknown): void {
  const state = this[STATE] as BuilderState | undefined;
  if (state === undefined || state.sent || state.poolWait === 0 || !state.t.on) return;
  state.sent = true;
  try {
    failedBeforeSending(state, this, error);
  } catch (fault) {
    state.t.fault(fault, 'error');
  }
}

function startQuery(state: BuilderState, builder: KnexClient, query: QueryObject): void {
  const t = state.t;
  const tracer = t.tracer;
  const options = t.options;
  const sql = typeof query.sql === 'string' ? query.sql : '';
  const operation = operationOf(query.method, sql);
  const client = builder.client as KnexClient;
  const parent = transactionParent(client, builder[PARENT] as Span | undefined);
  const nowUs = tracer.now();
  let waitUs = -1;
  if (!state.sent) {
    state.sent = true;
    if (state.poolWait !== 0) {
      const wait = (state.acquiredAtUs || nowUs) - state.runAtUs;
      if (state.poolWait === 1 || wait >= UNKNOWN_POOL_WAIT_US) waitUs = wait;
    }
  }
  let record: QueryRecord;
  if (options.mode === 'span') {
    const info = t.dbInfo(client);
    // parent undefined: none was current when the builder was made; the tracer then takes the
    // span current now (and makes nothing where exporting suppressed tracing).
    const spanOptions = t.spanOptions;
    spanOptions.parent = parent;
    spanOptions.remote = info.remote;
    spanOptions.timestamp = nowUs;
    const span = tracer.startSpan(operation, spanOptions);
    spanOptions.parent = undefined;
    if (span.recording) {
      tagQuery(span, info, operation, builder);
      span.tag('db.statement', truncate(sql, options.maxStatementLength));
      if (options.includeBindings) span.tag('db.bindings', truncate(formatBindings(query.bindings), options.maxStatementLength));
      if (waitUs >= 0) span.annotate('pool.acquire', { timestamp: state.runAtUs, duration: waitUs });
    }
    record = new QueryRecord(t, query.__knexQueryUid, span, undefined, nowUs, '');
    if (options.comment) t.expectStatement(sql, span);
  } else {
    const target = parent ?? tracer.currentSpan();
    if (target === undefined) {
      if (options.comment) t.expectStatement(sql, undefined);
      return;
    }
    if (waitUs >= 0) target.annotate('pool.acquire', { timestamp: state.runAtUs, duration: waitUs });
    const table = tableOf(builder);
    record = new QueryRecord(t, query.__knexQueryUid, undefined, target, nowUs, table === undefined ? operation : operation + ' ' + table);
    if (options.comment) t.expectStatement(sql, target);
  }
  state.add(record);
  t.inflight++;
}

function finishQuery(record: QueryRecord, failed: boolean, error: unknown, query: QueryObject | undefined): void {
  const t = record.t;
  const endUs = t.tracer.now();
  if (--t.inflight === 0 && !t.active) t.idle();
  // Registered even when nothing here records it: the same error may fail the request's span.
  if (failed) t.exportedError(error, query?.sql, query?.bindings);
  const span = record.span;
  if (span !== undefined) {
    if (failed && span.recording) {
      span.fail(error);
      const code = errorCode(error);
      if (code !== undefined) span.tag('db.error_code', code);
    }
    span.end(endUs);
  } else {
    record.target?.annotate(failed ? record.label + ' error' : record.label, {
      timestamp: record.startUs,
      duration: endUs - record.startUs,
    });
  }
}

function failedBeforeSending(state: BuilderState, builder: KnexClient, error: unknown): void {
  const t = state.t;
  const client = builder.client as KnexClient;
  const operation = typeof builder._method === 'string'
    ? operationOf(builder._method, '')
    : builder.isRawInstance === true ? 'raw' : 'query';
  const parent = transactionParent(client, builder[PARENT] as Span | undefined);
  const nowUs = t.tracer.now();
  const waitUs = nowUs - state.runAtUs;
  t.exportedError(error, '', undefined);
  if (t.options.mode === 'note') {
    parent?.annotate(operation + ' error', { timestamp: state.runAtUs, duration: waitUs });
    return;
  }
  const info = t.dbInfo(client);
  const span = t.tracer.startSpan(operation, { kind: 'CLIENT', parent, remote: info.remote, timestamp: state.runAtUs });
  if (span.recording) {
    tagQuery(span, info, operation, builder);
    if (state.poolWait !== 0) span.annotate('pool.acquire', { timestamp: state.runAtUs, duration: waitUs });
    span.fail(error);
    const code = errorCode(error);
    if (code !== undefined) span.tag('db.error_code', code);
  }
  span.end(nowUs);
}

/** The tags every query span carries, succeeded or failed. */
function tagQuery(span: Span, info: DatabaseInfo, operation: string, builder: Parameters<typeof tableOf>[0]): void {
  span.tag('db.system', info.system);
  if (info.name !== undefined) span.tag('db.name', info.name);
  span.tag('db.operation', operation);
  const table = tableOf(builder);
  if (table !== undefined) span.tag('db.sql.table', table);
}
