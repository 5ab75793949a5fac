import { codes } from 'tomograph';
import { type Counter, type HistogramSnapshot, OVERFLOW_LABEL_VALUE } from 'tomograph/metrics';
import { testRegistry } from './fixtures';

describe('statvent: incr, set, record', () => {
  it('incr 100 then incr gives 101; incr by 100 adds 100', () => {
    const { registry } = testRegistry();
    registry.incr('jobs', 100);
    registry.incr('jobs');
    expect(registry.snapshot()).toEqual({ jobs: 101 });
    registry.incr('batch', 100);
    expect(registry.snapshot().batch).toBe(100);
  });

  it('set 3.14 reads back 3.14, not an integer', () => {
    const { registry } = testRegistry();
    registry.set('load', 3.14);
    expect(registry.snapshot()).toEqual({ load: 3.14 });
  });

  it('many concurrent async flows of incr total exactly', async () => {
    const { registry } = testRegistry();
    const flows = Array.from({ length: 200 }, async (_, flow) => {
      for (let i = 0; i < 50; i++) {
        registry.incr('concurrent');
        if (i % 7 === flow % 7) await new Promise((resolve) => setImmediate(resolve));
        else await Promise.resolve();
      }
    });
    await Promise.all(flows);
    expect(registry.snapshot().concurrent).toBe(200 * 50);
  });

  it('record gives a histogram whose mean is not rounded (statvent kept an integer mean)', () => {
    const { registry } = testRegistry();
    registry.record('latency', 1);
    registry.record('latency', 2);
    const latency = registry.snapshot().latency as HistogramSnapshot;
    expect(latency.mean).toBe(1.5);
    expect(latency.count).toBe(2);
    expect(latency.sum).toBe(3);
  });
});

describe('scales: paths, aggregation, value histograms, function gauges, groups', () => {
  it('child paths form a tree', () => {
    const { registry } = testRegistry();
    registry.counter('web.requests').inc(3);
    registry.counter('web.errors').inc();
    registry.gauge('db.pool.size').set(10);
    expect(registry.snapshot()).toEqual({ web: { requests: 3, errors: 1 }, db: { pool: { size: 10 } } });
  });

  it('sumOf aggregates children at read time, including ones created later', () => {
    const { registry } = testRegistry();
    registry.counter('web.users.errors').inc(2);
    registry.sumOf('web.errors', 'web.*.errors');
    registry.counter('web.orders.errors').inc(3);
    registry.counter('web.orders.requests').inc(100);
    expect((registry.snapshot().web as Record<string, unknown>).errors).toBe(5);
    registry.sumOf('all', '**');
    expect(registry.snapshot().all).toBe(105);
  });

  it('countByValue: how many gauges hold each value, named, with 0 for a value none holds', () => {
    const { registry } = testRegistry();
    const states = { great: 3, good: 2, bad: 1 };
    registry.gauge('servers.a.state').set(3);
    registry.gauge('servers.b.state').set(3);
    registry.gauge('servers.c.state').set(2);
    registry.countByValue('servers.byState', 'servers.*.state', { values: states });
    expect((registry.snapshot().servers as Record<string, unknown>).byState).toEqual({ great: 2, good: 1, bad: 0 });
    registry.countByValue('byNumber', 'servers.*.state', { values: [1, 2] });
    expect(registry.snapshot().byNumber).toEqual({ 1: 0, 2: 1, 3: 2 });
  });

  it('function gauges are read at snapshot time; one that throws or returns a non-number is left out and reported', () => {
    const { registry, events } = testRegistry();
    let open = 4;
    registry.gauge('conn.open', () => open);
    registry.gauge('conn.broken', () => {
      throw new Error('gauge bug');
    });
    registry.gauge('conn.text', () => 'seven' as unknown as number);
    expect(registry.snapshot()).toEqual({ conn: { open: 4 } });
    open = 9;
    expect(registry.snapshot()).toEqual({ conn: { open: 9 } });
    expect(events.filter((e) => e.code === codes.METRIC_GAUGE_FAILED)).toHaveLength(4);
    expect(registry.stats().gaugeFailures).toBe(4);
  });

  it('groups give collection-like subtrees', () => {
    const { registry } = testRegistry();
    class Connection {
      private readonly stats;
      constructor(readonly id: string) {
        this.stats = registry.group(`pool.connections.${id}`);
      }
      query(): void {
        this.stats.incr('queries');
      }
    }
    const a = new Connection('a');
    const b = new Connection('b');
    a.query();
    a.query();
    b.query();
    registry.group('pool').group('totals').counter('opened').inc(2);
    expect(registry.snapshot()).toEqual({
      pool: { connections: { a: { queries: 2 }, b: { queries: 1 } }, totals: { opened: 2 } },
    });
  });
});

