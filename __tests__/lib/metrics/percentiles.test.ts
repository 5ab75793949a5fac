import fc from 'fast-check';
import {
  HISTOGRAM_STATE_VERSION, type HistogramSnapshot, type HistogramState, MetricsRegistry, mergeHistogramStates,
  summarizeHistogramState,
} from 'tomograph/metrics';
import { bucketIndex, bucketValue } from '../../../lib/metrics/log-sketch';
import { testRegistry } from './fixtures';

const QUANTILES: readonly [keyof HistogramSnapshot, number][] = [
  ['p50', 0.5], ['p75', 0.75], ['p95', 0.95], ['p98', 0.98], ['p99', 0.99], ['p999', 0.999],
];

/** A value from 1e-3 to 1e9, spread evenly over the decades (and 0 now and then). */
const value = fc.oneof(
  { weight: 20, arbitrary: fc.tuple(fc.integer({ min: -3, max: 8 }), fc.double({ min: 1, max: 10, noNaN: true })).map(([e, m]) => Math.min(1e9, m * 10 ** e)) },
  { weight: 1, arbitrary: fc.constant(0) },
);
/** Distributions: spread out, clustered in one decade, or heavy-tailed. */
const distribution = fc.oneof(
  fc.array(value, { minLength: 1, maxLength: 3000 }),
  fc.tuple(fc.integer({ min: -3, max: 8 }), fc.array(fc.double({ min: 1, max: 10, noNaN: true }), { minLength: 1, maxLength: 3000 }))
    .map(([e, ms]) => ms.map((m) => Math.min(1e9, m * 10 ** e))),
  fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { minLength: 1, maxLength: 3000 })
    .map((us) => us.map((u) => Math.min(1e9, 1e-3 / Math.pow(1 - u, 1 / 0.3)))),
);

/** The nearest-rank quantile: the smallest value with at least q·n values at or below it. */
function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length - 1e-9) - 1)];
}

function expectWithinBound(snapshot: HistogramSnapshot, values: readonly number[]): void {
  const sorted = [...values].sort((a, b) => a - b);
  expect(snapshot.count).toBe(values.length);
  expect(snapshot.min).toBe(sorted[0]);
  expect(snapshot.max).toBe(sorted[sorted.length - 1]);
  for (const [key, q] of QUANTILES) {
    const exact = exactQuantile(sorted, q);
    const got = snapshot[key] as number;
    if (exact === 0) expect(got).toBe(0);
    else expect(Math.abs(got - exact) / exact).toBeLessThanOrEqual(0.01);
  }
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  expect(Math.abs((snapshot.mean as number) - mean)).toBeLessThanOrEqual(Math.abs(mean) * 1e-9 + 1e-12);
}

