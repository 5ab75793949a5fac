import { codes } from '../../lib/codes';
import { testTracer } from '../helpers/core-fixtures';

describe('start/stop', () => {
  it('nests: each start is a child of the current span, each stop goes back one', async () => {
    const { tracer, spans } = testTracer();
    await tracer.trace('request', async () => {
      await new Promise((resolve) => setImmediate(resolve));
      const a = tracer.start('a');
      const b = tracer.start('b');
      expect(tracer.currentSpan()).toBe(b);
      tracer.stop('b');
      expect(tracer.currentSpan()).toBe(a);
      const c = tracer.start('c', { tags: { n: 1 }, kind: 'CLIENT' });
      expect(tracer.currentSpan()).toBe(c);
      tracer.stop(); // no name: the current one
      tracer.stop('a');
      expect(tracer.currentSpan()?.name).toBe('request');
    });
    const byName = new Map((await spans()).map((span) => [span.name, span]));
    expect([...byName.keys()].sort()).toEqual(['a', 'b', 'c', 'request']);
    expect(byName.get('a')?.parentId).toBe(byName.get('request')?.id);
    expect(byName.get('b')?.parentId).toBe(byName.get('a')?.id);
    expect(byName.get('c')?.parentId).toBe(byName.get('a')?.id);
    expect(byName.get('c')?.tags).toEqual({ n: 1 });
    expect(byName.get('c')?.kind).toBe('CLIENT');
  });

  it('stop with the wrong name is reported, not thrown, and stops nothing', async () => {
    const { tracer, spans, events } = testTracer();
    tracer.trace('outer', () => {
      const a = tracer.start('a');
      expect(() => tracer.stop('b')).not.toThrow();
      expect(tracer.currentSpan()).toBe(a);
      tracer.stop('a');
    });
    expect(events).toHaveLength(1);
    expect(events[0].code).toBe(codes.STOP_MISMATCH);
    expect(events[0].code).toBe('TOMOGRAPH_STOP_MISMATCH');
    expect(events[0].detail).toEqual({ expected: 'a', got: 'b' });
    const exported = await spans();
    expect(exported.map((span) => span.name).sort()).toEqual(['a', 'outer']);
  });

  it('stop with no span from start is reported: none current, or one from trace', () => {
    const { tracer, codes: seen } = testTracer();
    tracer.stop();
    tracer.trace('scoped', () => {
      tracer.stop('scoped'); // trace's span is not start's to stop
      expect(tracer.currentSpan()?.name).toBe('scoped');
    });
    expect(seen()).toEqual([codes.STOP_WITHOUT_START, codes.STOP_WITHOUT_START]);
  });

  it('stop restores what was current, also when start was given another parent', () => {
    const { tracer } = testTracer();
    tracer.trace('outer', (outer) => {
      tracer.start('new-root', { parent: null });
      tracer.stop('new-root');
      expect(tracer.currentSpan()).toBe(outer);
      tracer.start('remote-child', { parent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
      tracer.stop('remote-child');
      expect(tracer.currentSpan()).toBe(outer);
      const other = tracer.startSpan('other', { parent: null });
      tracer.start('child-of-other', { parent: other });
      tracer.stop('child-of-other');
      expect(tracer.currentSpan()).toBe(outer);
      other.end();
    });
  });

  it('a wrong stop in the middle leaves the stack as it was', async () => {
    const { tracer, spans, codes: seen } = testTracer();
    tracer.trace('outer', () => {
      tracer.start('a');
      tracer.start('b');
      tracer.stop('a'); // wrong: b is current
      tracer.stop('b');
      tracer.stop('a');
      tracer.stop('a'); // nothing left from start
    });
    expect(seen()).toEqual([codes.STOP_MISMATCH, codes.STOP_WITHOUT_START]);
    const byName = new Map((await spans()).map((span) => [span.name, span]));
    expect(byName.get('b')?.parentId).toBe(byName.get('a')?.id);
    expect(byName.size).toBe(3);
  });

  it('start/stop in an unsampled trace keep the stack too', () => {
    const { tracer, codes: seen } = testTracer({ sampler: 0 });
    tracer.trace('unsampled', (root) => {
      const a = tracer.start('a');
      expect(a.sampled).toBe(false);
      expect(tracer.currentSpan()).toBe(a);
      tracer.stop('a');
      expect(tracer.currentSpan()).toBe(root);
    });
    expect(seen()).toEqual([]);
  });
});

describe('annotate and tag', () => {
  it('go to the current span, with the note duration in microseconds', async () => {
    const { tracer, spans } = testTracer();
    tracer.trace('work', () => {
      tracer.annotate('cache miss');
      tracer.annotate('query', { duration: 1500.7 });
      tracer.tag('user', 'alice');
      tracer.tag('items', 3);
      tracer.tag('admin', false);
    });
    const [span] = await spans();
    expect(span.notes.map((note) => note.value)).toEqual(['cache miss', 'query']);
    expect(span.notes[1].duration).toBe(1500);
    expect(span.notes.every((note) => Number.isInteger(note.timestamp))).toBe(true);
    expect(span.tags).toEqual({ user: 'alice', items: 3, admin: false });
  });

  it('with no current span are counted no-ops that export nothing', async () => {
    const { tracer, spans, codes: seen } = testTracer();
    expect(() => tracer.annotate('orphan')).not.toThrow();
    expect(() => tracer.tag('k', 'v')).not.toThrow();
    expect(tracer.stats().noCurrentSpan).toBe(2);
    expect(seen()).toEqual([codes.NO_CURRENT_SPAN, codes.NO_CURRENT_SPAN]);
    expect(await spans()).toEqual([]);
    expect(tracer.stats().spansStarted).toBe(0);
  });

  it('after the span ended are ignored', async () => {
    const { tracer, spans } = testTracer();
    const span = tracer.startSpan('done');
    span.end();
    span.annotate('late').tag('late', true).fail(new Error('late')).updateName('renamed');
    const [exported] = await spans();
    expect(exported.name).toBe('done');
    expect(exported.notes).toEqual([]);
    expect(exported.tags).toEqual({});
    expect(exported.error).toBeUndefined();
  });
});
