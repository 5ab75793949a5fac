import fc from 'fast-check';
import { jsonEncoder, model, option, TraceId } from 'zipkin';
import { MemoryExporter, Tracer, ManualClock, sequentialIdGenerator } from '../../lib';
import type { FinishedSpan } from '../../lib/types';
import { hasCheckedIds } from '../../lib/span';
import { toZipkinSpan, zipkinAddress, zipkinSpanId, zipkinTraceId, type ZipkinSpan } from '../../exporters/zipkin-encode';
import { encodeZipkinBodies, encodeZipkinSpan, encodeZipkinSpans, zipkinResourceTags } from '../../exporters/zipkin-json';
import { assertValidZipkinSpans, zipkinSpanErrors } from '../helpers/zipkin-schema';

const T0 = 1_700_000_000_000_000;

function span(fields: Partial<FinishedSpan> = {}): FinishedSpan {
  return {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    id: 'b7ad6b7169203331',
    name: 'GET /users/:id',
    service: 'Shop',
    timestamp: T0,
    duration: 1500,
    notes: [],
    tags: {},
    sampled: true,
    ...fields,
  };
}

function encoded(s: FinishedSpan): ZipkinSpan {
  return JSON.parse(encodeZipkinSpan(s)) as ZipkinSpan;
}

