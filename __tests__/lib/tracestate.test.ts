/**
 * The `tracestate` rules of W3C Trace Context ("tracestate Header Field Values", "tracestate
 * Limits", processing model steps 2-3), one table row per rule, on `parseTraceState` and then
 * through a tracer: extract from incoming headers, inject into outgoing ones.
 */
import fc from 'fast-check';
import { MAX_TRACESTATE_CHARS, MAX_TRACESTATE_MEMBERS, parseTraceState } from '../../lib/tracestate';
import { Tracer } from '../../lib/tracer';
import type { DiagnosticEvent } from '../../lib/types';

const T = '12345678901234567890123456789012';
const S = '1234567890123456';
const TRACEPARENT = `00-${T}-${S}-00`;

const KEY_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789_-*/';
const VALUE_CHARS = [
  ...Array.from({ length: 0x2b - 0x20 + 1 }, (_, i) => String.fromCharCode(0x20 + i)),
  ...Array.from({ length: 0x3c - 0x2d + 1 }, (_, i) => String.fromCharCode(0x2d + i)),
  ...Array.from({ length: 0x7e - 0x3e + 1 }, (_, i) => String.fromCharCode(0x3e + i)),
].join('');
const members = (n: number, from = 1) =>
  Array.from({ length: n }, (_, i) => `bar${String(i + from).padStart(2, '0')}=${String(i + from).padStart(2, '0')}`);

