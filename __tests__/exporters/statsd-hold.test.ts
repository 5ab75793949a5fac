import { LocalRootHold } from '../../exporters/statsd-hold';
import type { FinishedSpan } from '../../lib/types';

/** A span as the tracer makes it: duration 0 while open, localParent to the span current at start. */
function span(name: string, localParent?: FinishedSpan): FinishedSpan & { duration: number } {
  return {
    traceId: 'a'.repeat(32), id: name.padStart(16, '0').slice(-16), name, service: 's', timestamp: 1, duration: 0, notes: [],
    tags: {}, sampled: true, localParent,
  };
}

describe('LocalRootHold', () => {
  it('passes roots and spans of ended roots straight through, without copying the batch', () => {
    const hold = new LocalRootHold(10, 1000);
    const root = span('root');
    root.duration = 5;
    const batch = [span('child', root), root];
    expect(hold.take(batch)).toBe(batch);
    expect(hold.held).toBe(0);
  });

  it('holds spans of an open root until it ends, then releases them before the new batch', () => {
    const hold = new LocalRootHold(10, 1000);
    const root = span('root');
    const child = span('child', root);
    const grandchild = span('grandchild', child);
    expect(hold.take([grandchild, child])).toEqual([]);
    expect(hold.held).toBe(2);
    root.duration = 7;
    expect(hold.take([root]).map((s) => s.name)).toEqual(['grandchild', 'child', 'root']);
    expect(hold.held).toBe(0);
  });

  it('is bounded: past maxSpans the oldest root goes as it is; past maxWaitMs too; drain() gives the rest', () => {
    let now = 0;
    const hold = new LocalRootHold(2, 1000, () => now);
    const a = span('a');
    const b = span('b');
    expect(hold.take([span('a1', a), span('a2', a)])).toEqual([]);
    expect(hold.take([span('b1', b)]).map((s) => s.name)).toEqual(['a1', 'a2']);
    expect(hold.held).toBe(1);
    now = 1000;
    expect(hold.take([]).map((s) => s.name)).toEqual(['b1']);
    expect(hold.take([span('b2', b)])).toEqual([]);
    expect(hold.drain().map((s) => s.name)).toEqual(['b2']);
    expect(hold.held).toBe(0);
  });
});
