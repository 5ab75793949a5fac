/**
 * Puts traces back together in the demo's main process from the spans both services send, and
 * hands each one over whole, once: when its root span has arrived and every call to another
 * demo service has that service's span under it. The services' spans travel separately (each
 * service exports on its own schedule), so either side may arrive first.
 */
import type { WireSpan } from './protocol';

/** Options of `TraceAssembler`. */
export interface TraceAssemblerOptions {
  /** Receives each trace's spans, once. */
  onTrace: (spans: WireSpan[]) => void;
  /**
   * Services whose spans this process receives: a CLIENT span whose `remote.service` is one of
   * them waits for that service's span (its child) before the trace counts as complete.
   */
  services: readonly string[];
  /** After the root arrives, the longest wait for the rest, in milliseconds. Default 2000. */
  waitMs?: number;
  /** Traces held at most; past it the oldest is handed over as it stands. Default 1000. */
  maxPending?: number;
}

interface Pending {
  spans: WireSpan[];
  timer: NodeJS.Timeout | undefined;
}

/** Collects spans by trace; see the file comment. */
export class TraceAssembler {
  private readonly pending = new Map<string, Pending>();
  private readonly services: ReadonlySet<string>;
  private readonly waitMs: number;
  private readonly maxPending: number;

  constructor(private readonly options: TraceAssemblerOptions) {
    this.services = new Set(options.services);
    this.waitMs = options.waitMs ?? 2000;
    this.maxPending = options.maxPending ?? 1000;
  }

  /** Takes a batch of spans from one service. */
  add(spans: readonly WireSpan[]): void {
    const touched = new Set<string>();
    for (const span of spans) {
      let entry = this.pending.get(span.traceId);
      if (entry === undefined) {
        entry = { spans: [], timer: undefined };
        this.pending.set(span.traceId, entry);
      }
      entry.spans.push(span);
      touched.add(span.traceId);
    }
    for (const traceId of touched) this.check(traceId);
    while (this.pending.size > this.maxPending) this.emit(this.pending.keys().next().value as string);
  }

  /** Hands over every trace still waiting, complete or not (at the end of the demo). */
  flush(): void {
    for (const traceId of [...this.pending.keys()]) this.emit(traceId);
  }

  private check(traceId: string): void {
    const entry = this.pending.get(traceId)!;
    if (!entry.spans.some((span) => span.parentId === undefined)) return;
    if (this.complete(entry.spans)) {
      this.emit(traceId);
    } else if (entry.timer === undefined) {
      // A call whose callee never answered (a network error) leaves no span there: stop waiting.
      entry.timer = setTimeout(() => this.emit(traceId), this.waitMs);
      entry.timer.unref();
    }
  }

  private complete(spans: readonly WireSpan[]): boolean {
    const parents = new Set<string>();
    for (const span of spans) if (span.parentId !== undefined) parents.add(span.parentId);
    return spans.every(
      (span) =>
        span.kind !== 'CLIENT' ||
        span.remote?.service === undefined ||
        !this.services.has(span.remote.service) ||
        parents.has(span.id),
    );
  }

  private emit(traceId: string): void {
    const entry = this.pending.get(traceId);
    if (entry === undefined) return;
    this.pending.delete(traceId);
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    this.options.onTrace(entry.spans);
  }
}
