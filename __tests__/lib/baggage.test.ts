/**
 * W3C Baggage: the header's grammar, percent-encoding and limits (`Baggage`), and the API that
 * reads and scopes it (`getBaggage`, `getBaggageEntries`, `withBaggage`), propagated by `inject`
 * and read back by `extractContext`/`extractBaggage`.
 */
import fc from 'fast-check';
import { Baggage, MAX_BAGGAGE_BYTES, MAX_BAGGAGE_MEMBERS, percentDecode, percentEncode } from '../../lib/baggage';
import { Tracer } from '../../lib/tracer';
import { MemoryExporter } from '../../lib/memory-exporter';
import type { TracerOptions } from '../../lib/options';
import type { DiagnosticEvent } from '../../lib/types';

const T = '12345678901234567890123456789012';
const S = '1234567890123456';

function tracer(options: TracerOptions = {}, events: DiagnosticEvent[] = []): Tracer {
  return new Tracer({ serviceName: 'bag', exporters: [], onDiagnostic: (e) => events.push(e), ...options });
}

const values = (raw: unknown) => Baggage.parse(raw)?.values();
const header = (raw: unknown) => Baggage.parse(raw)?.header;

describe('Baggage.parse: the header grammar', () => {
  test.each<[string, unknown, Record<string, string> | undefined, string | undefined]>([
    ['the specification example', 'userId=alice,serverNode=DF%2028,isProduction=false',
      { userId: 'alice', serverNode: 'DF 28', isProduction: 'false' }, 'userId=alice,serverNode=DF%2028,isProduction=false'],
    ['UTF-8 percent-encoded', 'userId=Am%C3%A9lie', { userId: 'Amélie' }, 'userId=Am%C3%A9lie'],
    ['several header lines, combined in order', ['userId=alice', 'serverNode=DF%2028,isProduction=false'],
      { userId: 'alice', serverNode: 'DF 28', isProduction: 'false' }, 'userId=alice,serverNode=DF%2028,isProduction=false'],
    ['OWS around keys, = and values', 'userId =   alice, serverNode = DF%2028 ,\tisProduction = false',
      { userId: 'alice', serverNode: 'DF 28', isProduction: 'false' }, 'userId=alice,serverNode=DF%2028,isProduction=false'],
    ['= inside a value', 'expr=a=b==c', { expr: 'a=b==c' }, 'expr=a=b==c'],
    ['an empty value', 'flag=', { flag: '' }, 'flag='],
    ['properties kept, OWS removed', 'key1=value1;property1;property2, key3=value3; propertyKey = propertyValue',
      { key1: 'value1', key3: 'value3' }, 'key1=value1;property1;property2,key3=value3;propertyKey=propertyValue'],
    ['token characters in keys', "a!#$%&'*+-.^_`|~Z9=1", { "a!#$%&'*+-.^_`|~Z9": '1' }, "a!#$%&'*+-.^_`|~Z9=1"],
    ['a repeated key: both kept in order, the last one read', 'k=1,k=2', { k: '2' }, 'k=1,k=2'],
    ['empty members (a joined empty line) dropped', 'a=1,, ,b=2,', { a: '1', b: '2' }, 'a=1,b=2'],
    ['an invalid percent sequence is replaced by U+FFFD', 'k=%C3%28', { k: '\ufffd(' }, 'k=%C3%28'],
    ['a lone % stays', 'k=100%', { k: '100%' }, 'k=100%'],
    ['+ is not a space', 'k=a+b', { k: 'a+b' }, 'k=a+b'],
    ['a key that is not a token: that member dropped', 'user id=1,ok=2', { ok: '2' }, 'ok=2'],
    ['a member without =: dropped', 'lonely,ok=2', { ok: '2' }, 'ok=2'],
    ['a value with a space inside: dropped', 'k=a b,ok=2', { ok: '2' }, 'ok=2'],
    ['a value with a double quote: dropped', 'k="a",ok=2', { ok: '2' }, 'ok=2'],
    ['a value with a backslash: dropped', 'k=a\\b,ok=2', { ok: '2' }, 'ok=2'],
    ['a non-ASCII value: dropped', 'k=café,ok=2', { ok: '2' }, 'ok=2'],
    ['an invalid property: the member dropped', 'k=1;bad prop,ok=2', { ok: '2' }, 'ok=2'],
    ['nothing valid', 'no good', undefined, undefined],
    ['empty', '', undefined, undefined],
    ['absent', undefined, undefined, undefined],
    ['a number', 7, undefined, undefined],
  ])('%s', (_name, raw, expectedValues, expectedHeader) => {
    expect(values(raw)).toEqual(expectedValues);
    expect(header(raw)).toBe(expectedHeader);
  });

  it('entries give the properties', () => {
    expect(Baggage.parse('a=1;ttl=60;secret,b=2')?.entries).toEqual([
      { key: 'a', value: '1', properties: 'ttl=60;secret' },
      { key: 'b', value: '2' },
    ]);
  });

  it('reports each kind of drop once', () => {
    const problems: string[] = [];
    Baggage.parse('bad key=1,also bad=2,ok=3', (reason) => problems.push(reason));
    expect(problems).toEqual(['2 invalid member(s) dropped']);
  });

  it('a key such as __proto__ is an ordinary key', () => {
    const read = values('__proto__=x,constructor=y');
    expect(Object.keys(read ?? {})).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(read)).toBe(Object.prototype);
    expect(read?.constructor).toBe('y');
  });
});

