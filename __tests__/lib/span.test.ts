import { testTracer } from '../helpers/core-fixtures';

describe('span bounds', () => {
  it('keeps at most 1000 notes and 256 tags, so a runaway loop cannot grow a span without end', async () => {
    const { tracer, spans } = testTracer();
    tracer.trace('busy', (span) => {
      for (let i = 0; i < 5000; i++) span.annotate(`note ${i}`);
      for (let i = 0; i < 1000; i++) span.tag(`key${i}`, i);
      // Existing keys still update once the bound is reached.
      span.tag('key0', 'updated');
    });
    const [busy] = await spans();
    expect(busy.notes).toHaveLength(1000);
    expect(busy.notes[999].value).toBe('note 999');
    expect(Object.keys(busy.tags)).toHaveLength(256);
    expect(busy.tags.key0).toBe('updated');
    expect(busy.tags.key256).toBeUndefined();
  });

  it('ignores annotate, tag, fail and updateName after the span ended', async () => {
    const { tracer, spans } = testTracer();
    const span = tracer.startSpan('done');
    span.tag('before', true);
    span.end();
    span.tag('after', true).annotate('late').fail(new Error('late')).updateName('renamed');
    span.end();
    const [done] = await spans();
    expect(done.name).toBe('done');
    expect(done.tags).toEqual({ before: true });
    expect(done.notes).toEqual([]);
    expect(done.error).toBeUndefined();
  });
});
