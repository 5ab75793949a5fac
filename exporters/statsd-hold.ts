import type { FinishedSpan } from '../lib/types';

/**
 * Holds back spans whose local root has not ended yet, so that their StatsD names are made only
 * once the root's name is final.
 *
 * A hierarchical name holds the local root's name (`…GET_orders_id.children.select.ok`), and a
 * root may be renamed while it runs: the Express middleware learns the route only as the
 * request is routed, and any code may call `updateName`. Children end, and may leave in a batch,
 * before that. Named at once, one request's children would land under `GET.children.…` or
 * `GET_orders_id.children.…` depending on when their batch left. Held until the root ends, they
 * are always named after the root's final name.
 *
 * Bounded: at most `maxSpans` spans wait (past it the oldest root's spans go under its current
 * name), and none waits longer than `maxWaitMs` (a root open that long, a worker loop's say, is
 * not a request whose name is still to come).
 */
export class LocalRootHold {
  /** Waiting spans by their local root, oldest root first (a Map iterates in insertion order). */
  private readonly waiting = new Map<FinishedSpan, { sinceMs: number; spans: FinishedSpan[] }>();
  private size = 0;

  constructor(
    private readonly maxSpans: number,
    private readonly maxWaitMs: number,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** Spans waiting now. */
  get held(): number {
    return this.size;
  }

  /**
   * The spans to name now, in order: those that waited for a root that has since ended (or
   * waited too long), then those of `spans` whose root has ended. The rest wait.
   */
  take(spans: readonly FinishedSpan[]): readonly FinishedSpan[] {
    let ready: FinishedSpan[] | undefined;
    if (this.waiting.size > 0) ready = this.release(false);
    for (let i = 0; i < spans.length; i++) {
      const span = spans[i];
      const root = localRoot(span);
      if (root === span || isEnded(root)) {
        if (ready !== undefined) ready.push(span);
        continue;
      }
      // First span to wait in this batch: the ones before it are ready.
      if (ready === undefined) ready = spans.slice(0, i) as FinishedSpan[];
      let group = this.waiting.get(root);
      if (group === undefined) {
        group = { sinceMs: this.nowMs(), spans: [] };
        this.waiting.set(root, group);
      }
      group.spans.push(span);
      this.size++;
    }
    if (this.size > this.maxSpans) (ready ??= spans.slice() as FinishedSpan[]).push(...this.overflow());
    return ready ?? spans;
  }

  /** Every waiting span, whatever its root: for `shutdown()`, when no root will end any more. */
  drain(): FinishedSpan[] {
    return this.release(true);
  }

  /** Spans of roots that ended (or waited too long; `all`: every one), removed from the wait. */
  private release(all: boolean): FinishedSpan[] {
    const ready: FinishedSpan[] = [];
    const now = all ? 0 : this.nowMs();
    for (const [root, group] of this.waiting) {
      if (!all && !isEnded(root) && now - group.sinceMs < this.maxWaitMs) continue;
      for (const span of group.spans) ready.push(span);
      this.size -= group.spans.length;
      this.waiting.delete(root);
    }
    return ready;
  }

  /** The oldest roots' spans until the bound holds again. */
  private overflow(): FinishedSpan[] {
    const ready: FinishedSpan[] = [];
    for (const [root, group] of this.waiting) {
      if (this.size <= this.maxSpans) break;
      for (const span of group.spans) ready.push(span);
      this.size -= group.spans.length;
      this.waiting.delete(root);
    }
    return ready;
  }
}

function localRoot(span: FinishedSpan): FinishedSpan {
  let current = span;
  while (current.localParent !== undefined) current = current.localParent;
  return current;
}

/** A span still running has no duration yet (0); a finished one has at least 1 µs. */
function isEnded(span: FinishedSpan): boolean {
  return span.duration > 0;
}