describe('Baggage limits: 180 members, 8192 bytes, whole members only', () => {
  it(`keeps ${MAX_BAGGAGE_MEMBERS} members and drops the rest`, () => {
    const problems: string[] = [];
    const raw = Array.from({ length: 200 }, (_, i) => `k${i}=${i}`).join(',');
    const baggage = Baggage.parse(raw, (reason) => problems.push(reason));
    expect(baggage?.entries).toHaveLength(MAX_BAGGAGE_MEMBERS);
    expect(baggage?.entries[179]).toEqual({ key: 'k179', value: '179' });
    expect(problems).toEqual([expect.stringMatching(/^20 member\(s\) dropped/)]);
  });

  it(`keeps ${MAX_BAGGAGE_BYTES} bytes exactly, and never a member in part`, () => {
    const big = (key: string, bytes: number) => `${key}=${'v'.repeat(bytes - key.length - 1)}`;
    const exact = [big('a', 4000), big('b', MAX_BAGGAGE_BYTES - 4001)].join(',');
    expect(exact.length).toBe(MAX_BAGGAGE_BYTES);
    expect(header(exact)).toBe(exact);
    const over = [big('a', 4000), big('b', 4000), big('c', 300), 'd=1'].join(',');
    // c does not fit; d still does.
    expect(header(over)).toBe([big('a', 4000), big('b', 4000), 'd=1'].join(','));
  });

  it('withEntries keeps to the same limits and reports what it left out', () => {
    const problems: [string, string | undefined][] = [];
    const many = Object.fromEntries(Array.from({ length: 190 }, (_, i) => [`k${i}`, String(i)]));
    const baggage = Baggage.EMPTY.withEntries(many, (reason, key) => problems.push([reason, key]));
    expect(baggage?.entries).toHaveLength(MAX_BAGGAGE_MEMBERS);
    expect(problems).toHaveLength(10);
    expect(problems[0][1]).toBe('k180');
    const huge = Baggage.EMPTY.withEntries({ a: 'x'.repeat(9000), b: 'small' }, (reason, key) => problems.push([reason, key]));
    expect(huge?.values()).toEqual({ b: 'small' });
    expect(problems.at(-1)?.[1]).toBe('a');
    expect((huge?.header.length ?? 0) <= MAX_BAGGAGE_BYTES).toBe(true);
  });

  it('a header over 64 KiB is cut at a member boundary', () => {
    const raw = Array.from({ length: 20000 }, (_, i) => `k${i}=1`).join(',');
    const baggage = Baggage.parse(raw);
    expect(baggage?.entries).toHaveLength(MAX_BAGGAGE_MEMBERS);
  });
});

describe('percent-encoding', () => {
  test.each([
    ['alice', 'alice'],
    ['DF 28', 'DF%2028'],
    ['Amélie', 'Am%C3%A9lie'],
    ['100%', '100%25'],
    ['a,b;c\\d"e', 'a%2Cb%3Bc%5Cd%22e'],
    ['tab\there', 'tab%09here'],
    ['emoji 🚀', 'emoji%20%F0%9F%9A%80'],
    ['lone \ud800 surrogate', 'lone%20%EF%BF%BD%20surrogate'],
    ['a=b/c:d', 'a=b/c:d'],
  ])('%p -> %p', (value, encoded) => {
    expect(percentEncode(value)).toBe(encoded);
  });

  it('decode(encode(v)) is v for every well-formed string', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (v) => expect(percentDecode(percentEncode(v))).toBe(v)));
  });

  it('an encoded value is made of baggage-octets only', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (v) => {
        expect(percentEncode(v)).toMatch(/^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/);
      }),
    );
  });

  it('parse never throws, and its header always parses back to itself', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.array(fc.string()), fc.anything()), (raw) => {
        const baggage = Baggage.parse(raw);
        if (baggage !== undefined) expect(Baggage.parse(baggage.header)?.header).toBe(baggage.header);
      }),
    );
  });
});

