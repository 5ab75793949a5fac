import { bucketIndex, type EncodedSketch, LogSketch } from '../../../lib/metrics/log-sketch';
import { mergeHistogramStates, summarizeHistogramState, type HistogramState } from 'tomograph/metrics';
import { testRegistry } from './fixtures';

/** Values spread evenly over the decades from 1e-3 to 1e9. */
function fullRange(n: number): number[] {
  return Array.from({ length: n }, (_, i) => 10 ** (-3 + (12 * ((i * 7919) % n)) / n));
}

describe('LogSketch storage: 16-bit counts, sized to the data', () => {
  it('a bucket past 65,535 values in one sketch counts exactly (carried out of the 16-bit array)', () => {
    const sketch = new LogSketch();
    for (let i = 0; i < 200_000; i++) sketch.add(1);
    for (let i = 0; i < 100_000; i++) sketch.add(2 + (i % 10));
    sketch.add(0);
    const encoded = sketch.encode();
    const one = encoded.counts[bucketIndex(1) - encoded.offset];
    expect(one).toBe(200_000);
    expect(encoded.counts.reduce((a, b) => a + b, 0) + encoded.zero).toBe(300_001);
    const out = [0, 0, 0];
    sketch.quantiles([0.5, 0.66, 0.9], out);
    expect(out[0]).toBeCloseTo(1, 1);
    expect(Math.abs(out[1] - 1) / 1).toBeLessThanOrEqual(0.01);
    expect(out[2]).toBeGreaterThan(8);
    // Merged into a reader's sketch, the carried counts come along.
    const merged = new LogSketch(true);
    merged.merge(sketch);
    expect(merged.encode().counts).toEqual(encoded.counts);
    expect(merged.n).toBe(300_001);
  });

  it('through a histogram: the window and its state hold the carried counts', () => {
    const { registry } = testRegistry();
    const h = registry.histogram('hot');
    for (let i = 0; i < 150_000; i++) h.record(5);
    h.record(500);
    const [metric] = registry.collect();
    const state = metric.series[0].state as HistogramState;
    const summary = summarizeHistogramState(mergeHistogramStates([state, state]));
    expect(summary.count).toBe(300_002);
    expect(Math.abs((summary.p50 as number) - 5) / 5).toBeLessThanOrEqual(0.01);
    expect(summary.max).toBe(500);
    expect((state.window as EncodedSketch).counts[0]).toBe(150_000);
  });

  it('holds the full 1e-3..1e9 range in about 2 bytes per bucket, and trims to what the next values use', () => {
    const sketch = new LogSketch();
    const values = fullRange(2000);
    for (const v of values) sketch.add(v);
    const buckets = bucketIndex(1e9) - bucketIndex(1e-3) + 1;
    expect(sketch.countBytes).toBeGreaterThanOrEqual(2 * buckets);
    expect(sketch.countBytes).toBeLessThanOrEqual(2 * buckets * 1.3); // grown by quarters, not doubled
    // Reused for values in one decade: cleared once with all buckets in use (kept), once more
    // with one decade in use (trimmed to it).
    sketch.clear();
    for (let i = 0; i < 100; i++) sketch.add(10 + i / 10);
    sketch.clear();
    expect(sketch.countBytes).toBeLessThanOrEqual(2 * (bucketIndex(20) - bucketIndex(10) + 1));
    for (const v of values) sketch.add(v);
    const merged = new LogSketch(true);
    merged.merge(sketch);
    const exact = new LogSketch(true);
    for (const v of values) exact.merge(single(v));
    const { offset, counts, n, zero } = merged.encode();
    expect({ offset, counts, n, zero }).toEqual((({ offset, counts, n, zero }) => ({ offset, counts, n, zero }))(exact.encode()));
  });

  it('merging stays exact bucket by bucket after the array moved and grew both ways', () => {
    const a = new LogSketch();
    const b = new LogSketch();
    const values = fullRange(5000);
    values.forEach((v, i) => (i % 2 === 0 ? a : b).add(v));
    [...values].reverse().forEach((v, i) => (i % 3 === 0 ? b : a).add(v));
    const merged = new LogSketch(true);
    merged.merge(a);
    merged.merge(b);
    const expected = new Map<number, number>();
    for (const v of [...values, ...values]) expected.set(bucketIndex(v), (expected.get(bucketIndex(v)) ?? 0) + 1);
    const encoded = merged.encode();
    const got = new Map<number, number>();
    encoded.counts.forEach((c, i) => c > 0 && got.set(encoded.offset + i, c));
    expect(got).toEqual(expected);
  });
});

function single(value: number): LogSketch {
  const sketch = new LogSketch();
  sketch.add(value);
  return sketch;
}