describe('toZipkinSpan / encodeZipkinSpan', () => {
  it('maps a typical server span field by field', () => {
    const s = span({
      parentId: '00f067aa0ba902b7',
      kind: 'SERVER',
      host: { address: '10.0.0.7', port: 8080 },
      remote: { service: 'Browser', address: '192.168.1.20', port: 51234 },
      notes: [
        { timestamp: T0 + 10, value: 'cache miss' },
        { timestamp: T0 + 20, value: 'select', duration: 1234 },
      ],
      tags: { 'http.status_code': 500, 'cache.hit': false, 'http.route': '/users/:id' },
      error: 'boom',
    });
    const expected: ZipkinSpan = {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      parentId: '00f067aa0ba902b7',
      id: 'b7ad6b7169203331',
      name: 'get /users/:id',
      kind: 'SERVER',
      timestamp: T0,
      duration: 1500,
      localEndpoint: { serviceName: 'shop', ipv4: '10.0.0.7', port: 8080 },
      remoteEndpoint: { serviceName: 'browser', ipv4: '192.168.1.20', port: 51234 },
      annotations: [
        { timestamp: T0 + 10, value: 'cache miss' },
        { timestamp: T0 + 20, value: 'select (1.234 ms)' },
      ],
      tags: { 'http.status_code': '500', 'cache.hit': 'false', 'http.route': '/users/:id', error: 'boom' },
    };
    expect(toZipkinSpan(s)).toEqual(expected);
    expect(encoded(s)).toEqual(expected);
    // Same text, same field order as zipkin-js's JSON_V2 writes.
    expect(encodeZipkinSpan(s)).toBe(JSON.stringify(expected));
  });

  it('omits what is absent instead of writing empty or invalid values', () => {
    const s = span({ name: '', service: '', notes: [], tags: {} });
    expect(encodeZipkinSpan(s)).toBe(`{"traceId":"${s.traceId}","id":"${s.id}","timestamp":${T0},"duration":1500}`);
  });

  it('lets the span error win over a tag named error, and marks an empty message as failed', () => {
    expect(encoded(span({ tags: { error: 'user said' }, error: 'real failure' })).tags).toEqual({ error: 'real failure' });
    expect(encoded(span({ tags: { error: 'user said' } })).tags).toEqual({ error: 'user said' });
    expect(encoded(span({ error: '' })).tags).toEqual({ error: 'true' });
  });

  it('normalises ids: lower-case, padded, and stable hashes for the unusable', () => {
    expect(zipkinTraceId('0AF7651916CD43DD8448EB211C80319C')).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(zipkinTraceId('463ac35c9f6413ad')).toBe('463ac35c9f6413ad');
    expect(zipkinTraceId('abc')).toBe('0000000000000abc');
    expect(zipkinTraceId('1234567890abcdef1')).toBe('0000000000000001234567890abcdef1');
    expect(zipkinSpanId('ABC')).toBe('0000000000000abc');
    for (const bad of ['', '0000000000000000', 'not hex at all', 'x'.repeat(40), '0'.repeat(32)]) {
      expect(zipkinTraceId(bad)).toMatch(/^[0-9a-f]{32}$/);
      expect(zipkinSpanId(bad)).toMatch(/^[0-9a-f]{16}$/);
      expect(zipkinSpanId(bad)).not.toBe('0000000000000000');
    }
    // The same broken id maps to the same id, so a child still points at its parent.
    const parent = encoded(span({ id: 'span-one' }));
    const child = encoded(span({ id: 'span-two', parentId: 'span-one' }));
    expect(child.parentId).toBe(parent.id);
    // A span that names itself as parent would be a cycle: the parent is dropped.
    expect(encoded(span({ parentId: 'b7ad6b7169203331' })).parentId).toBeUndefined();
  });

  it('writes addresses as ipv4 or ipv6 by their form, drops hostnames and port 0', () => {
    expect(zipkinAddress('2001:DB8::C001')).toEqual({ ipv6: '2001:db8::c001' });
    expect(zipkinAddress('fe80::1%eth0')).toEqual({ ipv6: 'fe80::1' });
    expect(zipkinAddress('[::1]')).toEqual({ ipv6: '::1' });
    expect(zipkinAddress('::ffff:10.1.2.3')).toEqual({ ipv4: '10.1.2.3' });
    expect(zipkinAddress('::ffff:a01:203')).toEqual({ ipv4: '10.1.2.3' });
    expect(zipkinAddress('db.internal')).toEqual({});
    expect(zipkinAddress('010.1.2.3')).toEqual({});
    const s = encoded(span({ host: { address: 'db.internal', port: 0 }, remote: { address: '::1', port: 70000 } }));
    expect(s.localEndpoint).toEqual({ serviceName: 'shop' });
    expect(s.remoteEndpoint).toEqual({ ipv6: '::1' });
    expect(encoded(span({ service: '', remote: { port: 0 } })).remoteEndpoint).toBeUndefined();
  });

  it('keeps durations and times positive integers, and one of each annotation', () => {
    expect(encoded(span({ duration: 0 })).duration).toBe(1);
    expect(encoded(span({ duration: -5 })).duration).toBe(1);
    expect(encoded(span({ duration: NaN })).duration).toBe(1);
    expect(encoded(span({ duration: 2.6 })).duration).toBe(3);
    const s = encoded(
      span({
        timestamp: T0 + 0.75,
        notes: [
          { timestamp: T0 + 5, value: 'retry' },
          { timestamp: T0 + 5, value: 'retry' },
          { timestamp: NaN, value: 'no time' },
          { timestamp: T0 + 6, value: 'slow', duration: 0 },
        ],
      }),
    );
    expect(s.timestamp).toBe(T0);
    expect(s.annotations).toEqual([
      { timestamp: T0 + 5, value: 'retry' },
      { timestamp: T0, value: 'no time' },
      { timestamp: T0 + 6, value: 'slow (0.000 ms)' },
    ]);
  });

  it('validates spans recorded by a real Tracer', async () => {
    const memory = new MemoryExporter();
    const clock = new ManualClock(T0);
    const tracer = new Tracer({
      serviceName: 'Checkout', exporters: [memory], scheduledDelayMs: 0, clock, idGenerator: sequentialIdGenerator(),
      host: { address: '10.1.1.1', port: 3000 },
    });
    await tracer.trace('Checkout', async (root) => {
      root.tag('items', 3);
      clock.advance(100);
      await tracer.trace('Charge card', async (child) => {
        child.annotate('card accepted');
        clock.advance(50);
      }, { kind: 'CLIENT', remote: { service: 'Payments', address: '10.2.2.2', port: 443 } });
      await tracer.trace('fails', () => Promise.reject(new Error('declined'))).catch(() => undefined);
    });
    await tracer.flush();
    expect(memory.spans).toHaveLength(3);
    const out = memory.spans.map(encoded);
    assertValidZipkinSpans(out);
    const charge = out.find((s) => s.name === 'charge card');
    expect(charge).toMatchObject({
      kind: 'CLIENT', duration: 50, parentId: out.find((s) => s.name === 'checkout')?.id,
      localEndpoint: { serviceName: 'checkout', ipv4: '10.1.1.1', port: 3000 },
      remoteEndpoint: { serviceName: 'payments', ipv4: '10.2.2.2', port: 443 },
    });
    expect(out.find((s) => s.name === 'fails')?.tags).toEqual({ error: 'declined' });
    await tracer.shutdown();
  });
});

