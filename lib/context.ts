import { AsyncLocalStorage } from 'node:async_hooks';
import type { BaggageScope } from './carried';
import type { Span } from './span';

/** Which async-context store a tracer keeps its current span in. */
export type ContextStoreName = 'async-local-storage' | 'cls-hooked';

/**
 * What a store holds: the current span, or (inside `withBaggage`) the current span under other
 * baggage.
 */
export type ContextValue = Span | BaggageScope;

/**
 * Where the current span lives. The value held is immutable (a span reference); changing the
 * current span means running code under another value, never mutating the one in place.
 */
export interface ContextStore {
  readonly name: ContextStoreName;
  /** The span current in this async flow, if any. */
  active(): ContextValue | undefined;
  /** Runs `fn` with `span` current, restoring the previous value when `fn` returns. */
  run<R>(span: ContextValue | undefined, fn: () => R): R;
  /**
   * Makes `span` current for the rest of this synchronous run and the async work it starts,
   * without a callback: only `start`/`stop` use this. The value cannot escape an enclosing
   * `run`, which restores its own value when it returns.
   */
  enter(span: ContextValue | undefined): void;
  /**
   * `run` for a caller that has just read `active()` as `previous`: makes `value` current, calls
   * `fn(a, b)`, then makes `previous` current again. AsyncLocalStorage's own `run` reads the
   * current value twice more (a megamorphic symbol lookup each) and takes a closure: a quarter
   * of what a scoped span costs. Optional: without it, the tracer uses `run`.
   */
  runFrom?<A, B, R>(previous: ContextValue | undefined, value: ContextValue | undefined, fn: (a: A, b: B) => R, a: A, b: B): R;
}

/** The default store: Node's AsyncLocalStorage. */
export function asyncLocalStorageStore(): ContextStore {
  const storage = new AsyncLocalStorage<ContextValue | undefined>();
  return {
    name: 'async-local-storage',
    active: () => storage.getStore(),
    run: (span, fn) => storage.run(span, fn),
    enter: (span) => storage.enterWith(span),
    runFrom(previous, value, fn, a, b) {
      storage.enterWith(value);
      try {
        return fn(a, b);
      } finally {
        storage.enterWith(previous);
      }
    },
  };
}
