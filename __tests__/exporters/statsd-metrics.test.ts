import { StatsdExporter, type StatsdExporterOptions } from '../../exporters/statsd';
import { formatRate } from '../../exporters/statsd-metrics';
import { configure, shutdown } from '../../lib';
import { MetricsRegistry } from '../../lib/metrics';
import type { HistogramUpdate, MetricsUpdate } from '../../lib/metrics/types';
import type { DiagnosticEvent } from '../../lib/types';
import { useStatsdDaemons } from '../helpers/statsd-daemon';

const statsd = useStatsdDaemons('m', (udp) => ({ service: 'shop', port: udp.port }));
const { uniquePrefix, makeExporter } = statsd;

function update(partial: Partial<MetricsUpdate>): MetricsUpdate {
  return { timestampMs: Date.now(), counters: [], gauges: [], meters: [], histograms: [], ...partial };
}

function histogram(name: string, values: number[], count = values.length, unit?: string): HistogramUpdate {
  return { name, labels: [], values, count, ...(unit === undefined ? {} : { unit }) };
}

describe('StatsdExporter.exportMetrics against the real StatsD daemon', () => {
  test('counters and meters |c reach exact totals over many updates; names are <prefix>.<service>.<path>', async () => {
    const prefix = uniquePrefix();
    const exporter = makeExporter({ prefix });
    let expected = 0;
    for (let i = 1; i <= 100; i++) {
      expected += i;
      exporter.exportMetrics(update({
        counters: [{ name: 'web.requests', labels: [], delta: i }],
        meters: [{ name: 'jobs.consumed', labels: [], delta: 2 }],
      }));
    }
    await exporter.flush();
    expect(await statsd.udp.counter(`${prefix}.shop.web.requests`, expected)).toBe(5050);
    expect(await statsd.udp.counter(`${prefix}.shop.jobs.consumed`, 200)).toBe(200);
    expect(statsd.udp.linesFor(`${prefix}.shop.web.requests:`).slice(0, 2)).toEqual([
      `${prefix}.shop.web.requests:1|c`,
      `${prefix}.shop.web.requests:2|c`,
    ]);
  });

  test('labels become name segments (values in declared order), sanitised as span names are', async () => {
    const prefix = uniquePrefix();
    const exporter = makeExporter({ prefix, service: 'my shop' });
    exporter.exportMetrics(update({
      counters: [
        { name: 'web.requests', labels: [['route', 'GET /users/:id'], ['status', '200']], delta: 3 },
        { name: 'web.requests', labels: [['route', 'GET /users/:id'], ['status', '500']], delta: 1 },
      ],
    }));
    await exporter.flush();
    expect(await statsd.udp.counter(`${prefix}.my_shop.web.requests.GET_users_id.200`, 3)).toBe(3);
    expect(await statsd.udp.counter(`${prefix}.my_shop.web.requests.GET_users_id.500`, 1)).toBe(1);
  });

  test('with tags: true, labels become DogStatsD tags on the same names', async () => {
    const prefix = uniquePrefix();
    const exporter = makeExporter({ prefix, tags: true });
    exporter.exportMetrics(update({
      counters: [{ name: 'web.requests', labels: [['route', 'GET /users/:id'], ['status', '200']], delta: 5 }],
      histograms: [{ ...histogram('web.latency', [12, 30], 2, 'ms'), labels: [['route', 'GET /users/:id']] }],
    }));
    await exporter.flush();
    expect(await statsd.udp.counter(`${prefix}.shop.web.requests;route=GET_users_id;status=200`, 5)).toBe(5);
    expect(await statsd.udp.timer(`${prefix}.shop.web.latency;route=GET_users_id`, 2)).toMatchObject({ count: 2, sum: 42, upper: 30 });
    expect(statsd.udp.linesFor(`${prefix}.shop.web.latency`)).toEqual([
      `${prefix}.shop.web.latency:12|ms|#route:GET_users_id`,
      `${prefix}.shop.web.latency:30|ms|#route:GET_users_id`,
    ]);
  });

  test('gauges |g, a negative one as 0 then the signed value so the daemon does not add it', async () => {
    const prefix = uniquePrefix();
    const exporter = makeExporter({ prefix });
    exporter.exportMetrics(update({ gauges: [{ name: 'queue.depth', labels: [], value: 5 }, { name: 'temp', labels: [], value: -3.5 }] }));
    exporter.exportMetrics(update({ gauges: [{ name: 'queue.depth', labels: [], value: 2 }, { name: 'temp', labels: [], value: -1 }] }));
    await exporter.flush();
    await statsd.udp.until('4 gauge lines', () => statsd.udp.linesFor(`${prefix}.shop.temp:`).length === 4);
    expect(statsd.udp.linesFor(`${prefix}.shop.queue.depth:`)).toEqual([`${prefix}.shop.queue.depth:5|g`, `${prefix}.shop.queue.depth:2|g`]);
    expect(statsd.udp.linesFor(`${prefix}.shop.temp:`)).toEqual([
      `${prefix}.shop.temp:0|g`, `${prefix}.shop.temp:-3.5|g`, `${prefix}.shop.temp:0|g`, `${prefix}.shop.temp:-1|g`,
    ]);
  });

  test('histogram values: |ms for unit ms, |h otherwise; a registry sample goes with its rate so counts stay exact', async () => {
    const prefix = uniquePrefix();
    const exporter = makeExporter({ prefix });
    exporter.exportMetrics(update({
      histograms: [
        histogram('db.query', [1, 2, 3], 3, 'ms'),
        // The registry kept 100 of 1000 values: each line stands for 10.
        histogram('web.latency', Array.from({ length: 100 }, (_, i) => i + 1), 1000, 'ms'),
        histogram('payload.bytes', [512, 2048], 2, 'bytes'),
      ],
    }));
    await exporter.flush();
    expect(await statsd.udp.timer(`${prefix}.shop.db.query`, 3)).toMatchObject({ count: 3, sum: 6, lower: 1, upper: 3 });
    const latency = await statsd.udp.timer(`${prefix}.shop.web.latency`, 1000);
    expect(latency.count).toBeCloseTo(1000, 6);
    expect(statsd.udp.linesFor(`${prefix}.shop.web.latency:`)[0]).toBe(`${prefix}.shop.web.latency:1|ms|@0.1`);
    expect(statsd.udp.linesFor(`${prefix}.shop.payload.bytes:`)).toEqual([`${prefix}.shop.payload.bytes:512|h`, `${prefix}.shop.payload.bytes:2048|h`]);
  });

  test('over maxValuesPerUpdate, each histogram sends a share with a sample rate; the daemon still counts every value', async () => {
    const prefix = uniquePrefix();
    const exporter = makeExporter({ prefix, maxValuesPerUpdate: 50 });
    const values = (n: number, base: number) => Array.from({ length: n }, (_, i) => base + (i % 7));
    exporter.exportMetrics(update({
      counters: [{ name: 'hits', labels: [], delta: 7 }],
      histograms: [histogram('a', values(300, 10), 300, 'ms'), histogram('b', values(100, 20), 700, 'ms'), histogram('c', [5], 1, 'ms')],
    }));
    await exporter.flush();
    const a = await statsd.udp.timer(`${prefix}.shop.a`, 299);
    const b = await statsd.udp.timer(`${prefix}.shop.b`, 699);
    const c = await statsd.udp.timer(`${prefix}.shop.c`, 1);
    expect([a.count, b.count, c.count].map((n) => Math.round(n * 1e6) / 1e6)).toEqual([300, 700, 1]);
    const lines = statsd.udp.linesFor(`${prefix}.shop.`);
    // Counters are never sampled; histogram lines stay within the bound.
    expect(lines.filter((line) => line.endsWith('|c'))).toEqual([`${prefix}.shop.hits:7|c`]);
    expect(lines.filter((line) => line.includes('|ms')).length).toBeLessThanOrEqual(50);
    expect(await statsd.udp.counter(`${prefix}.shop.hits`, 7)).toBe(7);
  });

  test('TCP: the same lines over a stream', async () => {
    const prefix = uniquePrefix();
    const exporter = makeExporter({ prefix, port: statsd.tcp.port, protocol: 'tcp' });
    exporter.exportMetrics(update({ counters: [{ name: 'web.requests', labels: [], delta: 42 }] }));
    await exporter.flush();
    expect(await statsd.tcp.counter(`${prefix}.shop.web.requests`, 42)).toBe(42);
  });
});