describe('the schema helper', () => {
  it('catches what a collector would reject', () => {
    const valid = toZipkinSpan(span());
    expect(zipkinSpanErrors(valid)).toEqual([]);
    expect(zipkinSpanErrors({ ...valid, duration: 0 })).not.toEqual([]);
    expect(zipkinSpanErrors({ ...valid, tags: { n: 1 } })).not.toEqual([]);
    expect(zipkinSpanErrors({ ...valid, localEndpoint: { ipv4: '::1' } })).not.toEqual([]);
    expect(zipkinSpanErrors({ ...valid, annotations: [{ timestamp: 1, value: 'a' }, { timestamp: 1, value: 'a' }] })).not.toEqual([]);
    // The file's patterns are unanchored; anchored (the default) rejects a padded id as Zipkin does.
    expect(zipkinSpanErrors({ ...valid, id: 'B7AD6B7169203331' })).not.toEqual([]);
    expect(zipkinSpanErrors({ ...valid, traceId: `${valid.traceId.slice(0, 16)}ZZZZ` }, { anchored: false })).toEqual([]);
    expect(zipkinSpanErrors({ ...valid, traceId: `${valid.traceId.slice(0, 16)}ZZZZ` })).not.toEqual([]);
  });
});

// ---- Randomised spans: everything the exporter could be handed, odd values included. ----

const hexString = (min: number, max: number) =>
  fc.array(fc.constantFrom(...'0123456789abcdefABCDEF'), { minLength: min, maxLength: max }).map((a) => a.join(''));
const anyText = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('', 'GET /Users/:id', 'ÄÖÜ', '\u0000\n"\\'));
const idArb = (length: number) =>
  fc.oneof(
    { weight: 6, arbitrary: hexString(length, length).map((s) => s.toLowerCase()) },
    { weight: 1, arbitrary: hexString(1, 40) },
    { weight: 1, arbitrary: anyText },
    { weight: 1, arbitrary: fc.constant('0'.repeat(length)) },
  );
const addressArb = fc.oneof(
  fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), fc.ipV4().map((a) => `::ffff:${a}`), fc.ipV6().map((a) => `${a}%eth0`),
  fc.constantFrom('localhost', '', '300.1.1.1', '[::1]'), anyText,
);
const portArb = fc.oneof(fc.integer({ min: -10, max: 70000 }), fc.constantFrom(0, 80, 65535, 65536, 1.5, NaN), fc.constant(undefined));
const timeArb = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: T0, max: T0 + 1e9 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, NaN, Infinity, T0 + 0.5) },
);
const tagValueArb = fc.oneof(anyText, fc.integer(), fc.double(), fc.boolean());

const finishedSpanArb: fc.Arbitrary<FinishedSpan> = fc.record(
  {
    traceId: fc.oneof(idArb(32), idArb(16)),
    id: idArb(16),
    parentId: fc.option(idArb(16), { nil: undefined }),
    name: anyText,
    service: anyText,
    kind: fc.option(fc.constantFrom('SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER', 'server', 'LOCAL'), { nil: undefined }),
    host: fc.option(fc.record({ address: fc.option(addressArb, { nil: undefined }), port: portArb }), { nil: undefined }),
    remote: fc.option(
      fc.record({ service: fc.option(anyText, { nil: undefined }), address: fc.option(addressArb, { nil: undefined }), port: portArb }),
      { nil: undefined },
    ),
    timestamp: timeArb,
    duration: fc.oneof(fc.integer({ min: -5, max: 1e9 }), fc.constantFrom(0, NaN, 0.3, Infinity)),
    notes: fc.array(
      fc.record({ timestamp: timeArb, value: anyText, duration: fc.option(fc.oneof(fc.nat(), fc.constantFrom(-1, NaN, 0.5)), { nil: undefined }) }),
      { maxLength: 5 },
    ).chain((notes) => fc.constant([...notes, ...notes.slice(0, 2)])), // repeats: Zipkin wants unique annotations
    tags: fc.dictionary(anyText, tagValueArb, { maxKeys: 6 }),
    error: fc.option(anyText, { nil: undefined }),
    sampled: fc.constant(true),
  },
  { requiredKeys: ['traceId', 'id', 'name', 'service', 'timestamp', 'duration', 'notes', 'tags', 'sampled'] },
) as fc.Arbitrary<FinishedSpan>;