describe('getBaggage / withBaggage: scoped like trace(), never leaking', () => {
  it('before configure: empty, and withBaggage just runs fn', () => {
    const t = new Tracer();
    expect(t.getBaggage()).toEqual({});
    expect(t.withBaggage({ a: '1' }, () => t.getBaggage())).toEqual({});
  });

  it('sets, overrides and removes entries for fn and what it starts, then restores', async () => {
    const t = tracer();
    expect(t.getBaggage()).toEqual({});
    const seen = await t.withBaggage({ user: 'alice', tenant: 'acme' }, async () => {
      const outer = t.getBaggage();
      await Promise.resolve();
      const inner = t.withBaggage({ user: 'bob', tenant: undefined, region: { value: 'eu west', properties: 'ttl=60' } }, () => ({
        values: t.getBaggage(),
        entries: t.getBaggageEntries(),
      }));
      const after = await new Promise((resolve) => setImmediate(() => resolve(t.getBaggage())));
      return { outer, inner, after };
    });
    expect(seen.outer).toEqual({ user: 'alice', tenant: 'acme' });
    expect(seen.inner.values).toEqual({ user: 'bob', region: 'eu west' });
    expect(seen.inner.entries).toEqual([
      { key: 'user', value: 'bob' },
      { key: 'region', value: 'eu west', properties: 'ttl=60' },
    ]);
    expect(seen.after).toEqual({ user: 'alice', tenant: 'acme' });
    expect(t.getBaggage()).toEqual({});
  });

  it('errors from fn pass through unchanged', () => {
    const t = tracer();
    const error = new Error('boom');
    expect(() => t.withBaggage({ a: '1' }, () => { throw error; })).toThrow(error);
    expect(t.getBaggage()).toEqual({});
  });

  it('the current span stays the current span inside withBaggage, and children are its children', () => {
    const exporter = new MemoryExporter();
    const t = tracer({ exporters: [exporter] });
    t.trace('parent', (parent) => {
      t.withBaggage({ a: '1' }, () => {
        expect(t.currentSpan()).toBe(parent);
        t.trace('child', (child) => expect(child.parentId).toBe(parent.id));
        t.annotate('noted');
      });
    });
    return t.flush().then(() => {
      const [child, parent] = exporter.spans;
      expect(child.name).toBe('child');
      expect(parent.notes.map((n) => n.value)).toEqual(['noted']);
    });
  });

  it('spans started under baggage keep it after the scope (a callback ending later)', () => {
    const t = tracer();
    let later: () => Record<string, string> = () => ({});
    t.withBaggage({ a: '1' }, () => {
      t.trace('op', (span) => {
        later = () => t.inject({} as Record<string, string>, span);
      });
    });
    expect(later().baggage).toBe('a=1');
  });

  it('inject writes the baggage in scope, with or without a span', () => {
    const t = tracer();
    expect(t.withBaggage({ user: 'Amélie' }, () => t.inject({} as Record<string, string>))).toEqual({ baggage: 'user=Am%C3%A9lie' });
    const both = t.trace('op', () => t.withBaggage({ user: 'alice' }, () => t.inject({} as Record<string, string>)));
    expect(Object.keys(both).sort()).toEqual(['b3', 'baggage', 'traceparent', 'x-trace-info']);
    expect(both.baggage).toBe('user=alice');
    // No baggage: no header at all.
    expect(t.trace('op', () => t.inject({} as Record<string, string>)).baggage).toBeUndefined();
  });

  it('invalid keys and properties are left out and reported', () => {
    const events: DiagnosticEvent[] = [];
    const t = tracer({}, events);
    const read = t.withBaggage({ 'bad key': '1', ok: '2', props: { value: '3', properties: 'not valid' } }, () => t.getBaggage());
    expect(read).toEqual({ ok: '2' });
    expect(events.map((e) => e.code)).toEqual(['TOMOGRAPH_BAGGAGE_DROPPED', 'TOMOGRAPH_BAGGAGE_DROPPED']);
  });

  it.each([['async-local-storage'], ['cls-hooked']] as const)('scopes the same way with the %s store', async (context) => {
    const t = tracer({ context });
    const inner = await t.trace('op', () =>
      t.withBaggage({ a: '1' }, async () => {
        await new Promise((resolve) => setImmediate(resolve));
        return { bag: t.getBaggage(), span: t.currentSpan()?.name };
      }),
    );
    expect(inner).toEqual({ bag: { a: '1' }, span: 'op' });
    expect(t.getBaggage()).toEqual({});
  });

  it('a new root (parent: null) or a remote parent does not inherit the ambient baggage', () => {
    const t = tracer();
    t.withBaggage({ ambient: '1' }, () => {
      expect(t.trace('root', () => t.getBaggage(), { parent: null })).toEqual({});
      expect(t.trace('remote', () => t.getBaggage(), { parent: `00-${T}-${S}-01` })).toEqual({});
      // A child of the scope (no span yet: a root made inside it) does.
      expect(t.trace('child', () => t.getBaggage())).toEqual({ ambient: '1' });
    });
  });

  it('getBaggage gives a frozen object', () => {
    const t = tracer();
    t.withBaggage({ a: '1' }, () => expect(Object.isFrozen(t.getBaggage())).toBe(true));
  });
});

