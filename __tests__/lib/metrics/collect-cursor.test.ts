import { collect, collectCursor, counter as defaultCounter, type HistogramSnapshot } from 'tomograph/metrics';
import { testRegistry } from './fixtures';

describe('collect({ states }) and collectCursor()', () => {
  it('histogram states by default; states: false leaves them out and keeps the values', () => {
    const { registry } = testRegistry();
    const latency = registry.histogram('latency');
    for (let i = 1; i <= 10; i++) latency.record(i);
    registry.counter('hits').inc(2);
    const withStates = registry.collect();
    const without = registry.collect({ states: false });
    expect(withStates.find((m) => m.name === 'latency')?.series[0].state?.count).toBe(10);
    const series = without.find((m) => m.name === 'latency')?.series[0];
    expect(series).toBeDefined();
    expect(series).not.toHaveProperty('state');
    expect(series?.value).toEqual(withStates.find((m) => m.name === 'latency')?.series[0].value);
    expect(without.find((m) => m.name === 'hits')?.series).toEqual([{ labelValues: [], value: 2 }]);
  });

  it('hands out whole metrics in name order, in pieces bounded by series, and the same as collect()', () => {
    const { registry } = testRegistry();
    for (const name of ['c', 'a', 'b', 'd']) {
      const family = registry.counter(name, { labels: ['i'] });
      for (let i = 0; i < 30; i++) family.labels({ i: String(i) }).inc(i);
    }
    const cursor = registry.collectCursor({ states: false });
    const pieces: string[][] = [];
    while (!cursor.done) pieces.push(cursor.next(50).map((m) => m.name));
    // 30 series per metric: a piece stops once it holds 50 or more, so two metrics per piece.
    expect(pieces).toEqual([['a', 'b'], ['c', 'd']]);
    expect(cursor.next()).toEqual([]);
    const again = registry.collectCursor();
    const all = [...again.next(1), ...again.next(1), ...again.next(1), ...again.next(1)];
    expect(again.done).toBe(true);
    expect(all).toEqual(registry.collect());
    expect(all[0].series).toHaveLength(30); // a metric is never split between pieces
  });

  it('a piece also ends once its time budget is spent, but always holds a metric', () => {
    const { registry } = testRegistry();
    for (let m = 0; m < 5; m++) registry.counter(`m${m}`).inc();
    const cursor = registry.collectCursor();
    expect(cursor.next(Infinity, 0).map((m) => m.name)).toEqual(['m0']);
    expect(cursor.next(Infinity, Infinity).map((m) => m.name)).toEqual(['m1', 'm2', 'm3', 'm4']);
  });

  it('a metric created during a collection waits for the next one; one gone by its turn is left out', () => {
    const { registry } = testRegistry();
    registry.counter('a').inc(1);
    registry.counter('b').inc(2);
    registry.histogram('c').record(3);
    const cursor = registry.collectCursor({ states: false });
    expect(cursor.next(1).map((m) => m.name)).toEqual(['a']);
    registry.reset(); // b and c are gone
    registry.counter('aa').inc(); // sorts before b, but was not there when the cursor was made
    registry.counter('c').inc(7); // c again, now a counter: read as it is when its turn comes
    const rest = cursor.next();
    expect(cursor.done).toBe(true);
    expect(rest.map((m) => [m.name, m.type, m.series[0]?.value])).toEqual([['c', 'counter', 7]]);
    expect(registry.collect().map((m) => m.name)).toEqual(['aa', 'c']);
  });

  it('level applies to the cursor; an unknown level is a TypeError at the call', () => {
    const { registry } = testRegistry();
    registry.counter('quiet', { level: 'debug' });
    registry.configure({ level: 'debug' });
    registry.counter('quiet', { level: 'debug' }).inc();
    registry.counter('loud', { level: 'error' }).inc();
    expect(registry.collectCursor({ level: 'warn' }).next().map((m) => m.name)).toEqual(['loud']);
    expect(() => registry.collectCursor({ level: 'loud' as never })).toThrow(TypeError);
  });

  it('a histogram series is one read: quantiles, sum and count agree however the pieces fall', () => {
    const { registry } = testRegistry();
    const h = registry.histogram('h', { labels: ['i'] });
    for (let i = 0; i < 20; i++) for (let v = 1; v <= 100; v++) h.labels({ i: String(i) }).record(v);
    const cursor = registry.collectCursor({ states: false });
    const [metric] = cursor.next(1);
    for (const series of metric.series) {
      const value = series.value as HistogramSnapshot;
      expect([value.count, value.sum, value.min, value.max]).toEqual([100, 5050, 1, 100]);
      expect(Math.abs((value.p50 as number) - 50) / 50).toBeLessThanOrEqual(0.01);
    }
  });

  it('the module functions read the default registry', () => {
    defaultCounter('collect_cursor_test.hits').inc(3);
    const cursor = collectCursor({ states: false });
    const names: string[] = [];
    while (!cursor.done) for (const metric of cursor.next(10)) names.push(metric.name);
    expect(names).toContain('collect_cursor_test.hits');
    expect(collect().map((m) => m.name)).toEqual(names);
  });
});