describe('percentiles: within 1% of the exact nearest-rank quantile', () => {
  it('every bucket answers within 1% of every value in it, 1e-9 to 1e15', () => {
    fc.assert(
      fc.property(fc.integer({ min: -9, max: 14 }), fc.double({ min: 1, max: 10, noNaN: true }), (e, m) => {
        const v = m * 10 ** e;
        return Math.abs(bucketValue(bucketIndex(v)) - v) / v <= 0.01;
      }),
      { numRuns: 5000 },
    );
  });

  it('holds for any distribution over 1e-3..1e9 (fast-check)', () => {
    fc.assert(
      fc.property(distribution, (values) => {
        const { registry } = testRegistry();
        const histogram = registry.histogram('h');
        for (const v of values) histogram.record(v);
        expectWithinBound(registry.snapshot().h as HistogramSnapshot, values);
      }),
      { numRuns: 150 },
    );
  });

  it('merged states answer for the union: exact count/sum/min/max, percentiles within 1% (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(distribution, { minLength: 1, maxLength: 5 }), (parts) => {
        const states: HistogramState[] = parts.map((values) => {
          const { registry } = testRegistry();
          const histogram = registry.histogram('h');
          for (const v of values) histogram.record(v);
          // States cross processes as JSON.
          return JSON.parse(JSON.stringify(registry.collect()[0].series[0].state)) as HistogramState;
        });
        const merged = mergeHistogramStates(states);
        const union = parts.flat();
        expect(merged.count).toBe(union.length);
        expect(merged.sum).toBeCloseTo(
          parts.reduce((total, values) => total + values.reduce((a, b) => a + b, 0), 0),
          6,
        );
        expectWithinBound(summarizeHistogramState(merged), union);
      }),
      { numRuns: 80 },
    );
  });

  it('no phantom 0, no summed percentiles, no backwards interpolation: small samples are their own values', () => {
    const { registry } = testRegistry();
    const h = registry.histogram('h');
    for (const v of [100, 200, 300]) h.record(v);
    const s = registry.snapshot().h as HistogramSnapshot;
    expect(s.min).toBe(100);
    expect(Math.abs((s.p50 as number) - 200) / 200).toBeLessThanOrEqual(0.01);
    expect(s.p999).toBe(300);
    // Two processes' p99s are not added: the merged p99 is the union's.
    const a = testRegistry();
    const b = testRegistry();
    for (let i = 0; i < 100; i++) a.registry.record('h', 10);
    for (let i = 0; i < 100; i++) b.registry.record('h', 1000);
    const merged = summarizeHistogramState(
      mergeHistogramStates([a.registry.collect()[0].series[0].state!, b.registry.collect()[0].series[0].state!]),
    );
    expect(merged.p99).toBe(1000);
    expect(Math.abs((merged.p50 as number) - 10) / 10).toBeLessThanOrEqual(0.01);
  });

  it('0 is exact; negatives are ignored and reported', () => {
    const { registry, events } = testRegistry();
    const h = registry.histogram('h');
    for (let i = 0; i < 60; i++) h.record(0);
    for (let i = 0; i < 40; i++) h.record(5);
    h.record(-1);
    const s = registry.snapshot().h as HistogramSnapshot;
    expect(s).toMatchObject({ count: 100, sum: 200, min: 0, p50: 0, max: 5, p99: 5 });
    expect(events).toHaveLength(1);
  });

  it('memory stays bounded whatever the number of values', () => {
    const { registry } = testRegistry();
    const h = registry.histogram('h');
    for (let i = 0; i < 200_000; i++) h.record(10 ** (-3 + (12 * i) / 200_000));
    const [state] = registry.collect()[0].series.map((s) => s.state!);
    // 1% buckets over 12 decades: ~1400, never one per value.
    expect((state.window as { counts: number[] }).counts.length).toBeLessThan(1500);
  });

  it('a state of an unknown version is left out of a merge; a malformed one too', () => {
    const { registry } = testRegistry();
    registry.record('h', 7);
    const good = registry.collect()[0].series[0].state!;
    const future = { ...good, v: HISTOGRAM_STATE_VERSION + 1 };
    const broken = { ...good, window: { n: 'x' } };
    const merged = mergeHistogramStates([good, future, broken, null as unknown as HistogramState]);
    expect(merged.count).toBe(1);
    expect(summarizeHistogramState(merged).p50).toBe(7);
    expect(summarizeHistogramState(mergeHistogramStates([]))).toEqual({ count: 0, sum: 0 });
  });

  it('mean and stddev match a two-pass computation, however values and reads interleave (fast-check)', () => {
    // Outliers first, then a tight cluster far from them: where shifted sums lose precision
    // unless the shift comes from the data.
    const outlierFirst = fc.tuple(
      fc.array(fc.double({ min: 0, max: 1e9, noNaN: true }), { minLength: 1, maxLength: 3 }),
      fc.double({ min: 1e-3, max: 1e9, noNaN: true }),
      fc.array(fc.double({ min: 0, max: 1e-6, noNaN: true }), { minLength: 1, maxLength: 500 }),
    ).map(([outliers, center, offsets]) => [...outliers, ...offsets.map((o) => center * (1 + o))]);
    fc.assert(
      fc.property(fc.oneof(distribution, outlierFirst), fc.integer({ min: 1, max: 200 }), (values, readEvery) => {
        const registry = new MetricsRegistry({ clock: () => 0, onDiagnostic: () => undefined });
        const h = registry.histogram('h');
        values.forEach((v, i) => {
          h.record(v);
          if (i % readEvery === 0) registry.snapshot(); // a read settles the moments mid-chunk
        });
        const s = registry.snapshot().h as HistogramSnapshot;
        const n = values.length;
        const mean = values.reduce((a, b) => a + b, 0) / n;
        const m2 = values.reduce((a, v) => a + (v - mean) * (v - mean), 0);
        const stddev = n > 1 ? Math.sqrt(m2 / (n - 1)) : 0;
        const scale = Math.max(...values);
        expect(Math.abs((s.mean as number) - mean)).toBeLessThanOrEqual(mean * 1e-12 + scale * 1e-14);
        expect(Math.abs((s.stddev as number) - stddev)).toBeLessThanOrEqual(stddev * 1e-9 + scale * 1e-12);
      }),
      { numRuns: 300 },
    );
  });

  it('stddev is the sample standard deviation, stable for large values', () => {
    const registry = new MetricsRegistry({ clock: () => 0, onDiagnostic: () => undefined });
    for (const v of [1e9 + 1, 1e9 + 2, 1e9 + 3]) registry.record('h', v);
    const s = registry.snapshot().h as HistogramSnapshot;
    expect(s.stddev).toBeCloseTo(1, 6);
    expect(s.mean).toBe(1e9 + 2);
  });
});