describe('incoming baggage', () => {
  it('comes with the trace context, and is passed on with every outgoing request of the trace', () => {
    const t = tracer();
    const parent = t.extractContext({ traceparent: `00-${T}-${S}-01`, baggage: 'userId=alice; ttl=1 ,serverNode=DF%2028' });
    expect(parent?.baggage?.values()).toEqual({ userId: 'alice', serverNode: 'DF 28' });
    const out = t.trace(
      'GET',
      () => ({ read: t.getBaggage(), sent: t.trace('call', () => t.inject({} as Record<string, string>)) }),
      { parent: parent ?? null },
    );
    expect(out.read).toEqual({ userId: 'alice', serverNode: 'DF 28' });
    expect(out.sent.baggage).toBe('userId=alice;ttl=1,serverNode=DF%2028');
  });

  it('comes alone too (extractBaggage, SpanOptions.baggage)', () => {
    const t = tracer();
    expect(t.extractContext({ baggage: 'a=1' })).toBeUndefined();
    const baggage = t.extractBaggage({ baggage: 'a=1' });
    const sent = t.trace('GET', () => t.inject({} as Record<string, string>), { parent: null, baggage });
    expect(sent.baggage).toBe('a=1');
  });

  it('continues through an unsampled trace too', () => {
    const t = tracer();
    const parent = t.extractContext({ traceparent: `00-${T}-${S}-00`, baggage: 'a=1' });
    const sent = t.trace('GET', () => t.trace('call', () => t.inject({} as Record<string, string>)), { parent: parent ?? null });
    expect(sent.baggage).toBe('a=1');
    expect(sent.traceparent).toMatch(/-00$/);
  });

  it('a worker gets it through continueTrace(inject({}))', () => {
    const t = tracer();
    const headers = t.withBaggage({ job: 'nightly' }, () => t.trace('enqueue', () => t.inject({} as Record<string, string>)));
    expect(t.continueTrace(headers, 'work', () => t.getBaggage())).toEqual({ job: 'nightly' });
    const alone = t.withBaggage({ job: 'nightly' }, () => t.inject({} as Record<string, string>));
    expect(t.continueTrace(alone, 'work', () => t.getBaggage())).toEqual({ job: 'nightly' });
  });

  it('malformed members are counted as malformed headers; the trace context stands', () => {
    const events: DiagnosticEvent[] = [];
    const t = tracer({}, events);
    const parent = t.extractContext({ traceparent: `00-${T}-${S}-01`, baggage: 'bad key=1,ok=2' });
    expect(parent?.traceId).toBe(T);
    expect(parent?.baggage?.values()).toEqual({ ok: '2' });
    expect(t.stats().malformedHeaders).toBe(1);
    expect(events[0]).toMatchObject({ code: 'TOMOGRAPH_MALFORMED_HEADER', detail: { header: 'baggage' } });
  });
});

describe('entries become span tags only when asked (baggageTags)', () => {
  async function tagsOf(options: TracerOptions): Promise<Record<string, unknown>> {
    const exporter = new MemoryExporter();
    const t = tracer({ ...options, exporters: [exporter] });
    t.withBaggage({ user: 'alice', secret: 's3cr3t' }, () => t.trace('op', () => undefined));
    await t.flush();
    return exporter.spans[0].tags;
  }

  it('never by default', async () => {
    expect(await tagsOf({})).toEqual({});
  });

  it('every entry with baggageTags: true', async () => {
    expect(await tagsOf({ baggageTags: true })).toEqual({ 'baggage.user': 'alice', 'baggage.secret': 's3cr3t' });
  });

  it('the listed keys only', async () => {
    expect(await tagsOf({ baggageTags: ['user'] })).toEqual({ 'baggage.user': 'alice' });
  });

  it('a wrong baggageTags option is a TypeError at configure', () => {
    expect(() => tracer({ baggageTags: 'user' as never })).toThrow(expect.objectContaining({ code: 'TOMOGRAPH_ERR_INVALID_OPTION' }));
    expect(() => tracer({ baggageTags: [''] })).toThrow(TypeError);
  });
});
