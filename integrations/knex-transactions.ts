import type { Span } from '../lib/span';
import { isThenable } from '../lib/thenable';
import { type KnexClient, type KnexTracing, errorCode } from './knex-tracing';

/** On a transaction's client (Knex makes one per transaction): that transaction's state. */
export const TRX: unique symbol = Symbol('tomograph.knex.transaction');

const MAX_ANCESTORS = 64;

/**
 * The parent for work done through `client`: when it is a transaction's client, the
 * transaction's span, unless `candidate` (the span current where the builder was made) already
 * lies inside that transaction (`trx => trace('load', () => trx('users'))`). Otherwise `candidate`.
 */
export function transactionParent(client: unknown, candidate: Span | undefined): Span | undefined {
  const state = client !== null && typeof client === 'object' ? ((client as KnexClient)[TRX] as TransactionState | undefined) : undefined;
  return state === undefined ? candidate : state.parentFor(candidate);
}

/**
 * Traces one `client.transaction(container, config, outerTx)` call (what `knex.transaction(…)`,
 * `await knex.transaction()` and `trx.transaction(…)` all come down to): a span `transaction`
 * from the moment it has a connection until it is over, a `pool.acquire` note when it waited for
 * one, `commit` or `rollback` noted, and the container run with the span current.
 */
export function traceTransaction(t: KnexTracing, client: KnexClient, original: Function, args: IArguments): unknown {
  const container = args[0];
  if (!t.on || typeof container !== 'function') return original.apply(client, args);
  let state: TransactionState;
  try {
    state = new TransactionState(t, client);
  } catch (error) {
    t.fault(error, 'transaction');
    return original.apply(client, args);
  }
  const rest = Array.prototype.slice.call(args, 1);
  const wrapped = function (this: unknown, transactor: unknown): unknown {
    return state.run(this, container as Function, transactor);
  };
  const trx = original.call(client, wrapped, ...rest);
  state.watch(trx);
  return trx;
}

/** Whether `pool` (tarn, as Knex uses it) has no idle connection: a query run now must wait. */
export function poolWait(client: KnexClient, explicitConnection: unknown): 0 | 1 | 2 {
  if (client.transacting === true || (explicitConnection !== undefined && explicitConnection !== null)) return 0;
  const pool = client.pool as { numFree?: () => number } | undefined;
  if (pool === undefined || pool === null || typeof pool.numFree !== 'function') return 2;
  return pool.numFree() === 0 ? 1 : 0;
}

/** Below this, a wait measured on a pool that cannot say whether it was busy is not noted. */
export const UNKNOWN_POOL_WAIT_US = 1000;

class TransactionState {
  /** Span mode: the transaction's span, from acquisition. */
  span: Span | undefined = undefined;
  /** Where the transaction was started (through the outer transaction, if nested). */
  readonly parent: Span | undefined;
  readonly calledAtUs: number;
  private startUs = 0;
  private waited: 0 | 1 | 2 = 0;
  private outcome: 'commit' | 'rollback' | undefined = undefined;
  private outcomeAtUs = 0;
  private ended = false;
  private unwatched = false;

  constructor(
    private readonly t: KnexTracing,
    private readonly client: KnexClient,
  ) {
    this.parent = transactionParent(client, t.tracer.currentSpan());
    this.calledAtUs = t.tracer.now();
  }

  parentFor(candidate: Span | undefined): Span | undefined {
    const own = this.span ?? this.parent;
    if (own === undefined) return candidate;
    for (let span = candidate, i = 0; span !== undefined && i < MAX_ANCESTORS; i++) {
      if (span === own) return candidate;
      span = (span as { localParent?: Span }).localParent;
    }
    return own;
  }

  /**
   * Knex's `Transaction#acquireConnection(config, cb)` gets the connection, runs BEGIN and the
   * container in `cb`, and settles when the transaction is over and the connection released:
   * it sees when the connection came, and failures that never reach the container (no
   * connection, a failed BEGIN). The span ends earlier when the container was reached: see `instrument`.
   */
  watch(trx: unknown): void {
    const target = trx as KnexClient | null;
    const original = target?.acquireConnection;
    if (typeof original !== 'function') {
      // Not a Knex we know: the span then starts with the container, and ends with it.
      this.unwatched = true;
      return;
    }
    const state = this;
    target!.acquireConnection = function (this: KnexClient, config: { connection?: unknown } | undefined, cb: Function) {
      state.waited = poolWait(state.client, config?.connection);
      const result = original.call(this, config, function (this: unknown) {
        state.acquired();
        return cb.apply(this, arguments);
      });
      if (isThenable(result)) {
        result.then(
          () => state.finish(false, undefined),
          (error: unknown) => state.finish(true, error),
        );
      }
      return result;
    };
  }

