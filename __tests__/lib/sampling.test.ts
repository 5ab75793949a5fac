import { ManualClock } from '../../lib/clock';
import { codes } from '../../lib/codes';
import type { Span } from '../../lib/span';
import { testTracer } from '../helpers/core-fixtures';

const SAMPLED = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const UNSAMPLED = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';

/** A random source that returns `values` in turn. */
function sequence(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length];
}

describe('root sampling', () => {
  it('ratio 1 samples every root', async () => {
    const { tracer, spans } = testTracer({ sampler: 1, random: () => 0.999999 });
    for (let i = 0; i < 20; i++) tracer.trace(`r${i}`, () => undefined);
    expect(await spans()).toHaveLength(20);
  });

  it('ratio 0 samples none, and unsampled traces still carry context', async () => {
    const { tracer, spans } = testTracer({ sampler: 0, random: () => 0, propagation: ['x-trace-info', 'traceparent', 'b3', 'b3-multi'] });
    let info: string | undefined;
    let childInfo: string | undefined;
    let headers: Record<string, string> = {};
    tracer.trace('root', (root) => {
      expect(root.sampled).toBe(false);
      expect(root.recording).toBe(false);
      expect(root.traceId).toMatch(/^[0-9a-f]{32}$/);
      info = tracer.getTraceInfo();
      headers = tracer.inject({});
      tracer.trace('child', (child) => {
        expect(child.sampled).toBe(false);
        childInfo = tracer.getTraceInfo();
      });
      tracer.annotate('ignored');
    });
    expect(info).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-02$/);
    expect(childInfo?.slice(3, 35)).toBe(info?.slice(3, 35));
    expect(childInfo?.endsWith('-02')).toBe(true);
    const [, traceId, spanId] = (info as string).split('-');
    expect(headers).toEqual({
      'x-trace-info': info,
      traceparent: info,
      b3: `${traceId}-${spanId}-0`,
      'x-b3-traceid': traceId,
      'x-b3-spanid': spanId,
      'x-b3-sampled': '0',
    });
    expect(await spans()).toEqual([]);
    const stats = tracer.stats();
    expect(stats.spansStarted).toBe(0);
    expect(stats.spansFinished).toBe(0);
    expect(stats.noCurrentSpan).toBe(0); // an unsampled span is still a current span
  });

  it('ratio 0.5 samples exactly where the injected random is below it', async () => {
    const { tracer, spans } = testTracer({ sampler: 0.5, random: sequence([0.1, 0.7, 0.49999, 0.5, 0]) });
    const sampled = ['a', 'b', 'c', 'd', 'e'].map((name) => tracer.trace(name, (span) => span.sampled));
    expect(sampled).toEqual([true, false, true, false, true]);
    expect((await spans()).map((span) => span.name)).toEqual(['a', 'c', 'e']);
  });

  it('a function sampler decides by name, for roots only', async () => {
    const asked: string[] = [];
    const sampler = (name: string): boolean => {
      asked.push(name);
      return name.startsWith('keep');
    };
    const { tracer, spans } = testTracer({ sampler });
    tracer.trace('keep me', () => tracer.trace('child of kept', () => undefined));
    tracer.trace('drop me', () => tracer.trace('child of dropped', () => undefined));
    expect(asked).toEqual(['keep me', 'drop me']);
    expect((await spans()).map((span) => span.name).sort()).toEqual(['child of kept', 'keep me']);
  });

  it('a sampler that throws is reported; the trace is unsampled and the app goes on', async () => {
    const failure = new Error('sampler bug');
    const { tracer, spans, events } = testTracer({ sampler: () => { throw failure; } });
    expect(tracer.trace('work', (span) => span.sampled)).toBe(false);
    expect(events).toHaveLength(1);
    expect(events[0].code).toBe(codes.SAMPLER_FAILED);
    expect(events[0].detail).toBe(failure);
    expect(await spans()).toEqual([]);
  });
});

