import { hostname } from 'node:os';
import { GraphiteExporter } from 'tomograph/graphite';
import { compileGlob, formatValue, GraphiteRules, SnapshotLines } from '../../exporters/graphite-lines';

function render(tree: unknown, prefix = 'p.', rules = new GraphiteRules(), ts = 1700000000): { lines: string[]; skipped: ReturnType<SnapshotLines['render']> } {
  const lines: string[] = [];
  const skipped = new SnapshotLines(prefix, rules).render(tree, ts, lines);
  return { lines, skipped };
}

describe('Graphite lines', () => {
  test('every numeric leaf, one line each, path value timestamp', () => {
    const { lines } = render({
      web: { requests: 101, latency: { count: 3, sum: 0.6, p99: 0.3 } },
      label: 'not a number',
      ok: true,
      nothing: null,
    });
    expect(lines).toEqual([
      'p.web.requests 101 1700000000\n',
      'p.web.latency.count 3 1700000000\n',
      'p.web.latency.sum 0.6 1700000000\n',
      'p.web.latency.p99 0.3 1700000000\n',
    ]);
  });

  test('values are exact: no rounding (scales printed 0.00001 as 0.00), shortest round-trip form', () => {
    const values = [0.00001, 1e-7, 1 / 3, 123456789.123, 1e21, 2 ** 53 + 2, -2.5, 5e-324, Number.MAX_VALUE];
    for (const value of values) {
      const text = formatValue(value) as string;
      expect(Number.parseFloat(text)).toBe(value);
    }
    expect(formatValue(0.00001)).toBe('0.00001');
    expect(formatValue(-0)).toBe('0');
    expect(formatValue(Number.NaN)).toBeUndefined();
    expect(formatValue(Number.POSITIVE_INFINITY)).toBeUndefined();
  });

  test('NaN and infinities are never sent (carbon drops them) and are counted', () => {
    const { lines, skipped } = render({ a: Number.NaN, b: Number.NEGATIVE_INFINITY, c: 1 });
    expect(lines).toEqual(['p.c 1 1700000000\n']);
    expect(skipped.nonFinite).toBe(2);
    expect(skipped.example).toBe('a');
  });

  test('each key is sanitised as one segment, as span names are for StatsD', () => {
    const { lines } = render({ 'GET /users/:id': { 'p 99': 1 }, requests: { '200,GET': 4, 'a.b': 2, '': 3 } });
    expect(lines).toEqual([
      'p.GET_users_id.p_99 1 1700000000\n',
      'p.requests.200_GET 4 1700000000\n',
      'p.requests.a_b 2 1700000000\n',
      'p.requests._ 3 1700000000\n',
    ]);
  });

  test('no line over carbon limits: a segment over 255 bytes or a line over 16 KB is skipped and counted', () => {
    const { lines, skipped } = render({ ['x'.repeat(256)]: 1, ['y'.repeat(255)]: 2 });
    expect(lines).toEqual([`p.${'y'.repeat(255)} 2 1700000000\n`]);
    expect(skipped.tooLong).toBe(1);
    const deep: Record<string, unknown> = {};
    let node = deep;
    for (let i = 0; i < 64; i++) node = (node['s'.repeat(255)] = {}) as Record<string, unknown>;
    node.v = 1;
    const result = render(deep);
    expect(result.lines.length).toBe(0);
    expect(result.skipped.tooLong).toBe(1);
  });

  test('timestamps are whole seconds', () => {
    expect(render({ a: 1 }, '', undefined, 1700000000.999).lines).toEqual(['a 1 1700000000\n']);
  });
});

describe('Graphite rules', () => {
  test('globs: * within a segment, ** across, ? one character', () => {
    expect(compileGlob('web.*.p99').test('web.latency.p99')).toBe(true);
    expect(compileGlob('web.*.p99').test('web.a.b.p99')).toBe(false);
    expect(compileGlob('web.**').test('web.a.b.p99')).toBe(true);
    expect(compileGlob('db.q?').test('db.q1')).toBe(true);
    expect(compileGlob('a+b.(c)').test('a+b.(c)')).toBe(true);
  });

  test('everything is allowed until a rule says otherwise; the newest matching rule wins', () => {
    const rules = new GraphiteRules();
    expect(rules.allows('web.latency.p99', 1)).toBe(true);
    rules.add(false, 'web.**');
    rules.add(true, 'web.latency.*');
    rules.add(false, 'web.latency.p999');
    expect(rules.allows('web.requests', 1)).toBe(false);
    expect(rules.allows('web.latency.p99', 1)).toBe(true);
    expect(rules.allows('web.latency.p999', 1)).toBe(false);
    expect(rules.allows('db.queries', 1)).toBe(true);
  });

  test('function rules see path and value; one that throws matches nothing and is recorded', () => {
    const rules = new GraphiteRules();
    rules.add(false, (_path, value) => value === 0);
    rules.add(true, () => {
      throw new Error('rule bug');
    });
    expect(rules.allows('a', 0)).toBe(false);
    expect(rules.allows('a', 1)).toBe(true);
    expect((rules.failure as Error).message).toBe('rule bug');
  });

  test('rules apply to the path without the prefix', () => {
    const rules = new GraphiteRules();
    rules.add(false, 'web.*');
    const { lines, skipped } = render({ web: { a: 1 }, db: { b: 2 } }, 'host1.', rules);
    expect(lines).toEqual(['host1.db.b 2 1700000000\n']);
    expect(skipped.forbidden).toBe(1);
  });
});

