import http from 'node:http';
import net from 'node:net';
import { AddressInfo } from 'node:net';
import fc from 'fast-check';
import {
  extractContext,
  formatToken,
  extractBaggage,
  injectContext,
  mayCarryTrace,
  parseB3Multi,
  parseB3Single,
  parseToken,
  parseTraceparent,
  readHeader,
} from '../../lib/propagation';
import type { HeaderCarrier, PropagationFormat, TraceContext } from '../../lib/types';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';
const P = '0020000000000001';
const T16 = 'a3ce929d0e0e4736';
const T16_PADDED = '0000000000000000' + T16;
const ZT = '0'.repeat(32);
const ZS = '0'.repeat(16);
const TOKEN = `00-${T}-${S}-01`;
const LEGACY = Buffer.from('(I5\nI6\ntp0\n.', 'latin1').toString('base64');
const KB10 = 'a'.repeat(10 * 1024);

const ctx = (sampled: boolean, traceId = T, spanId = S): TraceContext => ({ traceId, spanId, sampled });

/** Inputs every single-value parser must treat as invalid, whatever its grammar. */
const INVALID_FOR_ALL: [string, unknown][] = [
  ['undefined', undefined],
  ['null', null],
  ['empty string', ''],
  ['number', 42],
  ['boolean', true],
  ['object', { value: TOKEN }],
  ['function', () => TOKEN],
  ['symbol', Symbol('x')],
  ['bigint', 10n],
  ['array of two', [TOKEN, TOKEN]],
  ['empty array', []],
  ['array of a number', [42]],
  ['10 KB', KB10],
  ['513 chars', TOKEN + '-' + 'a'.repeat(513 - 56)],
  ['CR', TOKEN + '\r'],
  ['LF inside', TOKEN.slice(0, 10) + '\n' + TOKEN.slice(11)],
  ['CRLF header injection', TOKEN + '\r\nx-evil: 1'],
];

describe('formatToken', () => {
  test.each([
    [ctx(true), TOKEN],
    [ctx(false), `00-${T}-${S}-00`],
  ])('%p -> %s', (c, expected) => {
    expect(formatToken(c)).toBe(expected);
  });

  test('never throws on junk', () => {
    fc.assert(fc.property(fc.anything(), (v) => void formatToken(v as TraceContext)));
    const hostile = { get traceId(): string { throw new Error('boom'); } };
    expect(formatToken(hostile as unknown as TraceContext)).toBe('');
    expect(formatToken(null as unknown as TraceContext)).toBe('');
  });
});

describe('parseToken (X-Trace-Info)', () => {
  test.each<[string, unknown, TraceContext]>([
    ['sampled', TOKEN, ctx(true)],
    ['not sampled', `00-${T}-${S}-00`, ctx(false)],
    ['other flag bits set, bit 0 on', `00-${T}-${S}-03`, ctx(true)],
    ['other flag bits set, bit 0 off', `00-${T}-${S}-fe`, ctx(false)],
    ['array of one', [TOKEN], ctx(true)],
    ['legacy pickle token (always sampled)', LEGACY, ctx(true, '5'.padStart(32, '0'), '6'.padStart(16, '0'))],
    ['legacy token in an array of one', [LEGACY], ctx(true, '5'.padStart(32, '0'), '6'.padStart(16, '0'))],
  ])('valid: %s', (_name, value, expected) => {
    expect(parseToken(value)).toEqual(expected);
  });

  test.each<[string, unknown]>([
    ...INVALID_FOR_ALL,
    ['all-zero trace id', `00-${ZT}-${S}-01`],
    ['all-zero span id', `00-${T}-${ZS}-01`],
    ['upper-case trace id', `00-${T.toUpperCase()}-${S}-01`],
    ['upper-case span id', `00-${T}-${S.toUpperCase()}-01`],
    ['upper-case flags', `00-${T}-${S}-0A`],
    ['non-hex', `00-${T.slice(0, 31)}g-${S}-01`],
    ['trace id too short', `00-${T.slice(1)}-${S}-01`],
    ['trace id too long', `00-${T}a-${S}-01`],
    ['span id too short', `00-${T}-${S.slice(1)}-01`],
    ['flags one char', `00-${T}-${S}-1`],
    ['flags three chars', `00-${T}-${S}-011`],
    ['extra field', `${TOKEN}-00`],
    ['a future version (X-Trace-Info is version 00 only)', `01-${T}-${S}-01`],
    ['version ff', `ff-${T}-${S}-01`],
    ['dashes moved', `00-${T.slice(0, 31)}-${T.slice(31)}${S}-01`],
    ['leading space', ' ' + TOKEN],
    ['trailing space', TOKEN + ' '],
    ['duplicates joined by Node', `${TOKEN}, ${TOKEN}`],
    ['b3 single', `${T}-${S}-1`],
    ['legacy token, bad base64', LEGACY.slice(0, -3) + '!!!'],
    ['legacy token, truncated', LEGACY.slice(0, 8)],
    ['junk', 'hello'],
  ])('invalid: %s', (_name, value) => {
    expect(parseToken(value)).toBeUndefined();
  });
});

