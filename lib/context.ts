import { AsyncLocalStorage } from 'node:async_hooks';
import type { Span } from './span';

/** Which async-context store a tracer keeps its current span in. */
export type ContextStoreName = 'async-local-storage' | 'cls-hooked';

/**
 * Where the current span lives. The value held is immutable (a span reference); changing the
 * current span means running code under another value, never mutating the one in place.
 */
export interface ContextStore {
  readonly name: ContextStoreName;
  /** The span current in this async flow, if any. */
  active(): Span | undefined;
  /** Runs `fn` with `span` current, restoring the previous value when `fn` returns. */
  run<R>(span: Span | undefined, fn: () => R): R;
  /**
   * Makes `span` current for the rest of this synchronous run and the async work it starts,
   * without a callback: only `start`/`stop` use this. The value cannot escape an enclosing
   * `run`, which restores its own value when it returns.
   */
  enter(span: Span | undefined): void;
}

/** The default store: Node's AsyncLocalStorage. */
export function asyncLocalStorageStore(): ContextStore {
  const storage = new AsyncLocalStorage<Span | undefined>();
  return {
    name: 'async-local-storage',
    active: () => storage.getStore(),
    run: (span, fn) => storage.run(span, fn),
    enter: (span) => storage.enterWith(span),
  };
}