/** zipkin-js's own model and JSON_V2 encoder, fed the normalised fields. */
function viaZipkinJs(s: ZipkinSpan): unknown {
  const traceId = new TraceId({
    traceId: s.traceId,
    spanId: s.id,
    parentId: s.parentId === undefined ? option.None : new option.Some(s.parentId),
  });
  const zs = new model.Span(traceId);
  if (s.name !== undefined) zs.setName(s.name);
  if (s.kind !== undefined) zs.setKind(s.kind);
  if (s.timestamp !== undefined) zs.setTimestamp(s.timestamp);
  zs.setDuration(s.duration);
  const endpoint = (e: ZipkinSpan['localEndpoint']) => {
    if (e === undefined) return undefined;
    const out = new model.Endpoint({ serviceName: e.serviceName, ipv4: e.ipv4, port: e.port });
    // zipkin-js's model has no ipv6 field; its encoder copies the object as it is.
    if (e.ipv6 !== undefined) (out as unknown as { ipv6: string }).ipv6 = e.ipv6;
    return out;
  };
  // Assigned directly: zipkin-js's setters think an endpoint with only an ipv6 is empty.
  const fields = zs as unknown as { localEndpoint?: model.Endpoint; remoteEndpoint?: model.Endpoint };
  fields.localEndpoint = endpoint(s.localEndpoint);
  fields.remoteEndpoint = endpoint(s.remoteEndpoint);
  for (const a of s.annotations ?? []) zs.addAnnotation(a.timestamp, a.value);
  for (const [k, v] of Object.entries(s.tags ?? {})) zs.putTag(k, v);
  return JSON.parse(jsonEncoder.JSON_V2.encode(zs));
}