describe('options and faults', () => {
  test('the service defaults to the default tracer\'s serviceName, read at each update', async () => {
    const prefix = uniquePrefix();
    // No `service`: the kit's default names one.
    const exporter = makeExporter({ service: undefined, prefix });
    configure({ serviceName: 'billing', exporters: [] });
    try {
      exporter.exportMetrics(update({ counters: [{ name: 'invoices', labels: [], delta: 1 }] }));
      await exporter.flush();
      expect(await statsd.udp.counter(`${prefix}.billing.invoices`, 1)).toBe(1);
    } finally {
      await shutdown();
    }
  });

  test('level is exposed for configureMetrics to filter by; wrong metrics options throw the stable TypeError', () => {
    expect(makeExporter({ level: 'warn' }).level).toBe('warn');
    expect(makeExporter({}).level).toBeUndefined();
    for (const bad of [{ level: 'loud' }, { service: '' }, { maxValuesPerUpdate: 0 }, { maxValuesPerUpdate: 1.5 }]) {
      expect(() => new StatsdExporter(bad as StatsdExporterOptions)).toThrow(
        expect.objectContaining({ name: 'TypeError', code: 'TOMOGRAPH_ERR_INVALID_OPTION' }),
      );
    }
  });

  test('bad values are skipped, never thrown; after shutdown nothing is sent', async () => {
    const prefix = uniquePrefix();
    const events: DiagnosticEvent[] = [];
    const exporter = makeExporter({ prefix, onDiagnostic: (event) => events.push(event) });
    expect(() => exporter.exportMetrics(update({
      counters: [{ name: 'x', labels: [], delta: NaN }, { name: 'ok', labels: [], delta: 1 }],
      gauges: [{ name: 'g', labels: [], value: Infinity }],
      histograms: [histogram('h', [NaN, -1, 4], 3, 'ms')],
    }))).not.toThrow();
    expect(() => exporter.exportMetrics({} as MetricsUpdate)).not.toThrow();
    await exporter.flush();
    expect(await statsd.udp.counter(`${prefix}.shop.ok`, 1)).toBe(1);
    await statsd.udp.timer(`${prefix}.shop.h`, 1);
    expect(statsd.udp.linesFor(`${prefix}.shop.`).sort()).toEqual([`${prefix}.shop.h:4|ms`, `${prefix}.shop.ok:1|c`]);
    await exporter.shutdown();
    exporter.exportMetrics(update({ counters: [{ name: 'late', labels: [], delta: 1 }] }));
    expect(events).toEqual([]);
  });

  test('formatRate writes plain decimals with 12 significant digits', () => {
    expect(formatRate(0.1)).toBe('0.1');
    expect(formatRate(3 / 7)).toBe('0.428571428571');
    expect(formatRate(1e-7)).toBe('0.0000001');
    expect(formatRate(2 / 3e6)).toBe('0.000000666666666667');
    expect(3 / Number(formatRate(3 / 7))).toBeCloseTo(7, 9);
  });
});

