import { Writable } from 'node:stream';
import pino from 'pino';
import { traceMixin } from 'tomograph/pino';
import { codes } from '../../lib/codes';
import { Tracer } from '../../lib/tracer';
import { collectingTracer } from '../helpers/span-collector';

/** A pino destination that keeps every line, parsed. */
function lineSink(): { stream: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n')) if (line !== '') lines.push(JSON.parse(line));
      callback();
    },
  });
  return { stream, lines };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('traceMixin (pino)', () => {
  test('each line carries the ids of the span current at the call, across awaits, in 20 concurrent requests', async () => {
    const { tracer } = collectingTracer();
    const { stream, lines } = lineSink();
    const logger = pino({ mixin: traceMixin({ tracer }) }, stream);
    const expected = new Map<string, { traceId: string; spanId: string }>();
    logger.info({ at: 'startup' }, 'outside');
    await Promise.all(
      Array.from({ length: 20 }, (_, r) =>
        tracer.trace(`request ${r}`, async (request) => {
          expected.set(`${r}-a`, { traceId: request.traceId, spanId: request.id });
          logger.info({ at: `${r}-a` }, 'start');
          await tick();
          await tracer.trace('query', async (query) => {
            expected.set(`${r}-b`, { traceId: query.traceId, spanId: query.id });
            await tick();
            logger.child({ component: 'db' }).info({ at: `${r}-b` }, 'query');
          });
          await tick();
          expected.set(`${r}-c`, { traceId: request.traceId, spanId: request.id });
          logger.warn({ at: `${r}-c` }, 'end');
        }),
      ),
    );
    logger.info({ at: 'shutdown' }, 'outside');
    expect(lines).toHaveLength(62);
    for (const line of lines) {
      if (line.at === 'startup' || line.at === 'shutdown') {
        expect(line).not.toHaveProperty('trace_id');
        expect(line).not.toHaveProperty('span_id');
        expect(line).not.toHaveProperty('trace_flags');
        continue;
      }
      const want = expected.get(String(line.at));
      expect(line).toMatchObject({ trace_id: want?.traceId, span_id: want?.spanId, trace_flags: '01' });
    }
    expect(new Set(lines.map((l) => l.trace_id)).size).toBe(21); // 20 traces and "none"
  });

  test('field names are configurable; an unsampled trace logs its ids with flags 00; fields in the call win', () => {
    const { tracer } = collectingTracer({ sampler: 0 });
    const { stream, lines } = lineSink();
    const logger = pino({ mixin: traceMixin({ tracer, fields: { traceId: 'traceId', spanId: 'spanId', traceFlags: 'flags' } }) }, stream);
    tracer.trace('unsampled', (span) => {
      logger.info('a');
      logger.info({ spanId: 'mine' }, 'b');
      expect(lines[0]).toMatchObject({ traceId: span.traceId, spanId: span.id, flags: '00' });
    });
    expect(lines[0]).not.toHaveProperty('trace_id');
    expect(lines[1]).toMatchObject({ spanId: 'mine' });
  });

  test('before configure, and after shutdown, lines carry nothing', async () => {
    const tracer = new Tracer();
    const { stream, lines } = lineSink();
    const logger = pino({ mixin: traceMixin({ tracer }) }, stream);
    tracer.trace('x', () => logger.info('before configure'));
    const { tracer: t2 } = collectingTracer();
    const logger2 = pino({ mixin: traceMixin({ tracer: t2 }) }, stream);
    await t2.shutdown();
    t2.trace('y', () => logger2.info('after shutdown'));
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).not.toHaveProperty('trace_id');
  });

  test('wrong options throw early', () => {
    expect(() => traceMixin({ nope: 1 } as never)).toThrow(expect.objectContaining({ code: codes.INVALID_OPTION }));
    expect(() => traceMixin({ fields: { traceId: '' } })).toThrow(TypeError);
    expect(() => traceMixin({ fields: { traceId: 'id', spanId: 'id' } })).toThrow(/must differ/);
    expect(() => traceMixin({ fields: { parent: 'p' } as never })).toThrow(/unknown field/);
  });
});