describe('names and types', () => {
  it('asking again for the same name and type gives the same instance', () => {
    const { registry } = testRegistry();
    expect(registry.counter('a.b')).toBe(registry.counter('a.b'));
    expect(registry.histogram('h')).toBe(registry.histogram('h', { unit: 'ms' }));
    expect(registry.group('a').counter('b')).toBe(registry.counter('a.b'));
  });

  it('the same name with another type is a TypeError with the stable code', () => {
    const { registry } = testRegistry();
    registry.counter('taken');
    expect(() => registry.gauge('taken')).toThrow(expect.objectContaining({ name: 'TypeError', code: codes.INVALID_OPTION }));
    expect(() => registry.set('taken', 1)).toThrow(TypeError);
    expect(() => registry.sumOf('taken', 'x.*')).toThrow(TypeError);
  });

  it.each(['', 'a..b', '.a', 'a.', 'a b', 'a/b', 'ä', 'x'.repeat(201), 42 as unknown as string])('bad name %p is a TypeError', (name) => {
    const { registry } = testRegistry();
    expect(() => registry.counter(name)).toThrow(expect.objectContaining({ code: codes.INVALID_OPTION }));
  });

  it('bad options are TypeErrors', () => {
    const { registry } = testRegistry();
    expect(() => registry.counter('a', { level: 'verbose' as never })).toThrow(TypeError);
    expect(() => registry.counter('b', { labels: ['ok', 'ok'] })).toThrow(TypeError);
    expect(() => registry.counter('c', { labels: ['__reserved'] })).toThrow(TypeError);
    expect(() => registry.counter('d', { maxSeries: 0 })).toThrow(TypeError);
    expect(() => registry.histogram('e', { windowMs: 1.5 })).toThrow(TypeError);
    expect(() => registry.counter('f', { colour: 'red' } as never)).toThrow(TypeError);
    expect(() => registry.counter('g', { labels: ['x'] }) && registry.counter('g', { labels: ['y'] })).toThrow(TypeError);
  });
});

describe('record-time faults never throw: counted and reported', () => {
  it('NaN, negatives, infinities and non-numbers', () => {
    const { registry, events } = testRegistry();
    const counter = registry.counter('c');
    const gauge = registry.gauge('g');
    const histogram = registry.histogram('h');
    const meter = registry.meter('m');
    expect(() => {
      counter.inc(-1);
      counter.inc(NaN);
      counter.inc(Infinity);
      counter.inc('5' as unknown as number);
      gauge.set(NaN);
      gauge.inc(NaN);
      histogram.record(-3);
      histogram.record(NaN);
      histogram.record(Infinity);
      meter.mark(-1);
    }).not.toThrow();
    counter.inc(2);
    gauge.set(-7.5);
    histogram.record(0);
    expect(registry.snapshot()).toMatchObject({ c: 2, g: -7.5, h: { count: 1, sum: 0, min: 0, max: 0, p50: 0, p999: 0 } });
    expect(registry.stats().invalidValues).toBe(10);
    expect(events.every((e) => e.code === codes.METRIC_INVALID_VALUE)).toBe(true);
    expect(events).toHaveLength(10);
  });

  it('a labelled metric used without .labels() records nothing and is reported', () => {
    const { registry, events } = testRegistry();
    const family = registry.counter('status', { labels: ['code'] });
    family.inc();
    expect(registry.snapshot()).toEqual({ status: {} });
    expect(events.map((e) => e.code)).toEqual([codes.METRIC_INVALID_VALUE]);
  });
});

