import { ManualClock } from '../../lib/clock';
import { MemoryExporter } from '../../lib/memory-exporter';
import { Tracer } from '../../lib/tracer';

function setup(memory: MemoryExporter) {
  const clock = new ManualClock();
  const tracer = new Tracer({ exporters: [memory], scheduledDelayMs: 0, clock });
  return { tracer, clock };
}

describe('MemoryExporter', () => {
  it('keeps at most maxSpans, dropping the oldest first', async () => {
    const memory = new MemoryExporter({ maxSpans: 5 });
    const { tracer } = setup(memory);
    for (let i = 0; i < 12; i++) tracer.trace(`s${i}`, () => undefined);
    await tracer.flush();
    expect(memory.spans.map((span) => span.name)).toEqual(['s7', 's8', 's9', 's10', 's11']);
    // The exporter's own bound is not a pipeline drop: the queue exported all 12.
    expect(tracer.stats().spansExported).toBe(12);
  });

  it('bounds a single batch larger than maxSpans too', () => {
    const memory = new MemoryExporter({ maxSpans: 2 });
    const spans = ['a', 'b', 'c'].map((name) => ({ name }) as never);
    memory.export(spans);
    expect(memory.spans.map((span) => span.name)).toEqual(['b', 'c']);
  });

  it('defaults to 10,000 spans', () => {
    const memory = new MemoryExporter();
    memory.export(Array.from({ length: 10_005 }, (_, i) => ({ name: `s${i}` }) as never));
    expect(memory.spans).toHaveLength(10_000);
    expect(memory.spans[0].name).toBe('s5');
  });

  it('finds a trace in start order, a span by name, and resets', async () => {
    const memory = new MemoryExporter();
    const { tracer, clock } = setup(memory);
    let traceId = '';
    tracer.trace('root', (root) => {
      traceId = root.traceId;
      const late = tracer.startSpan('second', { timestamp: clock.nowUs() + 10 });
      const early = tracer.startSpan('first', { timestamp: clock.nowUs() + 5 });
      late.end(clock.nowUs() + 20);
      early.end(clock.nowUs() + 20);
    });
    tracer.trace('other trace', () => undefined);
    await tracer.flush();
    expect(memory.trace(traceId).map((span) => span.name)).toEqual(['root', 'first', 'second']);
    expect(memory.find('other trace')?.traceId).not.toBe(traceId);
    expect(memory.find('missing')).toBeUndefined();
    memory.reset();
    expect(memory.spans).toEqual([]);
  });
});