describe('GraphiteExporter options', () => {
  const registry = { snapshot: () => ({}) };

  test('wrong options throw TOMOGRAPH_ERR_INVALID_OPTION at construction', () => {
    const bad: unknown[] = [
      { port: 0 }, { port: 'x' }, { host: '' }, { intervalMs: 10 }, { prefix: 3 }, { maxBufferedLines: 0 },
      { minBackoffMs: 100, maxBackoffMs: 50 }, { registry: {} }, { onDiagnostic: 'x' }, { nope: 1 },
    ];
    for (const options of bad) {
      expect(() => new GraphiteExporter({ registry, ...(options as object) })).toThrow(
        expect.objectContaining({ name: 'TypeError', code: 'TOMOGRAPH_ERR_INVALID_OPTION' }),
      );
    }
    const exporter = new GraphiteExporter({ registry });
    expect(() => exporter.allow(3 as never)).toThrow(TypeError);
    void exporter.shutdown();
  });

  test('the default prefix is the lower-cased host name as one segment', async () => {
    const lines: string[] = [];
    const server = await import('node:net').then((net) => net.createServer((socket) => {
      socket.setEncoding('utf8');
      socket.on('data', (data: string) => lines.push(...data.split('\n').filter(Boolean)));
    }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const exporter = new GraphiteExporter({ port, registry: { snapshot: () => ({ a: 1 }) }, now: () => 1700000000000 });
    await exporter.shutdown();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const expected = hostname().toLowerCase().replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '');
    expect(lines).toEqual([`${expected}.a 1 1700000000`]);
  });
});

describe('GraphiteExporter with a MetricsRegistry', () => {
  async function lineServer(): Promise<{ port: number; lines: string[]; close(): Promise<void> }> {
    const net = await import('node:net');
    const lines: string[] = [];
    let rest = '';
    const server = net.createServer((socket) => {
      socket.setEncoding('utf8');
      socket.on('data', (data: string) => {
        const parts = (rest + data).split('\n');
        rest = parts.pop() as string;
        lines.push(...parts);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      port: (server.address() as { port: number }).port,
      lines,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  test('level: only metrics at or above it are pushed, in the snapshot tree shape', async () => {
    const { MetricsRegistry } = await import('tomograph/metrics');
    const registry = new MetricsRegistry({ clock: () => 1000 });
    registry.counter('a.debugged', { level: 'debug' }).inc(1);
    registry.counter('a.info').inc(2);
    registry.gauge('a.warned', { level: 'warn' }).set(3);
    registry.counter('b.status', { labels: ['code'], level: 'error' }).labels({ code: '500' }).inc(4);
    const server = await lineServer();
    const exporter = new GraphiteExporter({ port: server.port, prefix: 'p', registry, level: 'warn', now: () => 1700000000000 });
    expect(exporter.level).toBe('warn');
    await exporter.shutdown();
    await server.close();
    expect(server.lines).toEqual(['p.a.warned 3 1700000000', 'p.b.status.500 4 1700000000']);
    expect(() => new GraphiteExporter({ registry: { snapshot: () => ({}) }, level: 'warn' })).toThrow(/collect/);
    expect(() => new GraphiteExporter({ registry, level: 'loud' as never })).toThrow(TypeError);
  });

  test('given to configure({ exporters }), it is shut down (and flushed) with the registry', async () => {
    const { MetricsRegistry } = await import('tomograph/metrics');
    const registry = new MetricsRegistry({ clock: () => 1000 });
    registry.counter('jobs').inc(5);
    const server = await lineServer();
    const exporter = new GraphiteExporter({ port: server.port, prefix: 'p', registry, now: () => 1700000000000 });
    registry.configure({ exporters: [exporter] });
    await registry.shutdown();
    await server.close();
    expect(server.lines).toEqual(['p.jobs 5 1700000000']);
  });
});
