import type { Span } from '../lib/span';
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
 * Called when Knex makes a runner for `builder` (its `then()`): notes when the run began and
 * whether the pool will make it wait, and, the first time, subscribes to the builder's own
 * `start`/`query`/`query-response`/`query-error`/`error` events. The listeners are shared
 * functions (Knex calls them with the builder as `this`), so a run costs no closure.
 */
export function trackRun(t: KnexTracing, client: KnexClient, builder: unknown): void {
  if (builder === null || typeof builder !== 'object') return;
  const b = builder as KnexClient & { on?: (event: string, listener: Function) => unknown };
  let state = b[STATE] as BuilderState | undefined;
  if (state === undefined) {
    if (typeof b.on !== 'function') return;
    state = new BuilderState(t);
    b[STATE] = state;
    b.on('start', onStart);
    b.on('query', onQuery);
    b.on('query-response', onResponse);
    b.on('query-error', onQueryError);
    // Knex emits `error` on a builder only when it has listeners; ours only reads it.
    b.on('error', onRunError);
  } else {
    // Run before under an instrumentation since detached: the listeners are the same functions.
    state.t = t;
  }
  state.runAtUs = t.tracer.now();
  state.acquiredAtUs = 0;
  state.sent = false;
  state.poolWait = poolWait(client, b._connection);
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

function onResponse(this: KnexClient, _response: unknown, query: QueryObject | undefined): void {
  const state = this[STATE] as BuilderState | undefined;
  if (state === undefined) return;
  try {
    const record = state.take(query?.__knexQueryUid);
    if (record !== undefined) finishQuery(state.t, record, false, undefined, query);
  } catch (error) {
    state.t.fault(error, 'query-response');
  }
}

function onQueryError(this: KnexClient, error: unknown, query: QueryObject | undefined): void {
  const state = this[STATE] as BuilderState | undefined;
  if (state === undefined) return;
  try {
    const record = state.take(query?.__knexQueryUid);
    if (record !== undefined) finishQuery(state.t, record, true, error, query);
  } catch (fault) {
    state.t.fault(fault, 'query-error');
  }
}

/**
 * The run failed. After a statement was sent, `query-error` has handled it; before (no
 * connection within the pool's timeout, a builder that does not compile) no span exists yet,
 * so one is made for the attempt, from the run to now.
 */
function onRunError(this: KnexClient, error: unknown): void {
  const state = this[STATE] as BuilderState | undefined;
  if (state === undefined || state.sent || !state.t.on) return;
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
    const span = tracer.startSpan(operation, { kind: 'CLIENT', parent, remote: info.remote, timestamp: nowUs });
    if (span.recording) {
      span.tag('db.system', info.system);
      if (info.name !== undefined) span.tag('db.name', info.name);
      span.tag('db.operation', operation);
      const table = tableOf(builder);
      if (table !== undefined) span.tag('db.sql.table', table);
      span.tag('db.statement', truncate(sql, options.maxStatementLength));
      if (options.includeBindings) span.tag('db.bindings', truncate(formatBindings(query.bindings), options.maxStatementLength));
      if (waitUs >= 0) span.annotate('pool.acquire', { timestamp: state.runAtUs, duration: waitUs });
    }
    record = new QueryRecord(query.__knexQueryUid, span, undefined, nowUs, '');
    if (options.comment) t.expectStatement(sql, span);
  } else {
    const target = parent ?? tracer.currentSpan();
    if (target === undefined) return;
    if (waitUs >= 0) target.annotate('pool.acquire', { timestamp: state.runAtUs, duration: waitUs });
    const table = tableOf(builder);
    record = new QueryRecord(query.__knexQueryUid, undefined, target, nowUs, table === undefined ? operation : operation + ' ' + table);
    if (options.comment) t.expectStatement(sql, target);
  }
  state.add(record);
}

function finishQuery(t: KnexTracing, record: QueryRecord, failed: boolean, error: unknown, query: QueryObject | undefined): void {
  const endUs = t.tracer.now();
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
    span.tag('db.system', info.system);
    if (info.name !== undefined) span.tag('db.name', info.name);
    span.tag('db.operation', operation);
    const table = tableOf(builder);
    if (table !== undefined) span.tag('db.sql.table', table);
    if (state.poolWait !== 0) span.annotate('pool.acquire', { timestamp: state.runAtUs, duration: waitUs });
    span.fail(error);
    const code = errorCode(error);
    if (code !== undefined) span.tag('db.error_code', code);
  }
  span.end(nowUs);
}
