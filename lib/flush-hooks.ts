/**
 * What the core's `flush()` and `shutdown()` also settle: parts loaded separately (the metrics
 * registry's export loop) add themselves here, so the core never loads them.
 */
export interface FlushHook {
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

const hooks = new Set<FlushHook>();

/** Adds a hook (idempotent). */
export function addFlushHook(hook: FlushHook): void {
  hooks.add(hook);
}

/** Removes a hook. */
export function removeFlushHook(hook: FlushHook): void {
  hooks.delete(hook);
}

/** Runs every hook's `flush` or `shutdown`; resolves when all settled, never rejects. */
export function runFlushHooks(method: 'flush' | 'shutdown'): Promise<void> {
  if (hooks.size === 0) return Promise.resolve();
  return Promise.allSettled([...hooks].map((hook) => hook[method]())).then(() => undefined);
}
