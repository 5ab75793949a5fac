import { rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatsD } from 'hot-shots';
import { StatsdExporter, type StatsdExporterOptions } from '../../exporters/statsd';
import { sanitizeSegment } from '../../exporters/statsd-names';
import { ManualClock, Tracer } from '../../lib';
import type { DiagnosticEvent } from '../../lib/types';
import { useStatsdDaemons } from '../helpers/statsd-daemon';

const HOST = 'test-host.example';
const HOST_SEGMENT = 'test-host_example';

const statsd = useStatsdDaemons('t', () => ({ hostname: HOST }));
const { uniquePrefix, makeExporter } = statsd;

/** A tracer on a manual clock, exporting at once, so durations are exact. */
function makeTracer(exporter: StatsdExporter, serviceName = 'shop'): { tracer: Tracer; clock: ManualClock } {
  const clock = new ManualClock();
  const tracer = new Tracer({ serviceName, exporters: [exporter], scheduledDelayMs: 0, clock });
  return { tracer, clock };
}

/** A request: root `GET /users/:id` (rootMs) with child `load user` (childMs), failing if asked. */
function request(tracer: Tracer, clock: ManualClock, rootMs: number, childMs: number, fail: boolean): void {
  tracer.trace('GET /users/:id', () => {
    try {
      tracer.trace('load user', (span) => {
        span.annotate('cache miss');
        tracer.trace('select', () => clock.advance(2000));
        clock.advance(childMs * 1000 - 2000);
        if (fail) throw new Error('db down');
      });
    } catch {
      // the app handles it
    }
    clock.advance((rootMs - childMs) * 1000);
  });
}

/** Collects diagnostics and lets a test await the next one. */
function diagnosticsSink() {
  const events: DiagnosticEvent[] = [];
  let notify: (() => void) | undefined;
  return {
    events,
    onDiagnostic(event: DiagnosticEvent) {
      events.push(event);
      notify?.();
    },
    /** Resolves once at least `n` events have arrived. */
    atLeast(n: number): Promise<DiagnosticEvent[]> {
      if (events.length >= n) return Promise.resolve(events);
      return new Promise((resolve) => {
        notify = () => {
          if (events.length >= n) resolve(events);
        };
      });
    },
  };
}