describe('a large update', () => {
  test('goes out in slices, the event loop running between them, every line reaching the daemon in order', async () => {
    const prefix = uniquePrefix();
    // TCP: 20,000 lines in a burst overflow a loopback UDP receive buffer; a stream loses none.
    const exporter = makeExporter({ prefix, port: statsd.tcp.port, protocol: 'tcp' });
    const series = 20_000;
    const sent = exporter.exportMetrics(update({
      counters: Array.from({ length: series }, (_, i) => ({ name: `big.c${i}`, labels: [], delta: i + 1 })),
      histograms: [histogram('big.latency', [1, 2, 3], 3, 'ms')],
    }));
    expect(sent).toBeInstanceOf(Promise);
    let turns = 0;
    let done = false;
    const tick = (): void => {
      turns++;
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    await sent;
    done = true;
    // Each slice is ~2 ms of sending: 20,000 lines take several, with the app's turns between.
    expect(turns).toBeGreaterThan(2);
    await exporter.flush();
    const lines = await statsd.tcp.until('every line', () => statsd.tcp.linesFor(`${prefix}.`).length >= series + 3 && statsd.tcp.linesFor(`${prefix}.`));
    expect(lines).toHaveLength(series + 3);
    expect(lines[0]).toBe(`${prefix}.shop.big.c0:1|c`);
    expect(lines[series - 1]).toBe(`${prefix}.shop.big.c${series - 1}:${series}|c`);
    expect(lines.slice(series)).toEqual([`${prefix}.shop.big.latency:1|ms`, `${prefix}.shop.big.latency:2|ms`, `${prefix}.shop.big.latency:3|ms`]);
  });

  test('shutdown() during a sliced update stops it without an error', async () => {
    const prefix = uniquePrefix();
    const events: DiagnosticEvent[] = [];
    const exporter = makeExporter({ prefix, port: statsd.tcp.port, protocol: 'tcp', onDiagnostic: (event) => events.push(event) });
    const sent = exporter.exportMetrics(update({ counters: Array.from({ length: 50_000 }, (_, i) => ({ name: `gone.c${i}`, labels: [], delta: 1 })) }));
    expect(sent).toBeInstanceOf(Promise);
    await exporter.shutdown();
    await expect(sent).resolves.toBeUndefined();
    // What the first slices sent arrives; the rest of the update is not sent after shutdown.
    await statsd.tcp.until('the first slice', () => statsd.tcp.linesFor(`${prefix}.`).length > 0);
    expect(statsd.tcp.linesFor(`${prefix}.`).length).toBeLessThan(50_000);
    expect(events).toEqual([]);
  });
});

describe('through a real registry (configureMetrics)', () => {
  test('many concurrent flows of incr total exactly at the daemon; timers, gauges, meters; the exporter\'s level filters', async () => {
    const prefix = uniquePrefix();
    const all = makeExporter({ prefix });
    const important = makeExporter({ prefix: `${prefix}_warn`, level: 'warn' });
    const registry = new MetricsRegistry();
    registry.configure({ exporters: [all, important], intervalMs: 3_600_000 });
    try {
      const requests = registry.counter('web.requests', { labels: ['status'] });
      const ok = requests.labels({ status: '200' });
      const latency = registry.histogram('web.latency', { unit: 'ms' });
      registry.gauge('queue.depth', () => 4);
      registry.meter('jobs.done').mark(3);
      registry.counter('alerts', { level: 'error' }).inc(2);
      // 50 concurrent flows, each 20 increments across awaits: 1000 in all.
      await Promise.all(Array.from({ length: 50 }, async (_, flow) => {
        for (let i = 0; i < 20; i++) {
          ok.inc();
          latency.record(flow + 1);
          await Promise.resolve();
        }
      }));
      await registry.flush();
      for (let i = 0; i < 500; i++) ok.inc();
      await registry.flush();

      expect(await statsd.udp.counter(`${prefix}.shop.web.requests.200`, 1500)).toBe(1500);
      const timer = await statsd.udp.timer(`${prefix}.shop.web.latency`, 1000);
      expect(Math.round(timer.count)).toBe(1000);
      expect(timer).toMatchObject({ lower: 1, upper: 50 });
      expect(await statsd.udp.counter(`${prefix}.shop.jobs.done`, 3)).toBe(3);
      expect(await statsd.udp.counter(`${prefix}.shop.alerts`, 2)).toBe(2);
      expect(statsd.udp.linesFor(`${prefix}.shop.queue.depth:`)[0]).toBe(`${prefix}.shop.queue.depth:4|g`);
      // The 'warn' exporter got the error-level counter only.
      expect(await statsd.udp.counter(`${prefix}_warn.shop.alerts`, 2)).toBe(2);
      expect(new Set(statsd.udp.linesFor(`${prefix}_warn.`).map((line) => line.slice(0, line.indexOf(':'))))).toEqual(
        new Set([`${prefix}_warn.shop.alerts`]),
      );
    } finally {
      await registry.shutdown();
    }
  });
});
