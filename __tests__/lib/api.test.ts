import * as tomograph from '../../lib';

// Each Jest test file has its own module registry, so this file's default tracer starts
// unconfigured, whatever other files do.

afterEach(() => jest.restoreAllMocks());

describe('before configure', () => {
  it('every call is a cheap no-op that returns something sensible, and nothing warns', async () => {
    const warn = jest.spyOn(process, 'emitWarning');
    expect(tomograph.defaultTracer.isEnabled).toBe(false);

    expect(tomograph.trace('work', () => 42)).toBe(42);
    await expect(tomograph.trace('async work', async (span) => span.recording)).resolves.toBe(false);
    const error = new Error('still passes through');
    expect(() => tomograph.trace('fails', () => { throw error; })).toThrow(error);
    expect(tomograph.continueTrace('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'job', () => 'ran')).toBe('ran');
    expect(tomograph.traced('wrapped')((a: number, b: number) => a + b)(2, 3)).toBe(5);
    expect(tomograph.withSpan(undefined, () => 'inside')).toBe('inside');

    const started = tomograph.start('s', { tags: { a: 1 } });
    expect(started.recording).toBe(false);
    expect(started.sampled).toBe(false);
    expect(() => started.annotate('x').tag('k', 1).fail(new Error('x')).updateName('y').end()).not.toThrow();
    expect(() => tomograph.stop('s')).not.toThrow();
    expect(() => tomograph.stop('wrong')).not.toThrow();
    expect(() => tomograph.annotate('note')).not.toThrow();
    expect(() => tomograph.tag('k', 'v')).not.toThrow();
    expect(tomograph.startSpan('x').recording).toBe(false);

    expect(tomograph.currentSpan()).toBeUndefined();
    expect(tomograph.getTraceInfo()).toBeUndefined();
    const headers = { accept: 'text/html' };
    expect(tomograph.inject(headers)).toBe(headers);
    expect(tomograph.addTraceInfoHeader(headers)).toBe(headers);
    expect(headers).toEqual({ accept: 'text/html' });
    expect(tomograph.extract({ 'x-trace-info': '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' })).toBeUndefined();
    expect(tomograph.parseToken('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')).toEqual({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      sampled: true,
    });

    await expect(tomograph.flush()).resolves.toBeUndefined();
    expect(tomograph.stats()).toMatchObject({
      spansStarted: 0,
      spansFinished: 0,
      spansExported: 0,
      spansQueued: 0,
      noCurrentSpan: 0,
      malformedHeaders: 0,
    });
    // Only continueTrace says something: in a worker that never configured, it is the call
    // that silently does nothing. Once per process, however often it is called.
    expect(tomograph.continueTrace(undefined, 'again', () => 'ran again')).toBe('ran again');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toMatch(/continueTrace\(\) before configure\(\).*worker thread or child process/);
    expect(warn.mock.calls[0][1]).toMatchObject({ code: 'TOMOGRAPH_NOT_CONFIGURED' });
    warn.mockRestore();
  });

  it('then configure turns it on, and shutdown off again', async () => {
    const memory = new tomograph.MemoryExporter();
    tomograph.configure({ serviceName: 'api-test', exporters: [memory], scheduledDelayMs: 0 });
    expect(tomograph.defaultTracer.isEnabled).toBe(true);
    const headers = tomograph.trace('configured', () => {
      tomograph.annotate('hello');
      tomograph.tag('k', 'v');
      expect(tomograph.getTraceInfo()).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      return tomograph.inject({} as Record<string, string>);
    });
    expect(Object.keys(headers).sort()).toEqual(['b3', 'traceparent', 'x-trace-info']);
    await tomograph.flush();
    expect(memory.spans).toHaveLength(1);
    expect(memory.spans[0]).toMatchObject({ name: 'configured', service: 'api-test', tags: { k: 'v' } });
    await tomograph.shutdown();
    await tomograph.shutdown();
    expect(tomograph.defaultTracer.isEnabled).toBe(false);
    expect(tomograph.trace('after shutdown', () => 'still runs')).toBe('still runs');
  });

  it('the package entry exports the documented API', () => {
    for (const name of [
      'configure', 'start', 'stop', 'annotate', 'tag', 'trace', 'traced', 'currentSpan', 'getTraceInfo',
      'continueTrace', 'inject', 'addTraceInfoHeader', 'extract', 'parseToken', 'flush', 'shutdown', 'stats',
      'startSpan', 'withSpan',
    ]) {
      expect(typeof (tomograph as Record<string, unknown>)[name]).toBe('function');
    }
    expect(typeof tomograph.Tracer).toBe('function');
    expect(typeof tomograph.codes.INVALID_OPTION).toBe('string');
  });
});
