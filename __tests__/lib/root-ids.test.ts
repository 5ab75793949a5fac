import { sequentialIdGenerator } from '../../lib/ids';
import type { Span } from '../../lib/span';
import { testTracer } from '../helpers/core-fixtures';

// A new trace's root takes the right half of its trace id as its span id when the tracer makes
// its own ids (as Brave and B3 do for 128-bit ids); a custom generator's spanId() otherwise.
describe('root span ids', () => {
  it('a root made by trace, startSpan or start without a parent is the right half of its trace id', async () => {
    const { tracer, spans } = testTracer();
    let child: Span | undefined;
    tracer.trace('scoped', () => {
      child = tracer.startSpan('child');
      child.end();
    });
    tracer.startSpan('unscoped', { parent: null }).end();
    tracer.start('started');
    tracer.stop('started');
    const exported = await spans();
    expect(exported.map((span) => span.name).sort()).toEqual(['child', 'scoped', 'started', 'unscoped']);
    for (const span of exported) {
      expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(span.id).toMatch(/^[0-9a-f]{16}$/);
      expect(span.id).not.toBe('0000000000000000');
      if (span.name === 'child') {
        expect(span.parentId).toBe(span.traceId.slice(16));
        expect(span.id).not.toBe(span.traceId.slice(16));
      } else {
        expect(span.parentId).toBeUndefined();
        expect(span.id).toBe(span.traceId.slice(16));
      }
    }
    expect(new Set(exported.map((span) => span.traceId)).size).toBe(3);
  });

  it('an unsampled root carries the same pair of ids', () => {
    const { tracer } = testTracer({ sampler: 0 });
    const span = tracer.trace('unsampled', (s) => s);
    expect(span.recording).toBe(false);
    expect(span.id).toBe(span.traceId.slice(16));
  });

  it('a custom id generator gives every span id, roots included', async () => {
    const { tracer, spans } = testTracer({ idGenerator: sequentialIdGenerator() });
    tracer.trace('root', () => tracer.trace('child', () => undefined));
    const [child, root] = await spans();
    expect(root).toMatchObject({ name: 'root', traceId: '0'.repeat(31) + '1', id: '0'.repeat(15) + '2' });
    expect(child).toMatchObject({ name: 'child', parentId: root.id, id: '0'.repeat(15) + '3' });
  });

  it('the short path for a root without options still counts, samples and reports a throwing sampler', async () => {
    const { tracer, spans, codes } = testTracer({
      sampler: () => {
        throw new Error('sampler bug');
      },
    });
    expect(tracer.trace('root', (span) => span.recording)).toBe(false);
    expect(codes()).toContain('TOMOGRAPH_SAMPLER_FAILED');
    expect(await spans()).toHaveLength(0);
    const sampled = testTracer();
    sampled.tracer.trace('root', () => undefined);
    expect(sampled.tracer.stats()).toMatchObject({ spansStarted: 1, spansFinished: 1 });
  });
});