/** [rule, input (a string, or an array of header lines), expected: string kept, undefined nothing, null discarded] */
const RULES: [string, unknown, string | null | undefined][] = [
  // Combining and list syntax.
  ['a single member passes as is', 'rojo=00f067aa0ba902b7', 'rojo=00f067aa0ba902b7'],
  ['two members keep their order', 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE', 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE'],
  ['repeated header lines are combined in order', ['foo=1,bar=2', 'rojo=1,congo=2', 'baz=3'], 'foo=1,bar=2,rojo=1,congo=2,baz=3'],
  ['an empty header is accepted and sends nothing', '', undefined],
  ['an empty line after a member is dropped', ['foo=1', ''], 'foo=1'],
  ['an empty line before a member is dropped', ['', 'foo=1'], 'foo=1'],
  ['empty list members are dropped', 'foo=1,,bar=2,', 'foo=1,bar=2'],
  ['whitespace-only members are dropped', 'foo=1, \t ,bar=2', 'foo=1,bar=2'],
  ['only commas and OWS: nothing to send', ' , \t,', undefined],
  ['a header joined by Node (", ") is split back', 'foo=1, bar=2', 'foo=1,bar=2'],
  // OWS around members (the W3C suite's test_tracestate_ows_handling).
  ['OWS around commas', 'foo=1 \t , \t bar=2, \t baz=3', 'foo=1,bar=2,baz=3'],
  ['tabs and spaces around commas', 'foo=1\t \t,\t \tbar=2,\t \tbaz=3', 'foo=1,bar=2,baz=3'],
  ['leading space', ' foo=1', 'foo=1'],
  ['leading tab', '\tfoo=1', 'foo=1'],
  ['trailing space (not part of the value)', 'foo=1 ', 'foo=1'],
  ['trailing tab', 'foo=1\t', 'foo=1'],
  ['OWS both sides', '\t foo=1 \t', 'foo=1'],
  ['leading spaces inside a value are kept', 'foo=  1', 'foo=  1'],
  ['inner spaces in a value are kept', 'foo=a b', 'foo=a b'],
  // Keys.
  ['every allowed key character', `${KEY_CHARS}=1`, `${KEY_CHARS}=1`],
  ['a key may start with a digit', '0foo=1', '0foo=1'],
  ['a vendor key tenant@system', 'tenant@vendor=1', 'tenant@vendor=1'],
  ['a vendor key with every allowed character', `${KEY_CHARS}@a-z0-9_-*/=1`, `${KEY_CHARS}@a-z0-9_-*/=1`],
  ['a key ending in @', 'foo@=1,bar=2', 'foo@=1,bar=2'],
  ['a key with @@', 'foo@@bar=1,bar=2', 'foo@@bar=1,bar=2'],
  ['a key with two @', 'foo@bar@baz=1,bar=2', 'foo@bar@baz=1,bar=2'],
  ['a 256-character key', ['foo=1', `${'z'.repeat(256)}=1`], `foo=1,${'z'.repeat(256)}=1`],
  ['a 256-character vendor key, tenant 241', ['foo=1', `${'t'.repeat(241)}@${'v'.repeat(14)}=1`], `foo=1,${'t'.repeat(241)}@${'v'.repeat(14)}=1`],
  ['a 256-character vendor key, system 1', ['foo=1', `${'t'.repeat(242)}@v=1`], `foo=1,${'t'.repeat(242)}@v=1`],
  ['a vendor key with a 15-character system', ['foo=1', `t@${'v'.repeat(15)}=1`], `foo=1,t@${'v'.repeat(15)}=1`],
  ['a 257-character key discards the header', ['foo=1', `${'z'.repeat(257)}=1`], null],
  ['a key starting with @ discards the header', '@foo=1,bar=2', null],
  ['an upper-case key discards the header', 'FOO=1', null],
  ['a dot in a key discards the header', 'foo.bar=1', null],
  ['a space before = discards the header', 'foo =1', null],
  ['a key starting with _ discards the header', '_foo=1', null],
  ['an empty key discards the header', '=1', null],
  ['a member without = discards the header', 'foo', null],
  // Values.
  ['every allowed value character', `foo=${VALUE_CHARS.trimEnd()}`, `foo=${VALUE_CHARS.trimEnd()}`],
  ['a 256-character value', `foo=${'v'.repeat(256)}`, `foo=${'v'.repeat(256)}`],
  ['a 257-character value discards the header', `foo=${'v'.repeat(257)}`, null],
  ['= in a value discards the header', 'foo=bar=baz', null],
  ['an empty value discards the header', 'foo=,bar=3', null],
  ['a value of spaces only discards the header', 'foo=   ,bar=3', null],
  ['a non-ASCII value discards the header', 'foo=caf\u00e9', null],
  ['a control character discards the header', 'foo=a\u0001b', null],
  ['CR LF discards the header', 'foo=1\r\nx-evil: 1', null],
  ['DEL discards the header', 'foo=a\u007f', null],
  // Duplicates: kept as received (the specification lets vendors drop only their own).
  ['duplicate keys are kept as received', 'foo=1,foo=1', 'foo=1,foo=1'],
  ['duplicate keys with other values too', 'foo=1,foo=2', 'foo=1,foo=2'],
  ['duplicates across header lines', ['foo=1', 'foo=2'], 'foo=1,foo=2'],
  // Member count.
  ['32 members are kept', [members(10).join(','), members(10, 11).join(','), members(10, 21).join(','), members(2, 31).join(',')], members(32).join(',')],
  ['33 members discard the header', [members(10).join(','), members(10, 11).join(','), members(10, 21).join(','), members(3, 31).join(',')], null],
  ['32 members and empty ones are kept', members(32).join(',,'), members(32).join(',')],
  // Non-strings.
  ['a number discards the header', 42, null],
  ['an array holding a number discards the header', ['foo=1', 2], null],
  ['an object discards the header', { foo: '1' }, null],
  ['absent', undefined, undefined],
  ['null', null, undefined],
];

describe('parseTraceState: every rule of the tracestate section', () => {
  test.each(RULES)('%s', (_rule, input, expected) => {
    expect(parseTraceState(input)).toBe(expected);
  });

  it('an input already in normal form is passed on as the very same string', () => {
    const value = 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE';
    expect(parseTraceState(value)).toBe(value);
  });
});