describe('labels', () => {
  it('bound children: keyed by label values joined by "," in declared order', () => {
    const { registry } = testRegistry();
    const requests = registry.counter('http.requests', { labels: ['method', 'status'] });
    const ok = requests.labels({ status: 200, method: 'GET' });
    ok.inc();
    ok.inc();
    requests.labels({ method: 'POST', status: '500' }).inc();
    expect(requests.labels({ method: 'GET', status: '200' })).toBe(ok);
    expect(registry.snapshot()).toEqual({ http: { requests: { 'GET,200': 2, 'POST,500': 1 } } });
    const collected = registry.collect().find((m) => m.name === 'http.requests');
    expect(collected?.labelNames).toEqual(['method', 'status']);
    expect(collected?.series).toEqual([
      { labelValues: ['GET', '200'], value: 2 },
      { labelValues: ['POST', '500'], value: 1 },
    ]);
  });

  it('undeclared or missing label names are TypeErrors at bind time', () => {
    const { registry } = testRegistry();
    const requests = registry.counter('r', { labels: ['method'] });
    requests.labels({ method: 'GET' }).inc();
    expect(() => requests.labels({ method: 'GET', path: '/x' })).toThrow(expect.objectContaining({ code: codes.INVALID_OPTION }));
    expect(() => requests.labels({})).toThrow(TypeError);
    expect(() => registry.counter('plain').labels({ a: '1' })).toThrow(TypeError);
    expect(registry.counter('plain').labels({})).toBe(registry.counter('plain'));
  });

  it('label values that are object keys of note (__proto__) stay plain data', () => {
    const { registry } = testRegistry();
    registry.counter('k', { labels: ['v'] }).labels({ v: '__proto__' }).inc(4);
    const k = registry.snapshot().k as Record<string, unknown>;
    expect(Object.keys(k)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(k, '__proto__')?.value).toBe(4);
  });

  it('series are capped at maxSeries; the rest share one overflow series, counted and reported once', () => {
    const { registry, events } = testRegistry();
    const users = registry.counter('users', { labels: ['id'], maxSeries: 3 });
    const children: Counter[] = [];
    for (let i = 0; i < 10; i++) {
      const child = users.labels({ id: i });
      child.inc();
      children.push(child);
    }
    const snapshot = registry.snapshot().users as Record<string, number>;
    expect(Object.keys(snapshot)).toEqual(['0', '1', '2', OVERFLOW_LABEL_VALUE]);
    expect(snapshot[OVERFLOW_LABEL_VALUE]).toBe(7);
    expect(new Set(children.slice(3)).size).toBe(1);
    expect(registry.stats().seriesOverflows).toBe(7);
    expect(events.filter((e) => e.code === codes.METRIC_SERIES_OVERFLOW)).toHaveLength(1);
    // A series that existed before the cap is still its own.
    expect(users.labels({ id: 1 })).toBe(children[1]);
  });

  it('labelled histograms, gauges and meters', () => {
    const { registry } = testRegistry();
    registry.histogram('lat', { labels: ['route'] }).labels({ route: '/a' }).record(5);
    registry.gauge('temp', { labels: ['room'] }).labels({ room: 'k' }).set(21.5);
    registry.meter('hits', { labels: ['route'] }).labels({ route: '/a' }).mark(2);
    expect(registry.snapshot()).toMatchObject({
      lat: { '/a': { count: 1, sum: 5, min: 5, max: 5 } },
      temp: { k: 21.5 },
      hits: { '/a': { count: 2 } },
    });
  });
});

describe('levels', () => {
  it('a metric below the level is one shared no-op, absent from snapshots and collect', () => {
    const { registry } = testRegistry();
    registry.configure({ level: 'warn' });
    const debug = registry.counter('d', { level: 'debug' });
    const info = registry.histogram('i');
    const error = registry.counter('e', { level: 'error' });
    expect(debug).toBe(info as unknown);
    expect(debug.labels({ anything: 'x' })).toBe(debug);
    debug.inc();
    info.record(5);
    error.inc();
    expect(registry.snapshot()).toEqual({ e: 1 });
    expect(registry.collect().map((m) => m.name)).toEqual(['e']);
    // The name keeps its type even while disabled.
    expect(() => registry.gauge('d')).toThrow(TypeError);
  });

  it('applies to metrics created after it is set; collect filters by level too', () => {
    const { registry } = testRegistry();
    registry.configure({ level: 'error' });
    const early = registry.counter('early');
    registry.configure({ level: 'debug' });
    const late = registry.counter('early');
    expect(late).not.toBe(early);
    late.inc();
    registry.counter('verbose', { level: 'debug' }).inc();
    expect(registry.snapshot()).toEqual({ early: 1, verbose: 1 });
    expect(registry.collect({ level: 'info' }).map((m) => m.name)).toEqual(['early']);
  });
});

describe('snapshot shapes', () => {
  it('a path that extends a histogram sits beside its fields; one that extends a number turns it into { value }', () => {
    const { registry } = testRegistry();
    registry.histogram('db.query').record(2);
    registry.counter('db.query.errors').inc();
    registry.counter('jobs').inc(5);
    registry.counter('jobs.failed').inc(1);
    expect(registry.snapshot()).toEqual({
      db: { query: expect.objectContaining({ count: 1, errors: 1, p50: 2 }) },
      jobs: { value: 5, failed: 1 },
    });
  });

  it('meters: count, mean, m1, m5, m15', () => {
    const { registry, clock } = testRegistry();
    const meter = registry.meter('events');
    meter.mark(50);
    clock.advance(5000);
    expect(registry.snapshot().events).toEqual({ count: 50, mean: 10, m1: 10, m5: 10, m15: 10 });
  });

  it('collect gives histogram series their mergeable state', () => {
    const { registry } = testRegistry();
    registry.histogram('h', { description: 'latency', unit: 'ms' }).record(10);
    const [metric] = registry.collect();
    expect(metric).toMatchObject({ name: 'h', type: 'histogram', description: 'latency', unit: 'ms', labelNames: [], level: 'info' });
    expect(metric.series[0].state).toMatchObject({ v: 1, count: 1, sum: 10 });
  });

  it('reset forgets every metric', () => {
    const { registry } = testRegistry();
    registry.incr('x');
    registry.reset();
    expect(registry.snapshot()).toEqual({});
    expect(registry.counter('x')).toBeDefined();
  });
});
