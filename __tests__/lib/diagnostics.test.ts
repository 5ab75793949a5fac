import { codes } from '../../lib/codes';
import { Diagnostics } from '../../lib/diagnostics';
import { Tracer } from '../../lib/tracer';
import type { DiagnosticEvent } from '../../lib/types';
import { testTracer } from '../helpers/core-fixtures';

afterEach(() => jest.restoreAllMocks());

describe('codes', () => {
  it('are unique, stable strings prefixed TOMOGRAPH_', () => {
    const values = Object.values(codes);
    expect(new Set(values).size).toBe(values.length);
    for (const code of values) expect(code).toMatch(/^TOMOGRAPH_[A-Z_]+$/);
  });
});

describe('onDiagnostic', () => {
  it('receives { code, message, detail? } for faults from every part of the core', async () => {
    const { tracer, events } = testTracer({
      maxQueueSize: 1,
      maxBatchSize: 1,
      exporters: [{ export: () => { throw new Error('down'); } }],
    });
    tracer.extract({ traceparent: 'not a traceparent' });
    tracer.stop();
    tracer.trace('a', () => {
      tracer.start('b');
      tracer.stop('c');
    });
    tracer.annotate('nobody');
    tracer.trace('x', () => tracer.inject(Object.freeze({}) as Record<string, string>));
    tracer.report(codes.INTEGRATION_ERROR, 'from an integration', { where: 'test' });
    await tracer.flush();
    const seen = events.map((event) => event.code);
    expect(seen).toEqual(expect.arrayContaining([
      codes.MALFORMED_HEADER,
      codes.STOP_WITHOUT_START,
      codes.STOP_MISMATCH,
      codes.NO_CURRENT_SPAN,
      codes.INJECT_FAILED,
      codes.INTEGRATION_ERROR,
      codes.EXPORT_FAILED,
    ]));
    for (const event of events) {
      expect(Object.values(codes)).toContain(event.code);
      expect(typeof event.message).toBe('string');
      expect(event.message.startsWith('tomograph: ') || event.message === 'from an integration').toBe(true);
    }
    expect(events.find((e) => e.code === codes.INTEGRATION_ERROR)).toEqual({
      code: codes.INTEGRATION_ERROR,
      message: 'from an integration',
      detail: { where: 'test' },
    });
    expect(events.find((e) => e.code === codes.MALFORMED_HEADER)?.detail).toEqual({
      header: 'traceparent',
      value: 'not a traceparent',
    });
    // Without a detail, the event has no detail key at all.
    expect('detail' in (events.find((e) => e.code === codes.STOP_WITHOUT_START) as DiagnosticEvent)).toBe(false);
  });

  it('a listener that throws is swallowed, and the next event still arrives', () => {
    let calls = 0;
    const tracer = new Tracer({
      onDiagnostic: () => {
        calls++;
        throw new Error('listener bug');
      },
    });
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    expect(() => tracer.stop('nothing')).not.toThrow();
    expect(() => tracer.annotate('nobody')).not.toThrow();
    expect(() => tracer.extract({ 'x-trace-info': 'zz' })).not.toThrow();
    expect(calls).toBe(3);
    expect(warn).not.toHaveBeenCalled(); // with a listener, never a warning
  });
});

describe('without a listener', () => {
  it('each code becomes one process.emitWarning', () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const tracer = new Tracer({});
    for (let i = 0; i < 3; i++) tracer.stop('x');
    for (let i = 0; i < 5; i++) tracer.annotate('nobody');
    for (let i = 0; i < 2; i++) tracer.extract({ traceparent: 'bad' });
    expect(warn).toHaveBeenCalledTimes(3);
    const calls = warn.mock.calls.map(([message, options]) => ({ message, options }));
    expect(calls.map((call) => (call.options as { code: string }).code)).toEqual([
      codes.STOP_WITHOUT_START,
      codes.NO_CURRENT_SPAN,
      codes.MALFORMED_HEADER,
    ]);
    for (const call of calls) {
      expect(call.options).toMatchObject({ type: 'TomographWarning' });
      expect(typeof call.message).toBe('string');
    }
    expect(tracer.stats().noCurrentSpan).toBe(5);
    expect(tracer.stats().malformedHeaders).toBe(2);
  });

  it('an emitWarning that throws does not reach the app', () => {
    jest.spyOn(process, 'emitWarning').mockImplementation(() => {
      throw new Error('--throw-warnings');
    });
    expect(() => new Diagnostics().report(codes.QUEUE_FULL, 'x')).not.toThrow();
  });
});

describe('errorMessage', () => {
  it('reads the message of errors from another realm, strings, and odd values without throwing', () => {
    const { errorMessage } = jest.requireActual('../../lib/diagnostics') as typeof import('../../lib/diagnostics');
    const foreign = require('node:vm').runInNewContext('new RangeError("from elsewhere")');
    expect(foreign instanceof Error).toBe(false);
    expect(errorMessage(foreign)).toBe('from elsewhere');
    expect(errorMessage(new TypeError('local'))).toBe('local');
    expect(errorMessage('plain string')).toBe('plain string');
    expect(errorMessage({ name: 'NamedOnly' })).toBe('NamedOnly');
    expect(errorMessage(42)).toBe('42');
    const hostile = {
      get message(): string {
        throw new Error('getter throws');
      },
    };
    expect(errorMessage(hostile)).toBe('unknown error');
  });
});