describe('parent-based sampling', () => {
  it('a sampled incoming token is recorded even when roots are sampled at 0', async () => {
    const { tracer, spans } = testTracer({ sampler: 0 });
    tracer.trace('server', () => tracer.trace('inner', () => undefined), { parent: tracer.extract({ 'x-trace-info': SAMPLED }) });
    const exported = await spans();
    expect(exported.map((span) => span.name).sort()).toEqual(['inner', 'server']);
    expect(exported.every((span) => span.traceId === '0af7651916cd43dd8448eb211c80319c')).toBe(true);
    expect(exported.find((span) => span.name === 'server')?.parentId).toBe('b7ad6b7169203331');
  });

  it('an unsampled incoming token is never recorded even when roots are sampled at 1', async () => {
    const { tracer, spans } = testTracer({ sampler: 1 });
    let child: Span | undefined;
    let headers: Record<string, string> = {};
    tracer.trace('server', () => {
      child = tracer.startSpan('outgoing', { kind: 'CLIENT' });
      headers = tracer.inject({}, child);
      child.end();
    }, { parent: tracer.extract({ traceparent: UNSAMPLED }) });
    expect(child?.sampled).toBe(false);
    expect(child?.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(headers['x-trace-info']).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-00$/);
    expect(headers.b3).toMatch(/-0$/);
    expect(await spans()).toEqual([]);
  });

  it('start() and startSpan() follow the parent token too', async () => {
    const { tracer, spans } = testTracer({ sampler: 0 });
    const a = tracer.start('a', { parent: SAMPLED });
    tracer.stop('a');
    const b = tracer.startSpan('b', { parent: UNSAMPLED });
    b.end();
    expect(a.sampled).toBe(true);
    expect(b.sampled).toBe(false);
    expect((await spans()).map((span) => span.name)).toEqual(['a']);
  });
});

describe('maxTracesPerSecond: a cap on new recorded traces, also those a client asks for', () => {
  it('is off by default: a client that sends sampled tokens gets every request recorded', async () => {
    const { tracer, spans } = testTracer({ sampler: 0.01, random: () => 0.5 });
    for (let i = 0; i < 500; i++) tracer.trace('GET /', () => undefined, { parent: SAMPLED });
    expect(await spans()).toHaveLength(500);
    expect(tracer.stats().tracesRateLimited).toBe(0);
  });

  it('records at most that many traces continued from sampled tokens a second (a burst of as many), then refills', async () => {
    const clock = new ManualClock();
    const { tracer, spans } = testTracer({ sampler: 0.01, random: () => 0.5, maxTracesPerSecond: 10, clock });
    const recorded = (n: number) => {
      let count = 0;
      for (let i = 0; i < n; i++) {
        tracer.trace('GET /', (span) => {
          if (span.recording) count++;
          // Children of a recorded trace are never limited: the cap is per trace.
          tracer.trace('child', (child) => expect(child.recording).toBe(span.recording));
        }, { parent: SAMPLED });
      }
      return count;
    };
    expect(recorded(1000)).toBe(10);
    clock.advance(500_000); // half a second: five more
    expect(recorded(1000)).toBe(5);
    clock.advance(10_000_000); // ten seconds idle: the bucket holds one second's worth, no more
    expect(recorded(1000)).toBe(10);
    // Each second of a steady flood, ten.
    for (let s = 0; s < 5; s++) {
      clock.advance(1_000_000);
      expect(recorded(1000)).toBe(10);
    }
    expect((await spans()).filter((span) => span.name === 'GET /')).toHaveLength(75);
    expect(tracer.stats().tracesRateLimited).toBe(8000 - 75);
  });

  it('a limited request is not recorded and tells downstream "not sampled"', () => {
    const clock = new ManualClock();
    const { tracer } = testTracer({ maxTracesPerSecond: 1, clock });
    tracer.trace('first', () => undefined, { parent: SAMPLED });
    tracer.trace('second', (span) => {
      expect(span.recording).toBe(false);
      expect(span.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
      expect(tracer.getTraceInfo()?.endsWith('-00')).toBe(true);
    }, { parent: SAMPLED });
  });

  it('counts new roots the sampler chose too, and one below 1/s still lets one through', async () => {
    const clock = new ManualClock();
    const { tracer, spans } = testTracer({ maxTracesPerSecond: 0.5, clock });
    for (let i = 0; i < 10; i++) tracer.trace('root', () => undefined);
    clock.advance(1_000_000);
    for (let i = 0; i < 10; i++) tracer.trace('root', () => undefined);
    clock.advance(1_000_000);
    for (let i = 0; i < 10; i++) tracer.trace('root', () => undefined);
    expect(await spans()).toHaveLength(2);
  });

  it.each([[0], [-1], [NaN], [Infinity], ['10']])('rejects maxTracesPerSecond %p at configure time', (value) => {
    expect(() => testTracer({ maxTracesPerSecond: value as number })).toThrow(
      expect.objectContaining({ code: codes.INVALID_OPTION, message: expect.stringContaining('maxTracesPerSecond') }),
    );
  });
});