describe('parseTraceparent', () => {
  test.each<[string, unknown, TraceContext]>([
    ['version 00, sampled', TOKEN, ctx(true)],
    ['version 00, not sampled', `00-${T}-${S}-00`, ctx(false)],
    ['future version, exactly 55 chars', `01-${T}-${S}-01`, ctx(true)],
    ['future version with extra fields', `cc-${T}-${S}-01-what-the-future-will-be-like`, ctx(true)],
    ['future version with an empty extra field', `fe-${T}-${S}-00-`, ctx(false)],
    ['array of one', [TOKEN], ctx(true)],
  ])('valid: %s', (_name, value, expected) => {
    expect(parseTraceparent(value)).toEqual(expected);
  });

  test.each<[string, unknown]>([
    ...INVALID_FOR_ALL,
    ['version 00 with extra fields', `${TOKEN}-what`],
    ['version ff', `ff-${T}-${S}-01`],
    ['version ff with extra fields', `ff-${T}-${S}-01-x`],
    ['upper-case version', `CC-${T}-${S}-01`],
    ['non-hex version', `0g-${T}-${S}-01`],
    ['three-char version', `000-${T}-${S}-01`],
    ['future version, no dash after flags', `cc-${T}-${S}-01x`],
    ['future version, too short', `cc-${T}-${S}-0`],
    ['future version, CR/LF in the extra fields', `cc-${T}-${S}-01-x\r\ny`],
    ['future version, extra fields over 512 chars', `cc-${T}-${S}-01-${'a'.repeat(457)}`],
    ['all-zero trace id', `00-${ZT}-${S}-01`],
    ['all-zero span id', `00-${T}-${ZS}-01`],
    ['upper-case trace id', `00-${T.toUpperCase()}-${S}-01`],
    ['upper-case flags', `00-${T}-${S}-0F`],
    ['wrong trace id length', `00-${T}0-${S}-01`],
    ['wrong span id length', `00-${T}-${S}0-01`],
    ['duplicates joined by Node', `${TOKEN}, ${TOKEN}`],
    ['legacy token', LEGACY],
  ])('invalid: %s', (_name, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });
});

describe('parseB3Single', () => {
  test.each<[string, unknown, TraceContext]>([
    ['ids only (deferred: taken as sampled)', `${T}-${S}`, ctx(true)],
    ['sampled', `${T}-${S}-1`, ctx(true)],
    ['not sampled', `${T}-${S}-0`, ctx(false)],
    ['debug', `${T}-${S}-d`, ctx(true)],
    ['with parent span id', `${T}-${S}-1-${P}`, ctx(true)],
    ['not sampled, with parent', `${T}-${S}-0-${P}`, ctx(false)],
    ['16-hex trace id is left-padded', `${T16}-${S}-1`, ctx(true, T16_PADDED)],
    ['16-hex trace id, ids only', `${T16}-${S}`, ctx(true, T16_PADDED)],
    ['array of one', [`${T}-${S}-1`], ctx(true)],
  ])('valid: %s', (_name, value, expected) => {
    expect(parseB3Single(value)).toEqual(expected);
  });

  test.each<[string, unknown]>([
    ...INVALID_FOR_ALL,
    ['decision only: 0', '0'],
    ['decision only: 1', '1'],
    ['decision only: d', 'd'],
    ['unknown single char', 'x'],
    ['all-zero trace id', `${ZT}-${S}-1`],
    ['all-zero 16-hex trace id', `${ZS}-${S}-1`],
    ['all-zero span id', `${T}-${ZS}-1`],
    ['all-zero parent span id', `${T}-${S}-1-${ZS}`],
    ['upper-case trace id', `${T.toUpperCase()}-${S}-1`],
    ['upper-case span id', `${T}-${S.toUpperCase()}-1`],
    ['upper-case debug', `${T}-${S}-D`],
    ['20-hex trace id', `${T.slice(0, 20)}-${S}-1`],
    ['span id too short', `${T}-${S.slice(1)}-1`],
    ['span id too long', `${T}-${S}0-1`],
    ['sampling 2', `${T}-${S}-2`],
    ['sampling true', `${T}-${S}-true`],
    ['trailing dash', `${T}-${S}-`],
    ['dash after sampling', `${T}-${S}-1-`],
    ['short parent', `${T}-${S}-1-${P.slice(1)}`],
    ['extra field after parent', `${T}-${S}-1-${P}-1`],
    ['parent without sampling', `${T}-${S}-${P}`],
    ['duplicates joined by Node', `${T}-${S}-1, ${T}-${S}-1`],
    ['traceparent', TOKEN],
  ])('invalid: %s', (_name, value) => {
    expect(parseB3Single(value)).toBeUndefined();
  });
});

