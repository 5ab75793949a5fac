/**
 * `trace()` makes a child of the current recording span without options on a short path
 * (`Tracer.localChild`); it must give the very span the general path gives, in the cases where
 * the parent's shared `SpanOrigin` does not fit the child.
 */
import { CARRIED_RANDOM } from '../../lib/carried';
import { MemoryExporter } from '../../lib/memory-exporter';
import { carriedOf, hasCheckedIds } from '../../lib/span';
import { sequentialIdGenerator } from '../../lib/ids';
import { Tracer } from '../../lib/tracer';

describe('a child of the current recording span, without options', () => {
  it('takes the parent ids, trace, random flag and checked ids, and goes to this tracer', async () => {
    const memory = new MemoryExporter();
    const tracer = new Tracer({ serviceName: 'svc', exporters: [memory], onDiagnostic() {} });
    tracer.trace('parent', (parent) => {
      tracer.trace('child', (child) => {
        expect(child.traceId).toBe(parent.traceId);
        expect(child.parentId).toBe(parent.id);
        expect(child.id).not.toBe(parent.id);
        expect(hasCheckedIds(child)).toBe(true);
        expect(carriedOf(child)).toBe(CARRIED_RANDOM);
        expect((child as unknown as { localParent: unknown }).localParent).toBe(parent);
      });
    });
    await tracer.flush();
    expect(memory.spans.map((span) => [span.name, span.service])).toEqual([['child', 'svc'], ['parent', 'svc']]);
    await tracer.shutdown();
  });

  it("made current in another tracer (withSpan), ends in that other tracer's queue", async () => {
    const memoryA = new MemoryExporter();
    const memoryB = new MemoryExporter();
    const a = new Tracer({ serviceName: 'a', exporters: [memoryA], onDiagnostic() {} });
    const b = new Tracer({ serviceName: 'b', exporters: [memoryB], onDiagnostic() {} });
    const parent = a.startSpan('from a');
    b.withSpan(parent, () => b.trace('in b', () => undefined));
    parent.end();
    await a.flush();
    await b.flush();
    expect(memoryA.spans.map((span) => span.name)).toEqual(['from a']);
    expect(memoryB.spans.map((span) => [span.name, span.service, span.parentId])).toEqual([['in b', 'b', parent.id]]);
    expect(b.stats().spansFinished).toBe(1);
    await a.shutdown();
    await b.shutdown();
  });

  it('after a configure() with a custom id generator, its ids are no longer taken as checked', async () => {
    const memory = new MemoryExporter();
    const tracer = new Tracer({ serviceName: 'svc', exporters: [memory], onDiagnostic() {} });
    await tracer.trace('parent', async (parent) => {
      expect(hasCheckedIds(parent)).toBe(true);
      tracer.configure({ serviceName: 'svc', exporters: [memory], idGenerator: sequentialIdGenerator(), onDiagnostic() {} });
      tracer.trace('child', (child) => {
        expect(child.parentId).toBe(parent.id);
        expect(hasCheckedIds(child)).toBe(false);
      });
    });
    await tracer.flush();
    expect(memory.spans.map((span) => span.name)).toContain('child');
    await tracer.shutdown();
  });
});