  /** Runs the container (the user's function, or Knex's `resolve`) with the transaction current. */
  run(self: unknown, container: Function, transactor: unknown): unknown {
    if (this.unwatched) this.acquired();
    try {
      this.instrument(transactor as KnexClient);
    } catch (error) {
      this.t.fault(error, 'transaction');
    }
    const span = this.span;
    if (span === undefined) return container.call(self, transactor);
    return this.t.tracer.withSpan(span, () => container.call(self, transactor));
  }

  private acquired(): void {
    if (this.ended || this.startUs !== 0) return;
    try {
      const now = this.t.tracer.now();
      this.startUs = now;
      if (this.t.options.mode === 'span') this.span = this.openSpan(now);
      const waitUs = now - this.calledAtUs;
      if (this.waited === 1 || (this.waited === 2 && waitUs >= UNKNOWN_POOL_WAIT_US)) {
        (this.span ?? this.parent)?.annotate('pool.acquire', { timestamp: this.calledAtUs, duration: waitUs });
      }
    } catch (error) {
      this.t.fault(error, 'transaction');
    }
  }

  private openSpan(timestamp: number): Span {
    const span = this.t.tracer.startSpan('transaction', { parent: this.parent, timestamp });
    if (span.recording) {
      const info = this.t.dbInfo(this.client);
      span.tag('db.system', info.system);
      if (info.name !== undefined) span.tag('db.name', info.name);
    }
    return span;
  }

  /** The transaction's own client and its commit/rollback, as Knex hands them to the container. */
  private instrument(transactor: KnexClient): void {
    if (typeof transactor !== 'function' && (transactor === null || typeof transactor !== 'object')) return;
    const trxClient = transactor.client as KnexClient | undefined;
    if (trxClient !== undefined && trxClient !== null && typeof trxClient === 'object') {
      trxClient[TRX] = this;
      this.t.patchTransactionClient(trxClient);
    }
    // Settles as the transaction ends, before the caller's `await trx.commit()` (or the
    // `await knex.transaction(fn)`) resumes, so the span ends before the code that follows it.
    const execution = transactor.executionPromise as Promise<unknown> | undefined;
    if (isThenable(execution)) {
      execution.then(
        () => this.finish(false, undefined),
        (error: unknown) => this.finish(true, error),
      );
    }
    for (const outcome of ['commit', 'rollback'] as const) {
      const original = transactor[outcome];
      if (typeof original !== 'function') continue;
      const state = this;
      transactor[outcome] = function (this: unknown) {
        if (state.outcome === undefined) {
          state.outcome = outcome;
          state.outcomeAtUs = state.t.tracer.now();
        }
        return original.apply(this, arguments);
      };
    }
  }

  private finish(failed: boolean, error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    try {
      const now = this.t.tracer.now();
      if (this.t.options.mode === 'note') {
        const value = 'transaction ' + (this.outcome ?? (failed ? 'error' : 'end'));
        const startUs = this.startUs || this.calledAtUs;
        this.parent?.annotate(value, { timestamp: startUs, duration: now - startUs });
        return;
      }
      let span = this.span;
      if (span === undefined) {
        // It never got a connection (the pool timed out): the span shows the wait that failed.
        if (!this.t.tracer.isEnabled) return;
        span = this.openSpan(this.calledAtUs);
        span.annotate('pool.acquire', { timestamp: this.calledAtUs, duration: now - this.calledAtUs });
      }
      if (this.outcome !== undefined) {
        span.annotate(this.outcome, { timestamp: this.outcomeAtUs, duration: now - this.outcomeAtUs });
      }
      if (failed) {
        // A query's error was registered with its bindings scrubbed when its span failed.
        span.fail(error);
        const code = errorCode(error);
        if (code !== undefined) span.tag('db.error_code', code);
      }
      span.end(now);
    } catch (fault) {
      this.t.fault(fault, 'transaction');
    }
  }
}
