import { ManualClock } from '../../lib/clock';
import { codes } from '../../lib/codes';
import { MemoryExporter } from '../../lib/memory-exporter';
import { resolveOptions, type TracerOptions } from '../../lib/options';
import { Tracer } from '../../lib/tracer';

const NO_ENV = {};

function expectInvalid(run: () => unknown): TypeError {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(TypeError);
  expect((thrown as { code?: string }).code).toBe('TOMOGRAPH_ERR_INVALID_OPTION');
  expect((thrown as { code?: string }).code).toBe(codes.INVALID_OPTION);
  expect((thrown as Error).message).toMatch(/^tomograph: /);
  return thrown as TypeError;
}

const INVALID: [string, unknown][] = [
  ['unknown option (typo)', { serviceNmae: 'shop' }],
  ['serviceName empty', { serviceName: '' }],
  ['serviceName blank', { serviceName: '   ' }],
  ['serviceName not a string', { serviceName: 5 }],
  ['exporters not an array', { exporters: {} }],
  ['exporters with null', { exporters: [null] }],
  ['exporter without export()', { exporters: [{}] }],
  ['exporter with export not a function', { exporters: [{ export: 5 }] }],
  ['context unknown', { context: 'zone.js' }],
  ['sampler below 0', { sampler: -0.1 }],
  ['sampler above 1', { sampler: 1.1 }],
  ['sampler NaN', { sampler: NaN }],
  ['sampler a string', { sampler: '0.5' }],
  ['sampler an object', { sampler: {} }],
  ['propagation a string', { propagation: 'b3' }],
  ['propagation unknown format', { propagation: ['b3', 'jaeger'] }],
  ['propagation non-string', { propagation: [5] }],
  ['maxQueueSize 0', { maxQueueSize: 0 }],
  ['maxQueueSize negative', { maxQueueSize: -1 }],
  ['maxQueueSize fractional', { maxQueueSize: 1.5 }],
  ['maxQueueSize a string', { maxQueueSize: '10' }],
  ['maxQueueSize Infinity', { maxQueueSize: Infinity }],
  ['maxBatchSize 0', { maxBatchSize: 0 }],
  ['maxBatchSize over maxQueueSize', { maxQueueSize: 10, maxBatchSize: 11 }],
  ['scheduledDelayMs negative', { scheduledDelayMs: -1 }],
  ['scheduledDelayMs fractional', { scheduledDelayMs: 1.5 }],
  ['scheduledDelayMs past setTimeout range', { scheduledDelayMs: 2 ** 31 }],
  ['exportTimeoutMs 0', { exportTimeoutMs: 0 }],
  ['exportTimeoutMs past setTimeout range', { exportTimeoutMs: 2 ** 31 }],
  ['onDiagnostic not a function', { onDiagnostic: 'log' }],
  ['disabled a string', { disabled: 'yes' }],
  ['disabled a number', { disabled: 1 }],
  ['host null', { host: null }],
  ['host a string', { host: '10.0.0.1' }],
  ['host port out of range', { host: { port: 70000 } }],
  ['host port a string', { host: { port: '80' } }],
  ['host address not a string', { host: { address: 5 } }],
  ['clsNamespace empty', { clsNamespace: '' }],
  ['clsNamespace not a string', { clsNamespace: 5 }],
  ['clock without nowUs', { clock: {} }],
  ['clock nowUs not a function', { clock: { nowUs: 1 } }],
  ['idGenerator without spanId', { idGenerator: { traceId: () => '1'.padStart(32, '0') } }],
  ['random not a function', { random: 0.5 }],
];

