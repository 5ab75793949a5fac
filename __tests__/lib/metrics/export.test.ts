import { codes, flush, shutdown } from 'tomograph';
import { configureMetrics, counter, defaultRegistry, type MetricsExporter, type MetricsUpdate } from 'tomograph/metrics';
import { testRegistry } from './fixtures';

/** An exporter that keeps what it is given. */
function keeper(level?: MetricsExporter['level']): MetricsExporter & { updates: MetricsUpdate[] } {
  const updates: MetricsUpdate[] = [];
  return { updates, level, exportMetrics: (update) => void updates.push(update) };
}

beforeEach(() => {
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
});

describe('configureMetrics: the export loop', () => {
  it('every intervalMs: counter and meter deltas (changed series only), every gauge, histogram values', async () => {
    const { registry } = testRegistry();
    const exporter = keeper();
    registry.configure({ exporters: [exporter], intervalMs: 1000 });
    const requests = registry.counter('requests', { labels: ['status'] });
    requests.labels({ status: '200' }).inc(3);
    registry.counter('idle');
    registry.gauge('load').set(0.5);
    registry.gauge('fn', () => 42);
    registry.meter('events').mark(4);
    const latency = registry.histogram('latency', { unit: 'ms' });
    latency.record(1);
    latency.record(2);
    await jest.advanceTimersByTimeAsync(1000);
    expect(exporter.updates).toHaveLength(1);
    const [first] = exporter.updates;
    expect(first.counters).toEqual([{ name: 'requests', labels: [['status', '200']], delta: 3 }]);
    expect(first.gauges).toEqual([
      { name: 'load', labels: [], value: 0.5 },
      { name: 'fn', labels: [], value: 42 },
    ]);
    expect(first.meters).toEqual([{ name: 'events', labels: [], delta: 4 }]);
    expect(first.histograms).toEqual([{ name: 'latency', labels: [], unit: 'ms', values: [1, 2], count: 2 }]);
    expect(typeof first.timestampMs).toBe('number');

    requests.labels({ status: '200' }).inc();
    await jest.advanceTimersByTimeAsync(1000);
    const second = exporter.updates[1];
    expect(second.counters).toEqual([{ name: 'requests', labels: [['status', '200']], delta: 1 }]);
    expect(second.meters).toEqual([]);
    expect(second.histograms).toEqual([]);
    expect(second.gauges).toHaveLength(2);
    await registry.shutdown();
  });

  it('histogram values are bounded per interval: a uniform sample and the true count', async () => {
    const { registry } = testRegistry();
    const exporter = keeper();
    registry.configure({ exporters: [exporter], intervalMs: 1000, maxValuesPerInterval: 10 });
    const h = registry.histogram('h');
    for (let i = 1; i <= 1000; i++) h.record(i);
    await jest.advanceTimersByTimeAsync(1000);
    const [update] = exporter.updates[0].histograms;
    expect(update.count).toBe(1000);
    expect(update.values).toHaveLength(10);
    expect(new Set(update.values).size).toBe(10);
    for (const v of update.values) expect(v >= 1 && v <= 1000 && Number.isInteger(v)).toBe(true);
    // Sampled, not the first ten.
    expect(update.values.some((v) => v > 10)).toBe(true);
    await registry.shutdown();
  });

  it('an exporter that throws, rejects or hangs reaches neither the app nor the other exporters', async () => {
    const { registry, events } = testRegistry();
    const good = keeper();
    let hangCalls = 0;
    const throwing: MetricsExporter = {
      exportMetrics() {
        throw new Error('sync failure');
      },
    };
    const rejecting: MetricsExporter = { exportMetrics: () => Promise.reject(new Error('async failure')) };
    const hanging: MetricsExporter = {
      exportMetrics: () => {
        hangCalls++;
        return new Promise<void>(() => undefined);
      },
    };
    registry.configure({ exporters: [throwing, rejecting, hanging, good], intervalMs: 1000, exportTimeoutMs: 2500 });
    registry.incr('c');
    await jest.advanceTimersByTimeAsync(1000);
    expect(good.updates).toHaveLength(1);
    // While its call hangs, the hanging exporter gets no new update: counted as busy.
    await jest.advanceTimersByTimeAsync(2000);
    expect(good.updates).toHaveLength(3);
    expect(hangCalls).toBe(1);
    // Given up on after exportTimeoutMs, it is called again.
    await jest.advanceTimersByTimeAsync(1000);
    expect(hangCalls).toBe(2);
    const stats = registry.stats();
    expect(stats.exportErrors).toBe(8);
    expect(stats.exportTimeouts).toBe(1);
    expect(stats.exporterBusy).toBe(2);
    expect(events.map((e) => e.code)).toEqual(expect.arrayContaining([codes.METRICS_EXPORT_FAILED, codes.METRICS_EXPORT_TIMEOUT]));
    const shut = registry.shutdown();
    await jest.advanceTimersByTimeAsync(10_000);
    await shut;
  });

  it("honours each exporter's level", async () => {
    const { registry } = testRegistry();
    const all = keeper();
    const errorsOnly = keeper('error');
    registry.configure({ level: 'debug', exporters: [all, errorsOnly], intervalMs: 1000 });
    registry.counter('debugging', { level: 'debug' }).inc();
    registry.counter('failures', { level: 'error' }).inc();
    await jest.advanceTimersByTimeAsync(1000);
    expect(all.updates[0].counters.map((c) => c.name)).toEqual(['debugging', 'failures']);
    expect(errorsOnly.updates[0].counters.map((c) => c.name)).toEqual(['failures']);
    await registry.shutdown();
  });

  it('flush() hands over what changed and flushes exporters; shutdown() closes them once; reconfiguring shuts the old ones', async () => {
    const { registry } = testRegistry();
    const calls: string[] = [];
    const exporter: MetricsExporter = {
      exportMetrics: (u) => void calls.push(`export ${u.counters.map((c) => c.delta).join(',')}`),
      flush: async () => void calls.push('flush'),
      shutdown: async () => void calls.push('shutdown'),
    };
    registry.configure({ exporters: [exporter], intervalMs: 60_000 });
    registry.incr('c', 2);
    await registry.flush();
    registry.incr('c', 5);
    registry.configure({ exporters: [keeper()], intervalMs: 60_000 });
    await jest.advanceTimersByTimeAsync(0);
    await registry.shutdown();
    await registry.shutdown();
    expect(calls).toEqual(['export 2', 'flush', 'export 5', 'flush', 'shutdown']);
  });

  it("the core's flush() and shutdown() also flush the default registry's exporters", async () => {
    const exporter = keeper();
    configureMetrics({ exporters: [exporter], intervalMs: 60_000 });
    try {
      counter('core.hook').inc(3);
      await flush();
      expect(exporter.updates.flatMap((u) => u.counters)).toEqual([{ name: 'core.hook', labels: [], delta: 3 }]);
      counter('core.hook').inc();
      await shutdown();
      expect(exporter.updates.flatMap((u) => u.counters.map((c) => c.delta))).toEqual([3, 1]);
    } finally {
      configureMetrics();
      defaultRegistry.reset();
    }
  });

  it('wrong options are TypeErrors at configure time', () => {
    const { registry } = testRegistry();
    expect(() => registry.configure({ intervalMs: 0 })).toThrow(expect.objectContaining({ code: codes.INVALID_OPTION }));
    expect(() => registry.configure({ level: 'loud' as never })).toThrow(TypeError);
    expect(() => registry.configure({ exporters: [{}] as never })).toThrow(TypeError);
    expect(() => registry.configure({ exporters: [{ exportMetrics() {}, level: 'x' }] as never })).toThrow(TypeError);
    expect(() => registry.configure({ interval: 5 } as never)).toThrow(TypeError);
  });
});
