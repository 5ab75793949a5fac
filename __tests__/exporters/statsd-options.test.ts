import { StatsD } from 'hot-shots';
import { StatsdExporter, type StatsdExporterOptions } from '../../exporters/statsd';

function expectInvalid(make: () => unknown, message: RegExp): void {
  let thrown: unknown;
  try {
    make();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(TypeError);
  expect((thrown as TypeError & { code: string }).code).toBe('TOMOGRAPH_ERR_INVALID_OPTION');
  expect((thrown as Error).message).toMatch(message);
}

const exporters: StatsdExporter[] = [];
afterEach(async () => {
  await Promise.all(exporters.splice(0).map((exporter) => exporter.shutdown()));
});

describe('StatsdExporter options', () => {
  test.each<[string, unknown, RegExp]>([
    ['not an object', 'udp://x', /options object/],
    ['an unknown option', { hots: 'x' }, /unknown option "hots"/],
    ['an empty host', { host: '' }, /host must be a non-empty string/],
    ['a port out of range', { port: 70000 }, /port must be an integer port from 1 to 65535/],
    ['a port that is not an integer', { port: 81.5 }, /port/],
    ['a port given as a string', { port: '8125' }, /port must be an integer port from 1 to 65535, not the string "8125"$/],
    ['an unknown protocol', { protocol: 'http' }, /protocol must be 'udp', 'tcp' or 'uds'/],
    ['an empty uds path', { protocol: 'uds', path: '' }, /path must be a non-empty string/],
    ['cacheDns not a boolean', { cacheDns: 'yes' }, /cacheDns must be a boolean/],
    ['a prefix not a string', { prefix: 1 }, /prefix must be a string/],
    ['an empty hostname', { hostname: ' ' }, /hostname must be a non-empty string/],
    ['tags not a boolean', { tags: 1 }, /tags must be a boolean/],
    ['telegraf not a boolean', { telegraf: 'no' }, /telegraf must be a boolean/],
    ['globalTags with a number', { globalTags: { env: 1 } }, /globalTags/],
    ['globalTags as a string', { globalTags: 'env:prod' }, /globalTags/],
    ['a negative maxBufferSize', { maxBufferSize: -1 }, /maxBufferSize must be an integer >= 0/],
    ['maxNames of 0', { maxNames: 0 }, /maxNames must be an integer >= 1/],
    ['a negative reconnectIntervalMs', { reconnectIntervalMs: -5 }, /reconnectIntervalMs/],
    ['clientOptions not an object', { clientOptions: 3 }, /clientOptions must be an object/],
    ['an errorHandler in clientOptions', { clientOptions: { errorHandler: () => undefined } }, /use onDiagnostic/],
    ['onDiagnostic not a function', { onDiagnostic: 'log' }, /onDiagnostic must be a function/],
    ['a client that is not a hot-shots client', { client: {} }, /client must be a hot-shots StatsD client/],
  ])('rejects %s with a TypeError coded TOMOGRAPH_ERR_INVALID_OPTION', (_why, options, message) => {
    expectInvalid(() => new StatsdExporter(options as StatsdExporterOptions), message);
  });

  test('rejects transport options beside your own client', () => {
    const client = new StatsD({ mock: true });
    expectInvalid(() => new StatsdExporter({ client, host: '10.0.0.1' }), /host cannot be combined with client/);
    expectInvalid(() => new StatsdExporter({ client, clientOptions: {} }), /clientOptions cannot be combined/);
  });

  test('a bad TOMOGRAPH_STATSD_PORT is a clear TypeError naming the variable', () => {
    const saved = process.env.TOMOGRAPH_STATSD_PORT;
    process.env.TOMOGRAPH_STATSD_PORT = 'eighty';
    try {
      expectInvalid(() => new StatsdExporter(), /TOMOGRAPH_STATSD_PORT \("eighty"\)/);
    } finally {
      if (saved === undefined) delete process.env.TOMOGRAPH_STATSD_PORT;
      else process.env.TOMOGRAPH_STATSD_PORT = saved;
    }
  });

  test('valid options, every protocol, construct without throwing and shut down', async () => {
    const onDiagnostic = jest.fn();
    for (const options of [
      {},
      { protocol: 'udp', cacheDns: false, maxBufferSize: 0, prefix: '', tags: true, telegraf: true },
      { protocol: 'tcp', port: 9, reconnectIntervalMs: 0, globalTags: ['env:test'] },
      // No socket there: the fault goes to onDiagnostic, not to the caller.
      { protocol: 'uds', path: `/tmp/tomograph-no-such-socket-${process.pid}` },
    ] as StatsdExporterOptions[]) {
      const exporter = new StatsdExporter({ ...options, onDiagnostic });
      exporters.push(exporter);
      expect(() => exporter.export([])).not.toThrow();
    }
    await Promise.all(exporters.splice(0).map((exporter) => exporter.shutdown()));
    // The missing UDS socket was reported, not thrown.
    expect(onDiagnostic.mock.calls.some(([event]) => /tomograph-no-such-socket/.test(event.message))).toBe(true);
  });

  test('shutdown() twice is fine, and exports after it are dropped quietly', async () => {
    const exporter = new StatsdExporter({ port: 9 });
    const first = exporter.shutdown();
    expect(exporter.shutdown()).toBe(first);
    await first;
    expect(() => exporter.export([])).not.toThrow();
    await exporter.flush();
  });
});

describe('diagnostics through the tracer', () => {
  it('reports transport faults through the tracer that took it, unless given its own listener', async () => {
    const { Tracer } = await import('../../lib/tracer');
    const seen: string[] = [];
    const own: string[] = [];
    const viaTracer = new StatsdExporter({ host: 'nonexistent.invalid', port: 8125 });
    const withOwn = new StatsdExporter({ host: 'nonexistent.invalid', port: 8125, onDiagnostic: (e) => own.push(e.code) });
    const tracer = new Tracer({
      serviceName: 'attach',
      exporters: [viaTracer, withOwn],
      scheduledDelayMs: 0,
      onDiagnostic: (e) => seen.push(e.code),
    });
    tracer.trace('work', () => undefined);
    await tracer.flush();
    await tracer.shutdown();
    expect(seen).toContain('TOMOGRAPH_TRANSPORT_ERROR');
    expect(own).toContain('TOMOGRAPH_TRANSPORT_ERROR');
  });
});
