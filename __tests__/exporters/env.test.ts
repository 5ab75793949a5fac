import { hostname } from 'node:os';
import { sanitizeSegment } from '../../exporters/statsd-names';
import type { Exporter } from '../../lib/types';
import { StatsdDaemon } from '../helpers/statsd-daemon';
import { ZipkinCollector } from '../helpers/zipkin-collector';

// `configure` with no `exporters` takes them from TOMOGRAPH_ZIPKIN_URL and TOMOGRAPH_STATSD_HOST
// (+ TOMOGRAPH_STATSD_PORT). The package entry `tomograph` registers those; lib/ does not know them.

const VARIABLES = ['TOMOGRAPH_ZIPKIN_URL', 'TOMOGRAPH_STATSD_HOST', 'TOMOGRAPH_STATSD_PORT', 'TOMOGRAPH_SERVICE_NAME'];
let saved: Record<string, string | undefined>;

beforeEach(() => {
  saved = Object.fromEntries(VARIABLES.map((key) => [key, process.env[key]]));
  for (const key of VARIABLES) delete process.env[key];
});

afterEach(() => {
  for (const key of VARIABLES) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
});

/** The `tomograph` entry in a fresh module registry, with the exporter modules it loads recorded. */
function loadEntry(): { entry: typeof import('tomograph'); loaded: string[] } {
  const loaded: string[] = [];
  let entry!: typeof import('tomograph');
  jest.isolateModules(() => {
    for (const name of ['zipkin', 'statsd']) {
      jest.doMock(`../../exporters/${name}`, () => {
        loaded.push(name);
        return jest.requireActual(`../../exporters/${name}`);
      });
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    entry = require('tomograph');
  });
  return { entry, loaded };
}

describe('exporters from the environment', () => {
  it('TOMOGRAPH_ZIPKIN_URL: spans reach that collector', async () => {
    const collector = await ZipkinCollector.start();
    try {
      process.env.TOMOGRAPH_ZIPKIN_URL = ` ${collector.url} `;
      const service = `env-zipkin-${process.pid}`;
      const { entry, loaded } = loadEntry();
      const tracer = new entry.Tracer({ serviceName: service });
      tracer.trace('from env', () => undefined);
      await tracer.shutdown();
      expect(tracer.stats().spansExported).toBe(1);
      await collector.waitForSpans(1);
      expect(collector.spans).toMatchObject([{ name: 'from env', localEndpoint: { serviceName: service } }]);
      expect(collector.posts.every((post) => post.problems.length === 0)).toBe(true);
      expect(loaded).toEqual(['zipkin']);
    } finally {
      await collector.stop();
    }
  });

  it('TOMOGRAPH_STATSD_HOST and TOMOGRAPH_STATSD_PORT: timers reach that daemon', async () => {
    const daemon = await StatsdDaemon.start();
    try {
      process.env.TOMOGRAPH_STATSD_HOST = '127.0.0.1';
      process.env.TOMOGRAPH_STATSD_PORT = String(daemon.port);
      const service = `env-statsd-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
      const { entry, loaded } = loadEntry();
      const tracer = new entry.Tracer({ serviceName: service });
      tracer.trace('from env', () => undefined);
      await tracer.shutdown();
      expect(tracer.stats().spansExported).toBe(1);
      const host = sanitizeSegment(hostname());
      expect(await daemon.timer(`tomograph.${sanitizeSegment(service)}.${host}.from_env.ok`)).toMatchObject({ count: 1 });
      expect(loaded).toEqual(['statsd']);
    } finally {
      await daemon.close();
    }
  });

  it('both variables: Zipkin first, then StatsD; configure() of the entry uses them too', async () => {
    const collector = await ZipkinCollector.start();
    try {
      process.env.TOMOGRAPH_ZIPKIN_URL = collector.url;
      process.env.TOMOGRAPH_STATSD_HOST = '127.0.0.1';
      process.env.TOMOGRAPH_STATSD_PORT = '9';
      const { entry } = loadEntry();
      const tracer = new entry.Tracer({ serviceName: 'both' });
      const { exporters } = (tracer as unknown as { options: { exporters: readonly Exporter[] } }).options;
      expect(exporters.map((e) => e.constructor.name)).toEqual(['ZipkinExporter', 'StatsdExporter']);
      await tracer.shutdown();

      entry.configure({ serviceName: `env-configure-${process.pid}` });
      entry.trace('configured', () => undefined);
      await entry.shutdown();
      expect(entry.stats().spansExported).toBe(1);
      await collector.waitForSpans(1);
      expect(collector.spans.map((span) => span.name)).toEqual(['configured']);
    } finally {
      await collector.stop();
    }
  });

  it('neither variable: no exporter module is loaded, and none is made', async () => {
    const { entry, loaded } = loadEntry();
    const tracer = new entry.Tracer({ serviceName: 'none' });
    tracer.trace('nowhere', () => undefined);
    await tracer.flush();
    expect(loaded).toEqual([]);
    expect(tracer.stats().spansDropped.noExporter).toBe(1);
    await tracer.shutdown();
  });

  it('a wrong value is a TypeError with the stable code at construction, not later', () => {
    process.env.TOMOGRAPH_ZIPKIN_URL = 'not a url';
    const { entry } = loadEntry();
    let thrown: unknown;
    try {
      new entry.Tracer({ serviceName: 'bad' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect(thrown).toMatchObject({ code: 'TOMOGRAPH_ERR_INVALID_OPTION' });
  });
});
