import { Writable } from 'node:stream';
import winston from 'winston';
import { traceFormat } from 'tomograph/winston';
import { codes } from '../../lib/codes';
import { collectingTracer } from '../helpers/span-collector';

/** A winston stream transport that keeps every entry, parsed from the rendered JSON. */
function entrySink(): { transport: winston.transport; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(JSON.parse(String(chunk)));
      callback();
    },
  });
  return { transport: new winston.transports.Stream({ stream }), lines };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('traceFormat (winston)', () => {
  test('each entry carries the ids of the span current at the call, across awaits, in 20 concurrent requests', async () => {
    const { tracer } = collectingTracer();
    const { transport, lines } = entrySink();
    const logger = winston.createLogger({ format: winston.format.combine(traceFormat({ tracer }), winston.format.json()), transports: [transport] });
    const expected = new Map<string, { traceId: string; spanId: string }>();
    logger.info('outside', { at: 'startup' });
    await Promise.all(
      Array.from({ length: 20 }, (_, r) =>
        tracer.trace(`request ${r}`, async (request) => {
          expected.set(`${r}-a`, { traceId: request.traceId, spanId: request.id });
          logger.info('start', { at: `${r}-a` });
          await tick();
          await tracer.trace('query', async (query) => {
            expected.set(`${r}-b`, { traceId: query.traceId, spanId: query.id });
            await tick();
            logger.child({ component: 'db' }).info('query', { at: `${r}-b` });
          });
          await tick();
          expected.set(`${r}-c`, { traceId: request.traceId, spanId: request.id });
          logger.warn('end', { at: `${r}-c` });
        }),
      ),
    );
    logger.info('outside', { at: 'shutdown' });
    await new Promise<void>((resolve) => {
      logger.on('finish', () => resolve());
      logger.end();
    });
    expect(lines).toHaveLength(62);
    for (const line of lines) {
      if (line.at === 'startup' || line.at === 'shutdown') {
        expect(Object.keys(line).sort()).toEqual(['at', 'level', 'message']);
        continue;
      }
      const want = expected.get(String(line.at));
      expect(line).toMatchObject({ trace_id: want?.traceId, span_id: want?.spanId, trace_flags: '01' });
    }
  });

  test('configurable names; an entry\'s own field is kept; wrong options throw early', () => {
    const { tracer } = collectingTracer();
    const format = traceFormat({ tracer, fields: { traceId: 'dd.trace_id', spanId: 'dd.span_id', traceFlags: 'flags' } });
    const info = tracer.trace('x', (span) => {
      const entry = format.transform({ level: 'info', message: 'm', flags: 'kept' });
      expect(entry).toMatchObject({ 'dd.trace_id': span.traceId, 'dd.span_id': span.id, flags: 'kept' });
      return entry;
    });
    expect(info).not.toHaveProperty('trace_id');
    expect(format.transform({ level: 'info', message: 'outside' })).toEqual({ level: 'info', message: 'outside' });
    expect(() => traceFormat({ tracer: {} as never })).toThrow(expect.objectContaining({ code: codes.INVALID_OPTION }));
  });
});