describe('parseTraceState: the size limit (tracestate Limits)', () => {
  const big = (key: string, n: number) => `${key}=${'v'.repeat(n - key.length - 1)}`;

  it(`keeps ${MAX_TRACESTATE_CHARS} characters exactly`, () => {
    const value = [big('a', 200), big('b', 200), big('c', MAX_TRACESTATE_CHARS - 402)].join(',');
    expect(value.length).toBe(MAX_TRACESTATE_CHARS);
    expect(parseTraceState(value)).toBe(value);
  });

  it('over the limit, members over 128 characters go first, then members from the end, whole', () => {
    const small = members(20); // 20 x 9 chars
    const value = [big('large1', 200), ...small.slice(0, 10), big('large2', 200), ...small.slice(10), big('large3', 200)].join(',');
    const kept = parseTraceState(value) as string;
    expect(kept.length).toBeLessThanOrEqual(MAX_TRACESTATE_CHARS);
    // Enough large members go to fit (the first ones met), and the small ones all stay.
    expect(kept).toBe([...small.slice(0, 10), ...small.slice(10), big('large3', 200)].join(','));
  });

  it('when small members alone are too many characters, whole members are dropped from the end', () => {
    const thirty = Array.from({ length: 30 }, (_, i) => big(`k${String(i).padStart(2, '0')}`, 100));
    const kept = parseTraceState(thirty.join(',')) as string;
    const keptMembers = kept.split(',');
    expect(keptMembers).toEqual(thirty.slice(0, keptMembers.length));
    expect(kept.length).toBeLessThanOrEqual(MAX_TRACESTATE_CHARS);
    expect(kept.length + 101).toBeGreaterThan(MAX_TRACESTATE_CHARS);
  });

  it('a huge header (over 32 KiB) is discarded without being scanned member by member', () => {
    expect(parseTraceState('a=' + 'b'.repeat(40 * 1024))).toBeNull();
  });

  it('the limit is the exported constant', () => {
    expect(MAX_TRACESTATE_MEMBERS).toBe(32);
    expect(MAX_TRACESTATE_CHARS).toBe(512);
  });
});

describe('parseTraceState: properties', () => {
  const key = fc.string({ unit: fc.constantFrom(...KEY_CHARS), minLength: 1, maxLength: 20 }).filter((k) => /^[a-z0-9]/.test(k));
  const value = fc
    .string({ unit: fc.constantFrom(...VALUE_CHARS), minLength: 1, maxLength: 20 })
    .filter((v) => !v.endsWith(' ') && !v.startsWith(' '));

  it('any valid list round-trips unchanged, whatever OWS and empty members surround it', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(key, value), { minLength: 1, maxLength: 32 }), fc.constantFrom('', ' ', '\t', ' \t '), (list, ows) => {
        const normal = list.map(([k, v]) => `${k}=${v}`).join(',');
        fc.pre(normal.length <= MAX_TRACESTATE_CHARS);
        expect(parseTraceState(normal)).toBe(normal);
        expect(parseTraceState(list.map(([k, v]) => `${ows}${k}=${v}${ows}`).join(`,${ows},`))).toBe(normal);
      }),
    );
  });

  it('never throws, and what it returns is always valid again', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.array(fc.string()), fc.anything()), (input) => {
        const out = parseTraceState(input);
        if (typeof out === 'string') expect(parseTraceState(out)).toBe(out);
      }),
    );
  });
});

