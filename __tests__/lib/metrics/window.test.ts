import type { HistogramSnapshot, MeterSnapshot } from 'tomograph/metrics';
import { testRegistry } from './fixtures';

describe('sliding window (injected clock, no sleeps)', () => {
  it('distribution fields cover the last windowMs; count and sum stay cumulative; empty window has no fields', () => {
    const { registry, clock } = testRegistry(0);
    const h = registry.histogram('h', { windowMs: 60_000 });
    h.record(1000);
    clock.advance(30_000);
    h.record(10);
    expect(registry.snapshot().h).toMatchObject({ count: 2, min: 10, max: 1000 });
    // 60 s after the first value its sub-window has left the window; the second is still in it.
    clock.advance(35_000);
    expect(registry.snapshot().h).toMatchObject({ count: 2, sum: 1010, min: 10, max: 10, p50: 10 });
    clock.advance(60_000);
    const idle = registry.snapshot().h as HistogramSnapshot;
    expect(idle).toEqual({ count: 2, sum: 1010 });
    expect(Object.keys(idle)).toEqual(['count', 'sum']);
  });

  it('percentiles are computed at read time, never stale (scales refreshed them every 20 s)', () => {
    const { registry, clock } = testRegistry(0);
    const h = registry.histogram('h');
    h.record(5);
    expect((registry.snapshot().h as HistogramSnapshot).p99).toBe(5);
    clock.advance(1000);
    h.record(500);
    expect((registry.snapshot().h as HistogramSnapshot).p99).toBe(500);
  });

  it('a sub-window is reused when the ring comes round, holding only its own turn', () => {
    const { registry, clock } = testRegistry(0);
    const h = registry.histogram('h', { windowMs: 6000 });
    for (let second = 0; second < 20; second++) {
      h.record(second + 1);
      clock.advance(1000);
    }
    // At t = 20 s the window is the sub-windows of 15..19 s (the current one and five before it): values 16..20.
    const s = registry.snapshot().h as HistogramSnapshot;
    expect(s.count).toBe(20);
    expect(s.min).toBe(16);
    expect(s.max).toBe(20);
  });

  it('a clock that steps back never loses values', () => {
    const { registry, clock } = testRegistry(100_000);
    const h = registry.histogram('h');
    h.record(1);
    clock.advance(-50_000);
    h.record(2);
    expect(registry.snapshot().h).toMatchObject({ count: 2, min: 1, max: 2 });
  });
});

describe('meters: Dropwizard EWMA on a 5 s tick, computed lazily', () => {
  it('rates decay like Dropwizard: after one tick at 1/s, m1 = 1, then 1 minute idle leaves e^-1', () => {
    const { registry, clock } = testRegistry(0);
    const m = registry.meter('m');
    m.mark(5);
    clock.advance(5000);
    let s = registry.snapshot().m as MeterSnapshot;
    expect(s.m1).toBeCloseTo(1, 10);
    expect(s.m5).toBeCloseTo(1, 10);
    clock.advance(60_000);
    s = registry.snapshot().m as MeterSnapshot;
    // 12 idle ticks of (1 - α1), α1 = 1 - e^(-5/60): exactly e^-1 of the rate.
    expect(s.m1).toBeCloseTo(Math.exp(-1), 10);
    expect(s.m5).toBeCloseTo(Math.exp(-60 / 300), 10);
    expect(s.m15).toBeCloseTo(Math.exp(-60 / 900), 10);
    expect(s.mean).toBeCloseTo(5 / 65, 10);
    expect(s.count).toBe(5);
  });

  it('catching up many missed ticks at once equals ticking each', () => {
    const lazy = testRegistry(0);
    const eager = testRegistry(0);
    const a = lazy.registry.meter('m');
    const b = eager.registry.meter('m');
    for (const r of [lazy, eager]) r.registry.meter('m').mark(100);
    lazy.clock.advance(5000 * 40);
    for (let i = 0; i < 40; i++) {
      eager.clock.advance(5000);
      eager.registry.snapshot();
    }
    const x = lazy.registry.snapshot().m as MeterSnapshot;
    const y = eager.registry.snapshot().m as MeterSnapshot;
    expect(x.m1).toBeCloseTo(y.m1, 12);
    expect(x.m15).toBeCloseTo(y.m15, 12);
    expect(a).not.toBe(b);
  });

  it('a steady rate converges to that rate', () => {
    const { registry, clock } = testRegistry(0);
    const m = registry.meter('m');
    for (let i = 0; i < 600; i++) {
      m.mark(3); // 3 per second
      clock.advance(1000);
    }
    const s = registry.snapshot().m as MeterSnapshot;
    expect(s.m1).toBeCloseTo(3, 3);
    expect(s.mean).toBeCloseTo(3, 6);
  });
});