describe('StatsdExporter: hierarchical names against the real StatsD daemon', () => {
  test('timers per span (ok/error) and counters per note form carpy\'s tree, with mean, upper and count', async () => {
    const prefix = uniquePrefix();
    const exporter = makeExporter({ port: statsd.udp.port, prefix });
    const { tracer, clock } = makeTracer(exporter);

    request(tracer, clock, 30, 10, false);
    request(tracer, clock, 50, 20, true);
    request(tracer, clock, 70, 12, false);
    await tracer.flush();

    const root = `${prefix}.shop.${HOST_SEGMENT}.GET_users_id`;
    const rootOk = await statsd.udp.timer(`${root}.ok`, 3);
    expect(rootOk).toMatchObject({ count: 3, upper: 70, lower: 30, mean: 50 });

    const childOk = await statsd.udp.timer(`${root}.children.load_user.ok`, 2);
    expect(childOk).toMatchObject({ count: 2, upper: 12, lower: 10, mean: 11 });
    const childError = await statsd.udp.timer(`${root}.children.load_user.error`, 1);
    expect(childError).toMatchObject({ count: 1, upper: 20, mean: 20 });

    const grandchild = await statsd.udp.timer(`${root}.children.load_user.children.select.ok`, 3);
    expect(grandchild).toMatchObject({ count: 3, upper: 2, mean: 2 });

    expect(await statsd.udp.counter(`${root}.children.load_user.notes.cache_miss`, 3)).toBe(3);
    expect(await statsd.udp.counter(`${root}.children.load_user.notes.error`, 1)).toBe(1);

    // Nothing else under this prefix: no `.error` for the root, no stray names.
    const names = new Set(statsd.udp.linesFor(prefix).map((line) => line.slice(0, line.indexOf(':'))));
    expect([...names].sort()).toEqual([
      `${root}.children.load_user.children.select.ok`,
      `${root}.children.load_user.error`,
      `${root}.children.load_user.notes.cache_miss`,
      `${root}.children.load_user.notes.error`,
      `${root}.children.load_user.ok`,
      `${root}.ok`,
    ]);
    // The wire format: a timer in milliseconds, a counter of 1.
    expect(statsd.udp.linesFor(`${root}.ok:`)).toEqual([`${root}.ok:30|ms`, `${root}.ok:50|ms`, `${root}.ok:70|ms`]);
    expect(statsd.udp.linesFor(`${root}.children.load_user.notes.error:`)).toEqual([
      `${root}.children.load_user.notes.error:1|c`,
    ]);
  });

  test('fractional milliseconds, the local root of a continued trace, and a span renamed before it ends', async () => {
    const prefix = uniquePrefix();
    const exporter = makeExporter({ port: statsd.udp.port, prefix });
    const { tracer, clock } = makeTracer(exporter, 'billing svc');

    // A trace continued from another process: the local root has a remote parent.
    tracer.continueTrace('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'consume job', (span) => {
      span.updateName('consume invoice.created');
      tracer.trace('render pdf', () => clock.advance(1234));
      clock.advance(1);
    });
    await tracer.flush();

    const root = `${prefix}.billing_svc.${HOST_SEGMENT}.consume_invoice_created`;
    expect(await statsd.udp.timer(`${root}.ok`)).toMatchObject({ count: 1, upper: 1.235 });
    expect(await statsd.udp.timer(`${root}.children.render_pdf.ok`)).toMatchObject({ count: 1, upper: 1.234 });
  });

  test('the host segment defaults to os.hostname(), and the prefix defaults to tomograph', async () => {
    const exporter = makeExporter({ port: statsd.udp.port, hostname: undefined });
    const service = uniquePrefix();
    const { tracer, clock } = makeTracer(exporter, service);
    tracer.trace('tick', () => clock.advance(5000));
    await tracer.flush();
    expect(await statsd.udp.timer(`tomograph.${service}.${sanitizeSegment(hostname())}.tick.ok`)).toMatchObject({
      count: 1,
      mean: 5,
    });
  });

  test('TOMOGRAPH_STATSD_HOST and TOMOGRAPH_STATSD_PORT are the defaults of host and port', async () => {
    const saved = { host: process.env.TOMOGRAPH_STATSD_HOST, port: process.env.TOMOGRAPH_STATSD_PORT };
    process.env.TOMOGRAPH_STATSD_HOST = '127.0.0.1';
    process.env.TOMOGRAPH_STATSD_PORT = String(statsd.udp.port);
    const prefix = uniquePrefix();
    let exporter: StatsdExporter;
    try {
      exporter = makeExporter({ prefix });
    } finally {
      for (const [key, value] of [['TOMOGRAPH_STATSD_HOST', saved.host], ['TOMOGRAPH_STATSD_PORT', saved.port]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
    const { tracer, clock } = makeTracer(exporter);
    tracer.trace('from env', () => clock.advance(1000));
    await tracer.flush();
    expect(await statsd.udp.timer(`${prefix}.shop.${HOST_SEGMENT}.from_env.ok`)).toMatchObject({ count: 1 });
  });

  test('many spans in one export share packets (maxBufferSize) and all arrive', async () => {
    const prefix = uniquePrefix();
    const exporter = makeExporter({ port: statsd.udp.port, prefix });
    const { tracer, clock } = makeTracer(exporter);
    const packetsBefore = statsd.udp.counters.get('statsd.packets_received') ?? 0;
    for (let i = 0; i < 200; i++) tracer.trace('batch item', () => clock.advance(1000));
    await tracer.flush();
    const timer = await statsd.udp.timer(`${prefix}.shop.${HOST_SEGMENT}.batch_item.ok`, 200);
    expect(timer.count).toBe(200);
    // The flush that completed the timer also counted its packets (tests in a file run one at a
    // time). 200 lines of ~50 bytes in 1432-byte packets: a handful of packets, not 200.
    const packets = (statsd.udp.counters.get('statsd.packets_received') ?? 0) - packetsBefore;
    expect(packets).toBeGreaterThan(0);
    expect(packets).toBeLessThan(20);
  });
});

describe('StatsdExporter: tags: true', () => {
  test('timer <prefix>.span and counter <prefix>.note with service, span, status and note tags', async () => {
    const prefix = uniquePrefix();
    const exporter = makeExporter({ port: statsd.udp.port, prefix, tags: true, globalTags: { env: 'test' } });
    const { tracer, clock } = makeTracer(exporter);
    request(tracer, clock, 30, 10, false);
    request(tracer, clock, 50, 20, true);
    await tracer.flush();

    const rootOk = `${prefix}.span;env=test;service=shop;span=GET_users_id;status=ok`;
    expect(await statsd.udp.timer(rootOk, 2)).toMatchObject({ count: 2, mean: 40, upper: 50 });
    const childError = `${prefix}.span;env=test;service=shop;span=load_user;status=error`;
    expect(await statsd.udp.timer(childError, 1)).toMatchObject({ count: 1, mean: 20 });
    const missKey = `${prefix}.note;env=test;service=shop;span=load_user;note=cache_miss`;
    expect(await statsd.udp.counter(missKey, 2)).toBe(2);
    expect(statsd.udp.linesFor(`${prefix}.span:30|ms`)).toEqual([
      `${prefix}.span:30|ms|#env:test,service:shop,span:GET_users_id,status:ok`,
    ]);
  });
});

describe('StatsdExporter: TCP', () => {
  test('delivers over TCP to the daemon\'s TCP server', async () => {
    const prefix = uniquePrefix();
    const exporter = makeExporter({ protocol: 'tcp', port: statsd.tcp.port, prefix });
    const { tracer, clock } = makeTracer(exporter);
    request(tracer, clock, 30, 10, false);
    await tracer.flush();
    expect(await statsd.tcp.timer(`${prefix}.shop.${HOST_SEGMENT}.GET_users_id.ok`)).toMatchObject({ count: 1, mean: 30 });
    expect(await statsd.tcp.counter(`${prefix}.shop.${HOST_SEGMENT}.GET_users_id.children.load_user.notes.cache_miss`)).toBe(1);
  });
});

describe('StatsdExporter: your own hot-shots client', () => {
  test('uses it, flushes it on shutdown, and leaves it open', async () => {
    const client = new StatsD({ host: '127.0.0.1', port: statsd.udp.port, errorHandler: () => undefined });
    try {
      const prefix = uniquePrefix();
      const exporter = makeExporter({ client, prefix });
      const { tracer, clock } = makeTracer(exporter);
      tracer.trace('own client', () => clock.advance(3000));
      await tracer.shutdown();
      expect(await statsd.udp.timer(`${prefix}.shop.${HOST_SEGMENT}.own_client.ok`)).toMatchObject({ count: 1, mean: 3 });
      client.increment(`${prefix}.still_open`);
      expect(await statsd.udp.counter(`${prefix}.still_open`)).toBe(1);
    } finally {
      await new Promise((resolve) => client.close(resolve));
    }
  });
});

describe('StatsdExporter: Unix datagram socket (protocol: \'uds\')', () => {
  // The StatsD daemon cannot listen on a Unix datagram socket, so a unix-dgram server (the
  // package hot-shots itself uses for UDS) stands in as the receiving end.
  interface UnixDgramSocket {
    bind(path: string): void;
    close(): void;
    on(event: 'listening', listener: () => void): void;
    on(event: 'message', listener: (buf: Buffer) => void): void;
    on(event: 'error', listener: (error: Error) => void): void;
  }
  const unixDgram = require('unix-dgram') as { createSocket(type: 'unix_dgram'): UnixDgramSocket };

  test('sends the same names over a Unix datagram socket at `path`', async () => {
    const path = join(tmpdir(), `tomograph-statsd-${process.pid}-${Date.now()}.sock`);
    const server = unixDgram.createSocket('unix_dgram');
    const lines: string[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        server.on('listening', resolve);
        server.on('error', reject);
        server.bind(path);
      });
      const prefix = uniquePrefix();
      const root = `${prefix}.shop.${HOST_SEGMENT}.GET_users_id`;
      const received = new Promise<void>((resolve) => {
        server.on('message', (buf) => {
          lines.push(...buf.toString().split('\n'));
          if (lines.includes(`${root}.ok:30|ms`)) resolve();
        });
      });
      const exporter = makeExporter({ protocol: 'uds', path, prefix });
      const { tracer, clock } = makeTracer(exporter);
      request(tracer, clock, 30, 10, false);
      await tracer.flush();
      await received;
      expect(lines).toEqual(expect.arrayContaining([
        `${root}.children.load_user.children.select.ok:2|ms`,
        `${root}.children.load_user.notes.cache_miss:1|c`,
        `${root}.children.load_user.ok:10|ms`,
        `${root}.ok:30|ms`,
      ]));
    } finally {
      server.close();
      rmSync(path, { force: true });
    }
  });
});
