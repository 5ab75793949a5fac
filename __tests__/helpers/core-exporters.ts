import type { Exporter, FinishedSpan } from '../../lib/types';
import { type Deferred, deferred } from './core-fixtures';

/** How a scripted exporter answers one `export` call. */
export type ExportBehaviour = 'ok' | 'okAsync' | 'throw' | 'reject' | 'hang';

/**
 * An exporter whose every call does what its script says: returns, resolves on the next
 * microtask, throws, rejects, or hangs until the test settles it (`settleHung`). It records each
 * batch it was handed, so tests can check sizes and that no span arrives twice.
 */
export class ScriptedExporter implements Exporter {
  readonly batches: FinishedSpan[][] = [];
  readonly hung: Deferred<void>[] = [];
  flushCalls = 0;
  shutdownCalls = 0;
  private calls = 0;

  constructor(
    private readonly script: (call: number) => ExportBehaviour = () => 'ok',
    private readonly hooks: { flush?: () => Promise<void>; shutdown?: () => Promise<void> } = {},
  ) {}

  export(spans: readonly FinishedSpan[]): void | Promise<void> {
    this.batches.push([...spans]);
    switch (this.script(this.calls++)) {
      case 'ok':
        return;
      case 'okAsync':
        return Promise.resolve();
      case 'throw':
        throw new Error('export threw');
      case 'reject':
        return Promise.reject(new Error('export rejected'));
      case 'hang': {
        const call = deferred();
        this.hung.push(call);
        return call.promise;
      }
    }
  }

  flush(): Promise<void> {
    this.flushCalls++;
    return this.hooks.flush?.() ?? Promise.resolve();
  }

  shutdown(): Promise<void> {
    this.shutdownCalls++;
    return this.hooks.shutdown?.() ?? Promise.resolve();
  }

  /** Every span id this exporter was handed, in order. */
  spanIds(): string[] {
    return this.batches.flat().map((span) => span.id);
  }

  /** Resolves the oldest call still hanging. False if none is. */
  settleHung(): boolean {
    const call = this.hung.shift();
    call?.resolve();
    return call !== undefined;
  }
}