describe('parseB3Multi', () => {
  const getter = (h: Record<string, string>) => (name: string) => h[name];

  test.each<[string, Record<string, string>, TraceContext]>([
    ['ids only (taken as sampled)', { 'x-b3-traceid': T, 'x-b3-spanid': S }, ctx(true)],
    ['sampled 1', { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '1' }, ctx(true)],
    ['sampled 0', { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '0' }, ctx(false)],
    ['sampled true', { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': 'true' }, ctx(true)],
    ['sampled false', { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': 'false' }, ctx(false)],
    ['debug flag wins over sampled 0', { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '0', 'x-b3-flags': '1' }, ctx(true)],
    ['flags 0', { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '0', 'x-b3-flags': '0' }, ctx(false)],
    ['16-hex trace id', { 'x-b3-traceid': T16, 'x-b3-spanid': S }, ctx(true, T16_PADDED)],
    ['parent span id is ignored', { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-parentspanid': 'junk' }, ctx(true)],
  ])('valid: %s', (_name, headers, expected) => {
    expect(parseB3Multi(getter(headers))).toEqual(expected);
  });

  test.each<[string, Record<string, string>]>([
    ['nothing', {}],
    ['sampled only', { 'x-b3-sampled': '1' }],
    ['span id missing', { 'x-b3-traceid': T }],
    ['trace id missing', { 'x-b3-spanid': S }],
    ['all-zero trace id', { 'x-b3-traceid': ZT, 'x-b3-spanid': S }],
    ['all-zero span id', { 'x-b3-traceid': T, 'x-b3-spanid': ZS }],
    ['upper-case trace id', { 'x-b3-traceid': T.toUpperCase(), 'x-b3-spanid': S }],
    ['20-hex trace id', { 'x-b3-traceid': T.slice(0, 20), 'x-b3-spanid': S }],
    ['span id too long', { 'x-b3-traceid': T, 'x-b3-spanid': S + '0' }],
    ['sampled yes', { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': 'yes' }],
    ['sampled d', { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': 'd' }],
    ['flags 2', { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-flags': '2' }],
    ['trace id with LF', { 'x-b3-traceid': T + '\n', 'x-b3-spanid': S }],
    ['10 KB trace id', { 'x-b3-traceid': KB10, 'x-b3-spanid': S }],
    ['duplicates joined by Node', { 'x-b3-traceid': `${T}, ${T}`, 'x-b3-spanid': S }],
  ])('invalid: %s', (_name, headers) => {
    expect(parseB3Multi(getter(headers))).toBeUndefined();
  });

  test('a throwing or junk-returning getter gives undefined', () => {
    expect(parseB3Multi(() => { throw new Error('boom'); })).toBeUndefined();
    expect(parseB3Multi((() => 42) as unknown as (n: string) => string)).toBeUndefined();
    expect(parseB3Multi(null as unknown as (n: string) => string)).toBeUndefined();
  });
});

describe('readHeader', () => {
  const headers = new Headers({ 'X-Trace-Info': TOKEN });
  const out = new http.OutgoingMessage();
  out.setHeader('X-Trace-Info', TOKEN);

  test.each<[string, unknown]>([
    ['plain object, lower-case key', { 'x-trace-info': TOKEN }],
    ['plain object, canonical key', { 'X-Trace-Info': TOKEN }],
    ['null-prototype object', Object.assign(Object.create(null) as object, { 'x-trace-info': TOKEN })],
    ['WHATWG Headers', headers],
    ['Map, canonical key', new Map([['X-Trace-Info', TOKEN]])],
    ['http.OutgoingMessage', out],
    ['getHeader object', { getHeader: (n: string) => (n === 'x-trace-info' ? TOKEN : undefined), setHeader() {} }],
  ])('%s', (_name, carrier) => {
    expect(readHeader(carrier as HeaderCarrier, 'x-trace-info', 'X-Trace-Info')).toBe(TOKEN);
  });

  test('absent, other casings, and throwing carriers give undefined', () => {
    expect(readHeader({}, 'x-trace-info', 'X-Trace-Info')).toBeUndefined();
    expect(readHeader(new Headers(), 'x-trace-info', 'X-Trace-Info')).toBeUndefined();
    expect(readHeader({ 'X-TRACE-INFO': TOKEN }, 'x-trace-info', 'X-Trace-Info')).toBeUndefined();
    const throwing = { get: () => { throw new Error('boom'); } };
    expect(readHeader(throwing as HeaderCarrier, 'x-trace-info', 'X-Trace-Info')).toBeUndefined();
    expect(readHeader(null as unknown as HeaderCarrier, 'x-trace-info', 'X-Trace-Info')).toBeUndefined();
  });

  test('returns raw values unchanged (arrays, numbers)', () => {
    expect(readHeader({ b3: ['a', 'b'] }, 'b3', 'B3')).toEqual(['a', 'b']);
    expect(readHeader({ b3: 5 }, 'b3', 'B3')).toBe(5);
  });
});

describe('extractContext', () => {
  const OTHER_T = '11111111111111111111111111111111';
  const OTHER_S = '2222222222222222';
  const all = {
    'x-trace-info': TOKEN,
    traceparent: `00-${OTHER_T}-${OTHER_S}-00`,
    b3: `${OTHER_T}-${OTHER_S}-0`,
    'x-b3-traceid': OTHER_T,
    'x-b3-spanid': OTHER_S,
  };

  function run(carrier: unknown): { ctx: TraceContext | undefined; malformed: [string, unknown][] } {
    const malformed: [string, unknown][] = [];
    const result = extractContext(carrier as HeaderCarrier, (h, v) => malformed.push([h, v]));
    return { ctx: result, malformed };
  }

  test.each<[string, Record<string, unknown>, TraceContext | undefined, string[]]>([
    ['X-Trace-Info wins over all', all, ctx(true), []],
    ['traceparent wins over b3', { ...all, 'x-trace-info': undefined }, ctx(false, OTHER_T, OTHER_S), []],
    ['canonical X-Trace-Info key', { 'X-Trace-Info': TOKEN }, ctx(true), []],
    ['garbage X-Trace-Info, valid traceparent', { 'x-trace-info': 'garbage!', traceparent: TOKEN }, ctx(true), ['x-trace-info']],
    ['zero-id X-Trace-Info, valid b3', { 'x-trace-info': `00-${ZT}-${S}-01`, b3: `${T}-${S}-1` }, ctx(true), ['x-trace-info']],
    ['bad traceparent, valid b3', { traceparent: `ff-${T}-${S}-01`, b3: `${T}-${S}-0` }, ctx(false), ['traceparent']],
    ['bad b3, valid multi', { b3: 'nope', 'x-b3-traceid': T, 'x-b3-spanid': S }, ctx(true), ['b3']],
    ['b3 decision only, valid multi (not malformed)', { b3: '0', 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '0' }, ctx(false), []],
    ['b3 decision only, nothing else', { b3: '0' }, undefined, []],
    ['multi sampled only', { 'x-b3-sampled': '1' }, undefined, []],
    ['canonical multi keys', { 'X-B3-TraceId': T, 'X-B3-SpanId': S, 'X-B3-Sampled': '0' }, ctx(false), []],
    ['legacy token', { 'x-trace-info': LEGACY }, ctx(true, '5'.padStart(32, '0'), '6'.padStart(16, '0')), []],
    ['nothing', {}, undefined, []],
    ['empty values count as absent', { 'x-trace-info': '', traceparent: '' }, undefined, []],
    ['all malformed', { 'x-trace-info': 'x', traceparent: 'x', b3: 'x', 'x-b3-traceid': 'x', 'x-b3-spanid': S }, undefined, ['x-trace-info', 'traceparent', 'b3', 'x-b3-traceid']],
    ['multi span id bad', { 'x-b3-traceid': T }, undefined, ['x-b3-spanid']],
    ['multi sampled bad', { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': 'maybe' }, undefined, ['x-b3-sampled']],
    ['multi flags bad', { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-flags': '3' }, undefined, ['x-b3-flags']],
    ['10 KB X-Trace-Info', { 'x-trace-info': KB10, traceparent: TOKEN }, ctx(true), ['x-trace-info']],
    ['CR/LF in traceparent', { traceparent: TOKEN + '\r\n' }, undefined, ['traceparent']],
    ['array of one', { traceparent: [TOKEN] }, ctx(true), []],
    ['array of two', { traceparent: [TOKEN, TOKEN], b3: `${T}-${S}` }, ctx(true), ['traceparent']],
    ['number value', { 'x-trace-info': 5 }, undefined, ['x-trace-info']],
    ['object value', { traceparent: { a: 1 } }, undefined, ['traceparent']],
    ['null value is absent', { 'x-trace-info': null, traceparent: TOKEN }, ctx(true), []],
    ['duplicates joined by Node', { traceparent: `${TOKEN}, ${TOKEN}` }, undefined, ['traceparent']],
  ])('%s', (_name, carrier, expected, malformedNames) => {
    const { ctx: result, malformed } = run(carrier);
    expect(result).toEqual(expected);
    expect(malformed.map(([h]) => h)).toEqual(malformedNames);
  });

  test('reports the raw value', () => {
    expect(run({ traceparent: ['a', 'b'] }).malformed).toEqual([['traceparent', ['a', 'b']]]);
    expect(run({ 'x-b3-traceid': T, 'x-b3-spanid': 7 }).malformed).toEqual([['x-b3-spanid', 7]]);
  });

  test('works on WHATWG Headers, a Map and an OutgoingMessage', () => {
    expect(run(new Headers({ b3: `${T}-${S}-0` })).ctx).toEqual(ctx(false));
    expect(run(new Headers({ 'X-B3-TraceId': T, 'X-B3-SpanId': S })).ctx).toEqual(ctx(true));
    expect(run(new Map([['traceparent', TOKEN]])).ctx).toEqual(ctx(true));
    const out = new http.OutgoingMessage();
    out.setHeader('Traceparent', TOKEN);
    expect(run(out).ctx).toEqual(ctx(true));
  });

  test('a carrier whose getters throw is reported once as "*"', () => {
    const err = new Error('boom');
    const getter = { get: () => { throw err; } };
    expect(run(getter)).toEqual({ ctx: undefined, malformed: [['*', err]] });
    const proxy = new Proxy({}, { get: () => { throw err; } });
    expect(run(proxy)).toEqual({ ctx: undefined, malformed: [['*', err]] });
    const accessor = Object.defineProperty({}, 'traceparent', { get: () => { throw err; }, enumerable: true });
    expect(run(accessor)).toEqual({ ctx: undefined, malformed: [['*', err]] });
  });

  test('a throwing onMalformed is swallowed', () => {
    expect(
      extractContext({ 'x-trace-info': 'bad', traceparent: TOKEN }, () => {
        throw new Error('counter broke');
      }),
    ).toEqual(ctx(true));
    expect(extractContext({ get: () => { throw new Error('x'); } }, () => { throw new Error('y'); })).toBeUndefined();
  });

  test.each([[undefined], [null], [42], ['headers'], [true]])('carrier %p gives undefined', (carrier) => {
    expect(run(carrier)).toEqual({ ctx: undefined, malformed: [] });
  });

  describe('on a real IncomingMessage', () => {
    let server: http.Server;
    let port: number;
    let seen: http.IncomingHttpHeaders[] = [];
    beforeAll(async () => {
      server = http.createServer((req, res) => {
        seen.push(req.headers);
        res.end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    /** Sends raw header lines, so duplicates reach Node's parser exactly as a peer sent them. */
    async function send(lines: string[]): Promise<http.IncomingHttpHeaders> {
      seen = [];
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.end(['GET / HTTP/1.1', 'Host: x', 'Connection: close', ...lines, '', ''].join('\r\n'));
        });
        socket.on('data', () => undefined);
        socket.on('error', reject);
        socket.on('close', () => resolve());
      });
      return seen[0];
    }

    test('duplicate traceparent headers are joined by Node and rejected; b3 then wins', async () => {
      const headers = await send([`traceparent: ${TOKEN}`, `traceparent: ${TOKEN}`, `b3: ${T}-${S}-0`]);
      expect(headers.traceparent).toBe(`${TOKEN}, ${TOKEN}`);
      expect(run(headers)).toEqual({ ctx: ctx(false), malformed: [['traceparent', `${TOKEN}, ${TOKEN}`]] });
    });

    test('mixed-case header names arrive lower-cased and are read', async () => {
      const headers = await send([`X-Trace-Info: ${TOKEN}`, `X-B3-TraceId: ${OTHER_T}`]);
      expect(run(headers)).toEqual({ ctx: ctx(true), malformed: [] });
    });
  });
});

describe('injectContext', () => {
  const ALL: PropagationFormat[] = ['x-trace-info', 'traceparent', 'b3', 'b3-multi'];

  test('writes every format as lower-case names on a plain object', () => {
    const headers: Record<string, string> = { accept: 'text/plain' };
    expect(injectContext(headers, ctx(false), ALL)).toBe(true);
    expect(headers).toEqual({
      accept: 'text/plain',
      'x-trace-info': `00-${T}-${S}-00`,
      traceparent: `00-${T}-${S}-00`,
      b3: `${T}-${S}-0`,
      'x-b3-traceid': T,
      'x-b3-spanid': S,
      'x-b3-sampled': '0',
    });
  });

  test('overwrites an existing canonically cased key instead of duplicating it', () => {
    const headers: Record<string, string> = { 'X-Trace-Info': 'old', 'X-B3-Sampled': '0' };
    injectContext(headers, ctx(true), ['x-trace-info', 'b3-multi']);
    expect(headers).toEqual({ 'X-Trace-Info': TOKEN, 'X-B3-Sampled': '1', 'x-b3-traceid': T, 'x-b3-spanid': S });
  });

  test('uses set on WHATWG Headers and setHeader on an OutgoingMessage', () => {
    const h = new Headers();
    expect(injectContext(h, ctx(true), ['b3'])).toBe(true);
    expect(h.get('b3')).toBe(`${T}-${S}-1`);
    const out = new http.OutgoingMessage();
    expect(injectContext(out, ctx(true), ['traceparent', 'b3-multi'])).toBe(true);
    expect(out.getHeaders()).toEqual({ traceparent: TOKEN, 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '1' });
  });

  test('skips unknown formats; no formats writes nothing', () => {
    const headers: Record<string, string> = {};
    expect(injectContext(headers, ctx(true), ['jaeger' as PropagationFormat, 'b3'])).toBe(true);
    expect(Object.keys(headers)).toEqual(['b3']);
    const empty: Record<string, string> = {};
    expect(injectContext(empty, ctx(true), [])).toBe(true);
    expect(empty).toEqual({});
  });

  test.each<[string, unknown]>([
    ['all-zero trace id', ctx(true, ZT)],
    ['upper-case span id', ctx(true, T, S.toUpperCase())],
    ['16-hex trace id', ctx(true, T16)],
    ['CRLF in an id', ctx(true, T.slice(0, 30) + '\r\n')],
    ['sampled not a boolean', { traceId: T, spanId: S, sampled: 1 }],
    ['null', null],
    ['a string', TOKEN],
  ])('an invalid context (%s) writes nothing and returns false', (_name, c) => {
    const headers: Record<string, string> = {};
    expect(injectContext(headers, c as TraceContext, ALL)).toBe(false);
    expect(headers).toEqual({});
  });

  test('a refusing carrier returns false and never throws', () => {
    expect(injectContext(Object.freeze({}) as HeaderCarrier, ctx(true), ALL)).toBe(false);
    const sent = { getHeader: () => undefined, setHeader: () => { throw new Error('ERR_HTTP_HEADERS_SENT'); } };
    expect(injectContext(sent, ctx(true), ALL)).toBe(false);
    expect(injectContext({ get: () => null }, ctx(true), ALL)).toBe(false);
    expect(injectContext(null as unknown as HeaderCarrier, ctx(true), ALL)).toBe(false);
    expect(injectContext({}, ctx(true), null as unknown as PropagationFormat[])).toBe(false);
    const proxy = new Proxy({}, { get: () => { throw new Error('boom'); } });
    expect(injectContext(proxy as HeaderCarrier, ctx(true), ALL)).toBe(false);
  });

  test('a ClientRequest whose headers were sent refuses, and that is false', async () => {
    const server = http.createServer((_req, res) => res.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const req = http.request({ port, host: '127.0.0.1', agent: false });
    expect(injectContext(req, ctx(true), ['traceparent'])).toBe(true);
    expect(req.getHeader('traceparent')).toBe(TOKEN);
    await new Promise<void>((resolve, reject) => {
      req.on('response', (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    expect(injectContext(req, ctx(true), ['b3'])).toBe(false);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});

describe('properties', () => {
  const hex = (n: number) =>
    fc
      .string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n })
      .filter((s) => /[^0]/.test(s));
  const contexts = fc.record({ traceId: hex(32), spanId: hex(16), sampled: fc.boolean() });
  const HEADER_NAMES = [
    'x-trace-info', 'X-Trace-Info', 'traceparent', 'Traceparent', 'b3', 'B3',
    'x-b3-traceid', 'X-B3-TraceId', 'x-b3-spanid', 'X-B3-SpanId', 'x-b3-sampled', 'x-b3-flags',
  ];
  const strings = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 80 }),
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF-d, \r\n'), maxLength: 120 }),
    fc.string({ unit: 'binary-ascii', minLength: 500, maxLength: 600 }),
    contexts.map((c) => formatToken(c)),
    contexts.map((c) => `${c.traceId}-${c.spanId}-${c.sampled ? 'd' : '0'}`),
  );
  const values = fc.oneof(strings, fc.array(strings, { maxLength: 3 }), fc.anything());

  test('parsers never throw on anything', () => {
    fc.assert(
      fc.property(values, (v) => {
        parseToken(v);
        parseTraceparent(v);
        parseB3Single(v);
        parseB3Multi(() => v as string);
      }),
      { numRuns: 3000 },
    );
  });

  test('extractContext never throws on arbitrary carriers, and any result is well-formed', () => {
    const carriers = fc.oneof(
      fc.dictionary(fc.constantFrom(...HEADER_NAMES), values),
      fc.anything(),
      fc.dictionary(fc.constantFrom(...HEADER_NAMES), strings).map((d) => new Headers(
        Object.entries(d).filter(([, v]) => !/[\r\n\0]/.test(v) && /^[\x20-\x7e]*$/.test(v)),
      )),
    );
    fc.assert(
      fc.property(carriers, (carrier) => {
        const result = extractContext(carrier as HeaderCarrier, () => undefined);
        if (result !== undefined) {
          expect(result.traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
          expect(result.spanId).toMatch(/^(?!0{16})[0-9a-f]{16}$/);
          expect(typeof result.sampled).toBe('boolean');
        }
      }),
      { numRuns: 3000 },
    );
  });

  test('parseToken(formatToken(ctx)) === ctx, and formatToken(parseToken(token)) === token', () => {
    fc.assert(
      fc.property(contexts, (c) => {
        expect(parseToken(formatToken(c))).toEqual(c);
        expect(parseTraceparent(formatToken(c))).toEqual(c);
        const token = formatToken(c);
        expect(formatToken(parseToken(token) as TraceContext)).toBe(token);
      }),
    );
  });

  /** A tiny OutgoingMessage stand-in: case-insensitive like Node's. */
  function fakeOutgoing(): HeaderCarrier {
    const store = new Map<string, string>();
    return {
      getHeader: (n: string) => store.get(n.toLowerCase()),
      setHeader: (n: string, v: string) => store.set(n.toLowerCase(), v),
    };
  }
  const carriersFor: [string, () => HeaderCarrier][] = [
    ['plain object', () => ({})],
    ['WHATWG Headers', () => new Headers()],
    ['OutgoingMessage-like', fakeOutgoing],
    ['http.OutgoingMessage', () => new http.OutgoingMessage()],
  ];
  const formats: PropagationFormat[] = ['x-trace-info', 'traceparent', 'b3', 'b3-multi'];

  describe.each(carriersFor)('inject then extract round-trips on %s', (_name, make) => {
    test.each(formats)('%s', (format) => {
      fc.assert(
        fc.property(contexts, (c) => {
          const carrier = make();
          expect(injectContext(carrier, c, [format])).toBe(true);
          const malformed: string[] = [];
          expect(extractContext(carrier, (h) => malformed.push(h))).toEqual(c);
          expect(malformed).toEqual([]);
        }),
        { numRuns: 200 },
      );
    });
  });
});

describe('injectContext: X-B3-ParentSpanId', () => {
  const ctx = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', sampled: true };

  it('writes x-b3-parentspanid with b3-multi when a valid parent span id is given', () => {
    const headers: Record<string, string> = {};
    expect(injectContext(headers, ctx, ['b3-multi'], '00f067aa0ba902b7')).toBe(true);
    expect(headers['x-b3-parentspanid']).toBe('00f067aa0ba902b7');
    expect(headers['x-b3-spanid']).toBe('b7ad6b7169203331');
  });

  it('writes no parent header for a root span, an invalid parent id, or other formats', () => {
    const root: Record<string, string> = {};
    injectContext(root, ctx, ['b3-multi']);
    expect(root).not.toHaveProperty('x-b3-parentspanid');
    const invalid: Record<string, string> = {};
    injectContext(invalid, ctx, ['b3-multi'], '0000000000000000');
    expect(invalid).not.toHaveProperty('x-b3-parentspanid');
    const single: Record<string, string> = {};
    injectContext(single, ctx, ['x-trace-info', 'traceparent', 'b3'], '00f067aa0ba902b7');
    expect(Object.keys(single).sort()).toEqual(['b3', 'traceparent', 'x-trace-info']);
  });
});

describe('mayCarryTrace', () => {
  const READ = ['x-trace-info', 'traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled', 'x-b3-flags', 'baggage'];
  const ORDINARY = {
    host: 'example.com', 'user-agent': 'Mozilla/5.0', accept: 'text/html', 'accept-language': 'en-US',
    'accept-encoding': 'gzip', connection: 'keep-alive', cookie: 'a=b', 'x-request-id': 'abc',
    'x-forwarded-for': '1.2.3.4', 'content-type': 'text/plain', 'transfer-encoding': 'chunked', te: 'trailers',
    'x-b3': '1', 'b3-extra': '1', traceparents: '1', 'x-trace-infos': '1', bag: '1', trace: '1',
  };

  test('false for objects without any header it reads, and for what is not an object', () => {
    expect(mayCarryTrace({})).toBe(false);
    expect(mayCarryTrace(ORDINARY)).toBe(false);
    expect(mayCarryTrace(undefined)).toBe(false);
    expect(mayCarryTrace(null)).toBe(false);
    expect(mayCarryTrace('traceparent' as unknown as HeaderCarrier)).toBe(false);
  });

  test.each(READ)('true with %s, in any casing, among ordinary headers', (name) => {
    for (const key of [name, name.toUpperCase(), name.replace(/(^|-)([a-z])/g, (m) => m.toUpperCase())]) {
      expect(mayCarryTrace({ ...ORDINARY, [key]: 'x' })).toBe(true);
    }
  });

  test('true for an inherited enumerable header, which a lookup by name finds too', () => {
    const carrier = Object.create({ traceparent: TOKEN }) as HeaderCarrier;
    expect(mayCarryTrace(carrier)).toBe(true);
    expect(extractContext(carrier, () => undefined)).toEqual(ctx(true));
  });

  test('true for carriers asked by name (Headers, Map, getHeader), and when listing the keys throws', () => {
    expect(mayCarryTrace(new Headers())).toBe(true);
    expect(mayCarryTrace(new Map() as unknown as HeaderCarrier)).toBe(true);
    expect(mayCarryTrace(new http.OutgoingMessage() as unknown as HeaderCarrier)).toBe(true);
    const hostile = new Proxy({}, { ownKeys: () => { throw new Error('no'); } }) as HeaderCarrier;
    expect(mayCarryTrace(hostile)).toBe(true);
  });

  test('on Node request headers: false without trace headers, true with one in any casing', async () => {
    const seen: boolean[] = [];
    const server = http.createServer((req, res) => {
      seen.push(mayCarryTrace(req.headers));
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      for (const headers of [{ 'User-Agent': 'x', Accept: '*/*' }, { TraceParent: TOKEN }, { BAGGAGE: 'a=1' }]) {
        await new Promise<void>((resolve, reject) => {
          http.get({ port, host: '127.0.0.1', headers }, (res) => res.resume().on('end', resolve)).on('error', reject);
        });
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(seen).toEqual([false, true, true]);
  });

  test('property: when false, extractContext and extractBaggage find nothing and report nothing', () => {
    const names = fc.constantFrom(...READ, ...READ.map((n) => n.toUpperCase()), 'X-Trace-Info', 'Traceparent', 'B3', 'X-B3-TraceId', 'host', 'accept', 'x-b3', 'tracest', 'bagage');
    const values = fc.oneof(fc.string({ maxLength: 60 }), fc.constant(TOKEN), fc.constant(`${T}-${S}-1`), fc.constant('a=1'));
    fc.assert(
      fc.property(fc.dictionary(fc.oneof(names, fc.string({ maxLength: 14 })), values), (carrier) => {
        if (mayCarryTrace(carrier)) return;
        const malformed: string[] = [];
        expect(extractContext(carrier, (h) => malformed.push(h))).toBeUndefined();
        expect(extractBaggage(carrier, (h) => malformed.push(h))).toBeUndefined();
        expect(malformed).toEqual([]);
      }),
      { numRuns: 3000 },
    );
  });
});
