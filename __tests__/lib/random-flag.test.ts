/**
 * W3C Trace Context Level 2, the `random` trace-id flag (trace-flags bit 1): set on trace ids
 * tomograph generates randomly, kept on what it continues, never set otherwise.
 */
import { sequentialIdGenerator, type IdGenerator } from '../../lib/ids';
import { formatToken, parseToken, parseTraceparent } from '../../lib/propagation';
import { Tracer } from '../../lib/tracer';
import type { TracerOptions } from '../../lib/options';

const T = '12345678901234567890123456789012';
const S = '1234567890123456';
const LEGACY = Buffer.from('(I5\nI6\ntp0\n.', 'latin1').toString('base64');

function tracer(options: TracerOptions = {}): Tracer {
  return new Tracer({ serviceName: 'random', exporters: [], ...options });
}

/** The flags a service sends on after receiving `incoming` (or nothing), on every header it writes. */
function flagsSent(t: Tracer, incoming?: Record<string, string>): string[] {
  const parent = incoming === undefined ? null : t.extractContext(incoming) ?? null;
  const out = t.trace('GET', () => t.trace('call', () => t.inject({} as Record<string, string>)), { parent });
  return [out['x-trace-info'].slice(53), out.traceparent.slice(53)];
}

describe('formatToken and the parsers', () => {
  test.each([
    [true, false, '01'],
    [true, true, '03'],
    [false, true, '02'],
    [false, false, '00'],
  ])('sampled %p, random %p -> flags %s', (sampled, random, flags) => {
    expect(formatToken({ traceId: T, spanId: S, sampled, random })).toBe(`00-${T}-${S}-${flags}`);
  });

  test.each([
    ['00', false, false],
    ['01', true, false],
    ['02', false, true],
    ['03', true, true],
    ['ff', true, true],
    ['fc', false, false],
  ])('traceparent flags %s: sampled %p, random %p', (flags, sampled, random) => {
    const ctx = parseTraceparent(`00-${T}-${S}-${flags}`);
    expect(ctx?.sampled).toBe(sampled);
    expect(ctx?.random).toBe(random);
    expect(parseToken(`00-${T}-${S}-${flags}`)?.random).toBe(random);
  });

  it('a higher traceparent version: bit 1 is read the same way', () => {
    expect(parseTraceparent(`01-${T}-${S}-03-extra`)?.random).toBe(true);
  });

  it('the legacy Python token and B3 say nothing of randomness', () => {
    expect(parseToken(LEGACY)?.random).toBe(false);
  });
});

describe('a tracer sets the flag on what it generates and keeps it on what it continues', () => {
  it('a new trace from its own (random) ids: set, sampled or not', () => {
    expect(flagsSent(tracer())).toEqual(['03', '03']);
    expect(flagsSent(tracer({ sampler: 0 }))).toEqual(['02', '02']);
  });

  it('getTraceInfo and extract carry it too', () => {
    const t = tracer();
    const token = t.trace('root', () => t.getTraceInfo());
    expect(token).toMatch(/-03$/);
    expect(t.extract({ traceparent: `00-${T}-${S}-03` })).toBe(`00-${T}-${S}-03`);
    expect(t.extract({ traceparent: `00-${T}-${S}-01` })).toBe(`00-${T}-${S}-01`);
  });

  test.each([
    ['traceparent 03', { traceparent: `00-${T}-${S}-03` }, ['03', '03']],
    ['traceparent 02 (unsampled)', { traceparent: `00-${T}-${S}-02` }, ['02', '02']],
    ['traceparent 01', { traceparent: `00-${T}-${S}-01` }, ['01', '01']],
    ['traceparent 00', { traceparent: `00-${T}-${S}-00` }, ['00', '00']],
    ['X-Trace-Info 03', { 'x-trace-info': `00-${T}-${S}-03` }, ['03', '03']],
    ['X-Trace-Info 01', { 'x-trace-info': `00-${T}-${S}-01` }, ['01', '01']],
    ['b3 single (says nothing)', { b3: `${T}-${S}-1` }, ['01', '01']],
    ['b3 multi (says nothing)', { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '1' }, ['01', '01']],
    ['a legacy X-Trace-Info (says nothing)', { 'x-trace-info': LEGACY }, ['01', '01']],
  ])('continued from %s', (_name, incoming, expected) => {
    expect(flagsSent(tracer(), incoming)).toEqual(expected);
  });

  it('continueTrace with a token keeps the flag, or its absence', () => {
    const t = tracer();
    expect(t.continueTrace(`00-${T}-${S}-03`, 'job', () => t.getTraceInfo())).toMatch(/-03$/);
    expect(t.continueTrace(`00-${T}-${S}-01`, 'job', () => t.getTraceInfo())).toMatch(/-01$/);
  });

  it('a sequential or custom id generator: never set', () => {
    expect(flagsSent(tracer({ idGenerator: sequentialIdGenerator() }))).toEqual(['01', '01']);
    const custom: IdGenerator = { traceId: () => 'a'.repeat(32), spanId: () => 'b'.repeat(16) };
    expect(flagsSent(tracer({ idGenerator: custom }))).toEqual(['01', '01']);
  });

  it('a custom generator that declares its trace ids random: set', () => {
    const inner = sequentialIdGenerator();
    const declared: IdGenerator = { traceId: () => inner.traceId(), spanId: () => inner.spanId(), random: true };
    expect(flagsSent(tracer({ idGenerator: declared }))).toEqual(['03', '03']);
  });

  it('a root started with parent: null inside a continued trace gets its own ids, and its own flag', () => {
    const t = tracer({ idGenerator: sequentialIdGenerator() });
    const token = t.continueTrace(`00-${T}-${S}-03`, 'job', () => t.trace('detached', () => t.getTraceInfo(), { parent: null }));
    expect(token).toMatch(/-01$/);
    expect(token?.slice(3, 35)).not.toBe(T);
  });
});