describe('a tracer carries tracestate from the incoming headers to every outgoing one', () => {
  function tracer(events: DiagnosticEvent[] = []): Tracer {
    return new Tracer({ serviceName: 'ts', exporters: [], onDiagnostic: (e) => events.push(e) });
  }

  /** What a service sends on after receiving `incoming`, as the W3C harness sees it. */
  function passOn(incoming: Record<string, string | string[]>, t = tracer()): Record<string, string> {
    const parent = t.extractContext(incoming);
    return t.trace('GET', () => t.trace('call', () => t.inject({} as Record<string, string>)), { parent: parent ?? null });
  }

  test.each(RULES.filter(([, input]) => typeof input === 'string' || Array.isArray(input)))('%s', (_rule, input, expected) => {
    const events: DiagnosticEvent[] = [];
    const t = tracer(events);
    const out = passOn({ traceparent: TRACEPARENT, tracestate: input as string | string[] }, t);
    // A malformed tracestate never costs the traceparent.
    expect(out.traceparent).toMatch(new RegExp(`^00-${T}-[0-9a-f]{16}-00$`));
    expect(out.tracestate).toBe(expected ?? undefined);
    expect(t.stats().malformedHeaders).toBe(expected === null ? 1 : 0);
    if (expected === null) expect(events.map((e) => e.code)).toEqual(['TOMOGRAPH_MALFORMED_HEADER']);
  });

  it('tracestate without traceparent is discarded: the new trace sends none', () => {
    expect(passOn({ tracestate: 'foo=1' }).tracestate).toBeUndefined();
    expect(passOn({ tracestate: 'foo=1,bar=2' }).tracestate).toBeUndefined();
  });

  it('tracestate with an invalid traceparent is discarded with it', () => {
    const out = passOn({ traceparent: `00-${'0'.repeat(32)}-${S}-01`, tracestate: 'foo=1' });
    expect(out.traceparent.slice(3, 35)).not.toBe('0'.repeat(32));
    expect(out.tracestate).toBeUndefined();
  });

  it('tracestate does not go with a B3 context (it belongs to a traceparent)', () => {
    expect(passOn({ b3: `${T}-${S}-1`, tracestate: 'foo=1' }).tracestate).toBeUndefined();
  });

  it('with X-Trace-Info: kept when traceparent is absent or names the same trace, dropped when another', () => {
    const xti = `00-${T}-${S}-01`;
    expect(passOn({ 'x-trace-info': xti, tracestate: 'foo=1' }).tracestate).toBe('foo=1');
    expect(passOn({ 'x-trace-info': xti, traceparent: TRACEPARENT, tracestate: 'foo=1' }).tracestate).toBe('foo=1');
    expect(passOn({ 'x-trace-info': xti, traceparent: `00-${'a'.repeat(32)}-${S}-01`, tracestate: 'foo=1' }).tracestate).toBeUndefined();
  });

  it('a WHATWG Headers carrier (which joins repeated lines itself) and header name casing', () => {
    const headers = new Headers();
    headers.append('traceparent', TRACEPARENT);
    headers.append('TraceState', 'foo=1,bar=2');
    headers.append('TRACESTATE', 'rojo=1');
    expect(passOn(headers as never).tracestate).toBe('foo=1,bar=2,rojo=1');
  });

  it('wrong header names are not read (trace-state, trace.state)', () => {
    expect(passOn({ traceparent: TRACEPARENT, 'trace-state': 'foo=1' }).tracestate).toBeUndefined();
    expect(passOn({ traceparent: TRACEPARENT, 'trace.state': 'foo=1' }).tracestate).toBeUndefined();
  });

  it('every span of the trace carries it, and only the W3C headers bring it along', () => {
    const t = new Tracer({ serviceName: 'ts', exporters: [], propagation: ['b3'] });
    const out = passOn({ traceparent: TRACEPARENT, tracestate: 'foo=1' }, t);
    expect(out).toEqual({ b3: expect.any(String) });
    const both = new Tracer({ serviceName: 'ts', exporters: [], propagation: ['x-trace-info'] });
    expect(passOn({ traceparent: TRACEPARENT, tracestate: 'foo=1' }, both).tracestate).toBe('foo=1');
  });

  it('a new root trace never carries one (tomograph adds no entry of its own)', () => {
    const t = tracer();
    expect(t.trace('root', () => t.inject({} as Record<string, string>)).tracestate).toBeUndefined();
  });

  it('a worker token from inject({}) carries it into continueTrace; a getTraceInfo() string does not', () => {
    const t = tracer();
    const headers = passOn({ traceparent: TRACEPARENT, tracestate: 'foo=1' }, t);
    const continued = t.continueTrace(headers, 'job', () => t.inject({} as Record<string, string>));
    expect(continued.tracestate).toBe('foo=1');
    expect(continued.traceparent.slice(3, 35)).toBe(T);
    const fromString = t.continueTrace(headers.traceparent, 'job', () => t.inject({} as Record<string, string>));
    expect(fromString.tracestate).toBeUndefined();
  });

  it('a TraceContext from user code may carry a tracestate, checked like a header', () => {
    const t = tracer();
    const parent = { traceId: T, spanId: S, sampled: true, traceState: ' foo=1 , bar=2' };
    expect(t.trace('x', () => t.inject({} as Record<string, string>), { parent }).tracestate).toBe('foo=1,bar=2');
    const bad = { traceId: T, spanId: S, sampled: true, traceState: 'FOO=1' };
    expect(t.trace('x', () => t.inject({} as Record<string, string>), { parent: bad }).tracestate).toBeUndefined();
  });

  it('extractContext exposes what it read: random, traceState', () => {
    const t = tracer();
    const ctx = t.extractContext({ traceparent: `00-${T}-${S}-03`, tracestate: 'foo=1' });
    expect(ctx).toEqual({ traceId: T, spanId: S, sampled: true });
    expect(ctx?.random).toBe(true);
    expect(ctx?.traceState).toBe('foo=1');
  });
});