describe('invalid options throw a TypeError with TOMOGRAPH_ERR_INVALID_OPTION at configure', () => {
  it.each(INVALID)('%s', (_label, options) => {
    expectInvalid(() => new Tracer(options as TracerOptions));
    expectInvalid(() => new Tracer().configure(options as TracerOptions));
  });

  it.each([null, 5, 'shop'])('options that are not an object: %p', (options) => {
    expectInvalid(() => new Tracer().configure(options as unknown as TracerOptions));
  });

  it.each(['abc', '2', '-1', 'NaN'])('TOMOGRAPH_SAMPLE_RATE=%s', (rate) => {
    const error = expectInvalid(() => resolveOptions({}, { TOMOGRAPH_SAMPLE_RATE: rate }));
    expect(error.message).toContain('TOMOGRAPH_SAMPLE_RATE');
  });

  it('the message names the option', () => {
    expect(expectInvalid(() => new Tracer({ maxQueueSize: 0 })).message).toContain('maxQueueSize');
    expect(expectInvalid(() => new Tracer({ serviceNmae: 'x' } as TracerOptions)).message).toContain('serviceNmae');
  });

  it('the message names the type it got when that is what is wrong, so it never reads as a contradiction', () => {
    expect(expectInvalid(() => new Tracer({ maxQueueSize: '100' as never })).message).toBe(
      'tomograph: maxQueueSize must be a positive integer, not the string "100"',
    );
    expect(expectInvalid(() => new Tracer({ maxQueueSize: 1.5 })).message).toMatch(/integer, not 1\.5$/);
    expect(expectInvalid(() => new Tracer({ scheduledDelayMs: null as never })).message).toMatch(/, not null$/);
    expect(expectInvalid(() => new Tracer({ exporters: {} as never })).message).toMatch(/exporters must be an array, not an object$/);
    expect(expectInvalid(() => new Tracer({ disabled: 'true' as never })).message).toMatch(/not the string "true"$/);
    expect(expectInvalid(() => new Tracer({ flushOnExit: 0 as never })).message).toMatch(/flushOnExit must be a boolean, not 0$/);
    expect(expectInvalid(() => new Tracer({ host: { port: '80' } as never })).message).toMatch(/not port the string "80"$/);
    expect(expectInvalid(() => new Tracer({ sampler: [0.5] as never })).message).toMatch(/not an array$/);
  });

  it('a failed configure leaves the tracer as it was', async () => {
    const memory = new MemoryExporter();
    const tracer = new Tracer({ serviceName: 'before', exporters: [memory], scheduledDelayMs: 0 });
    expectInvalid(() => tracer.configure({ serviceName: 'after', sampler: 7 }));
    tracer.trace('still works', () => undefined);
    await tracer.flush();
    expect(memory.spans.map((span) => [span.name, span.service])).toEqual([['still works', 'before']]);
  });
});