describe('randomised spans (fast-check)', () => {
  it('every encoded span is valid against the Zipkin v2 schema and equals toZipkinSpan', () => {
    fc.assert(
      fc.property(finishedSpanArb, (s) => {
        const text = encodeZipkinSpan(s);
        // The fast text encoder writes exactly what JSON.stringify makes of the object form.
        expect(text).toBe(JSON.stringify(toZipkinSpan(s)));
        const out = JSON.parse(text) as ZipkinSpan;
        expect(zipkinSpanErrors(out)).toEqual([]);
        expect(zipkinSpanErrors(out, { anchored: false })).toEqual([]);
        expect(out.duration).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 2000 },
    );
  });

  it('encodes whole batches exactly as JSON.stringify would, also past its string caches', () => {
    fc.assert(
      fc.property(fc.array(finishedSpanArb, { maxLength: 20 }), (batch) => {
        expect(encodeZipkinSpans(batch)).toBe(JSON.stringify(batch.map(toZipkinSpan)));
      }),
      { numRuns: 200 },
    );
    // Thousands of distinct names, tags and notes: the caches fill up and start over.
    const many = Array.from({ length: 10_000 }, (_, i) =>
      span({ name: `Op ${i}`, service: `Svc${i % 5000}`, tags: { [`k${i}`]: `v${i}`, n: i }, notes: [{ timestamp: T0, value: `note ${i}` }] }),
    );
    expect(encodeZipkinSpans(many)).toBe(JSON.stringify(many.map(toZipkinSpan)));
    expect(encodeZipkinSpans([])).toBe('[]');
  });

  it('adds resource tags exactly as a tags object with them first (the span\'s own tags win) would print', () => {
    const resourceArb = fc.dictionary(anyText.map((k) => `r.${k}`), fc.oneof(anyText, fc.integer(), fc.boolean()), { maxKeys: 3 });
    fc.assert(
      fc.property(finishedSpanArb, resourceArb, fc.boolean(), (s, attributes, shadow) => {
        // Sometimes the span has a tag of a resource key: its own value must win.
        // Index-like keys would be printed first by JSON.stringify, whatever the order of insertion.
        fc.pre(Object.keys(s.tags ?? {}).every((key) => !/^(0|[1-9]\d*)$/.test(key)));
        const first = Object.keys(attributes)[0];
        const withTags = shadow && first !== undefined ? { ...s, tags: { ...s.tags, [first]: 'own' } } : s;
        const expected = toZipkinSpan(withTags);
        const tags: Record<string, string> = {};
        const put = (key: string, value: string) => Object.defineProperty(tags, key, { value, enumerable: true, writable: true, configurable: true });
        for (const key of Object.keys(attributes)) {
          if (withTags.tags?.[key] === undefined) put(key, String(attributes[key]));
        }
        for (const [key, value] of Object.entries(expected.tags ?? {})) put(key, value);
        expected.tags = Object.keys(tags).length === 0 ? undefined : tags;
        expect(encodeZipkinSpan(withTags, zipkinResourceTags(attributes))).toBe(JSON.stringify(expected));
      }),
      { numRuns: 1000 },
    );
  });

  it('agrees with zipkin-js (model + JSON_V2) on every normalised span', () => {
    fc.assert(
      fc.property(finishedSpanArb, (s) => {
        const ours = toZipkinSpan(s);
        // zipkin-js's putTag assigns `tags[key]`, so a tag named __proto__ is lost there.
        fc.pre(ours.tags === undefined || !Object.keys(ours.tags).includes('__proto__'));
        // zipkin-js lower-cases names with toLocaleLowerCase; compare on names where both agree.
        fc.pre(ours.name === undefined || ours.name === ours.name.toLocaleLowerCase());
        fc.pre(
          [ours.localEndpoint, ours.remoteEndpoint].every(
            (e) => e?.serviceName === undefined || e.serviceName === e.serviceName.toLocaleLowerCase(),
          ),
        );
        expect(encoded(s)).toEqual(viaZipkinJs(ours));
      }),
      { numRuns: 500 },
    );
  });
});

describe('encodeZipkinSpan fast paths', () => {
  it('writes every integer time as String(n) would, across second boundaries', () => {
    const times = [1, 9, 999_999, 1_000_000, 1_000_001, 1_999_999, T0, T0 + 1, T0 + 999, T0 + 1000, T0 + 999_999, T0 + 1_000_000, Number.MAX_SAFE_INTEGER];
    for (const t of times) {
      const s = span({ timestamp: t, duration: 7, notes: [{ timestamp: t, value: 'a' }] });
      expect(encodeZipkinSpan(s)).toBe(JSON.stringify(toZipkinSpan(s)));
      expect(encoded(s).timestamp).toBe(t);
    }
  });

  it('encodes spans of the tracer (ids taken unchecked) exactly as their plain copies (ids checked)', async () => {
    const memory = new MemoryExporter();
    const tracer = new Tracer({ serviceName: 'Shop', exporters: [memory], scheduledDelayMs: 0 });
    tracer.trace('GET /a', () => {
      tracer.trace('SELECT', (s) => s.tag('db', 'pg').annotate('rows', { duration: 1200 }), { kind: 'CLIENT', remote: { address: '10.1.2.3', port: 5432 } });
    }, { kind: 'SERVER', parent: tracer.extractContext({ b3: '0af7651916cd43dd-b7ad6b7169203331' }) });
    await tracer.flush();
    expect(memory.spans).toHaveLength(2);
    for (const s of memory.spans) {
      expect(hasCheckedIds(s)).toBe(true);
      expect(encodeZipkinSpan(s)).toBe(encodeZipkinSpan({ ...s }));
      expect(encodeZipkinSpan(s)).toBe(JSON.stringify(toZipkinSpan({ ...s })));
    }
    await tracer.shutdown();
  });

  it('writes own tags only, even when Object.prototype has an enumerable property', () => {
    const s = span({ tags: { 'http.route': '/a', n: 1 } });
    const before = encodeZipkinSpan(s);
    (Object.prototype as Record<string, unknown>).polluted = 'x';
    try {
      expect(encodeZipkinSpan(s)).toBe(before);
      expect(JSON.parse(before).tags).toEqual({ 'http.route': '/a', n: '1' });
    } finally {
      delete (Object.prototype as Record<string, unknown>).polluted;
    }
  });

  it('cuts bodies at maxBatchBytes without losing, repeating or reordering a span, multi-byte text included', () => {
    fc.assert(
      fc.property(fc.array(finishedSpanArb, { maxLength: 30 }), fc.integer({ min: 2, max: 6000 }), (batch, max) => {
        const bodies = encodeZipkinBodies(batch, max);
        const whole = JSON.parse(encodeZipkinSpans(batch)) as unknown[];
        const parts = bodies.map((b) => JSON.parse(b.body.toString('utf8')) as unknown[]);
        expect(parts.flat()).toEqual(whole);
        bodies.forEach((b, i) => {
          expect(b.spans).toBe(parts[i].length);
          // Over the limit only when one span alone is bigger.
          if (b.body.length > max) expect(b.spans).toBe(1);
        });
        // Greedy: no two neighbouring bodies would have fitted together.
        for (let i = 1; i < bodies.length; i++) {
          expect(bodies[i - 1].body.length + bodies[i].body.length - 1).toBeGreaterThan(max);
        }
      }),
      { numRuns: 300 },
    );
    expect(encodeZipkinBodies([]).map((b) => b.body.toString())).toEqual(['[]']);
  });
});