describe('defaults and the environment', () => {
  it('defaults', () => {
    const resolved = resolveOptions({}, NO_ENV);
    expect(resolved).toMatchObject({
      serviceName: 'unknown_service',
      exporters: [],
      context: 'async-local-storage',
      sampler: 1,
      propagation: ['x-trace-info', 'traceparent', 'b3'],
      maxQueueSize: 2048,
      maxBatchSize: 512,
      scheduledDelayMs: 1000,
      exportTimeoutMs: 10000,
      disabled: false,
    });
  });

  it('TOMOGRAPH_SERVICE_NAME names the service unless the option does; blank is ignored', () => {
    expect(resolveOptions({}, { TOMOGRAPH_SERVICE_NAME: ' shop ' }).serviceName).toBe('shop');
    expect(resolveOptions({ serviceName: 'cart' }, { TOMOGRAPH_SERVICE_NAME: 'shop' }).serviceName).toBe('cart');
    expect(resolveOptions({}, { TOMOGRAPH_SERVICE_NAME: '  ' }).serviceName).toBe('unknown_service');
  });

  it('TOMOGRAPH_SAMPLE_RATE sets the ratio unless the option does', () => {
    expect(resolveOptions({}, { TOMOGRAPH_SAMPLE_RATE: '0.25' }).sampler).toBe(0.25);
    expect(resolveOptions({}, { TOMOGRAPH_SAMPLE_RATE: ' 0 ' }).sampler).toBe(0);
    expect(resolveOptions({ sampler: 1 }, { TOMOGRAPH_SAMPLE_RATE: '0' }).sampler).toBe(1);
    expect(resolveOptions({}, { TOMOGRAPH_SAMPLE_RATE: '' }).sampler).toBe(1);
  });

  it.each([
    ['1', true], ['true', true], ['TRUE', true], [' true ', true],
    ['0', false], ['false', false], ['yes', false], ['', false],
  ])('TOMOGRAPH_DISABLED=%p gives disabled %p', (value, disabled) => {
    expect(resolveOptions({}, { TOMOGRAPH_DISABLED: value }).disabled).toBe(disabled);
  });

  it('the disabled option wins over TOMOGRAPH_DISABLED', () => {
    expect(resolveOptions({ disabled: false }, { TOMOGRAPH_DISABLED: '1' }).disabled).toBe(false);
    expect(resolveOptions({ disabled: true }, {}).disabled).toBe(true);
  });

  it('the tracer reads process.env at configure', async () => {
    const saved = { ...process.env };
    try {
      process.env.TOMOGRAPH_SERVICE_NAME = 'from-env';
      process.env.TOMOGRAPH_SAMPLE_RATE = '0';
      const memory = new MemoryExporter();
      const tracer = new Tracer({ exporters: [memory], scheduledDelayMs: 0 });
      expect(tracer.trace('root', (span) => span.sampled)).toBe(false);
      tracer.trace('joined', () => undefined, { parent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
      await tracer.flush();
      expect(memory.spans.map((span) => span.service)).toEqual(['from-env']);

      process.env.TOMOGRAPH_DISABLED = 'true';
      const disabled = new Tracer({ exporters: [memory] });
      expect(disabled.isEnabled).toBe(false);
      expect(disabled.trace('runs anyway', () => 'value')).toBe('value');
    } finally {
      for (const key of ['TOMOGRAPH_SERVICE_NAME', 'TOMOGRAPH_SAMPLE_RATE', 'TOMOGRAPH_DISABLED']) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    }
  });

  it('duplicate propagation formats are written once', () => {
    expect(resolveOptions({ propagation: ['b3', 'b3', 'traceparent'] }, NO_ENV).propagation).toEqual(['b3', 'traceparent']);
  });

  it('injected clock, ids and random are used', async () => {
    const memory = new MemoryExporter();
    let next = 0;
    const tracer = new Tracer({
      exporters: [memory],
      scheduledDelayMs: 0,
      clock: new ManualClock(5_000_000),
      idGenerator: { traceId: () => 'ab'.repeat(16), spanId: () => (++next).toString(16).padStart(16, '0') },
      random: () => 0.3,
      sampler: 0.5,
      host: { address: '10.1.2.3', port: 8080 },
    });
    tracer.trace('clocked', () => undefined);
    await tracer.flush();
    expect(memory.spans[0]).toMatchObject({
      traceId: 'ab'.repeat(16),
      id: '0000000000000001',
      timestamp: 5_000_000,
      duration: 1,
      host: { address: '10.1.2.3', port: 8080 },
    });
  });
});

describe('configure again', () => {
  it('restarts the counts, keeps the context store, and shuts the previous exporters down', async () => {
    const first = new MemoryExporter();
    const firstShutdown = jest.fn(async () => undefined);
    const second = new MemoryExporter();
    const tracer = new Tracer({ exporters: [Object.assign(first, { shutdown: firstShutdown })], scheduledDelayMs: 0 });
    await tracer.trace('before', async () => {
      tracer.configure({ serviceName: 'again', exporters: [second], scheduledDelayMs: 0 });
      expect(tracer.stats().spansStarted).toBe(0);
      // Same kind of store: the span in flight is still current after reconfiguring.
      expect(tracer.currentSpan()?.name).toBe('before');
      tracer.trace('after', () => undefined);
    });
    await tracer.flush();
    expect(firstShutdown).toHaveBeenCalledTimes(1);
    const byName = new Map(second.spans.map((span) => [span.name, span]));
    expect(byName.get('after')?.parentId).toBe(byName.get('before')?.id);
    expect(byName.get('after')?.service).toBe('again');
    expect(first.spans).toEqual([]);
  });

  it('switches the store when the context option changes', () => {
    const tracer = new Tracer({});
    tracer.trace('als', () => {
      tracer.configure({ context: 'cls-hooked' });
      expect(tracer.currentSpan()).toBeUndefined();
    });
  });
});
