import fc from 'fast-check';
import { ManualClock } from '../../lib/clock';
import { sequentialIdGenerator } from '../../lib/ids';
import { Tracer } from '../../lib/tracer';
import type { FinishedSpan } from '../../lib/types';
import { MAX_NOTES, MAX_STRING, MAX_TAGS, safeJson, spanToJson } from '../../middleware/trace-page-json';
import { PAGE_TAG, RecentTracesExporter } from '../../middleware/trace-page-store';

const T0 = 1_700_000_000_000_000;
let serial = 0;

/** A finished span as the tracer hands it over; the fields a test does not care about get defaults. */
function span(traceNo: number, fields: Partial<FinishedSpan> = {}): FinishedSpan {
  serial++;
  return {
    traceId: traceNo.toString(16).padStart(32, '0'),
    id: serial.toString(16).padStart(16, '0'),
    name: `span ${serial}`,
    service: 'shop',
    timestamp: T0 + serial,
    duration: 10,
    notes: [],
    tags: {},
    sampled: true,
    ...fields,
  };
}

test('groups spans by trace and keeps the last maxTraces traces, oldest update evicted first', () => {
  const store = new RecentTracesExporter({ maxTraces: 3 });
  store.export([span(1), span(2), span(1)]);
  store.export([span(3)]);
  store.export([span(1)]); // trace 1 updated: now the youngest
  store.export([span(4)]); // evicts trace 2, the least recently updated
  // Listed by start (trace 1 started first), evicted by last update.
  expect(store.recent().map((t) => t.traceId.slice(-1))).toEqual(['4', '3', '1']);
  expect(store.spans((2).toString(16).padStart(32, '0'))).toBeUndefined();
  expect(store.summary((1).toString(16).padStart(32, '0'))!.spanCount).toBe(3);
  expect(store.stats()).toMatchObject({ traces: 3, spans: 5, tracesEvicted: 1, batches: 4, spansReceived: 6 });
});

test('a trace holds at most maxSpansPerTrace spans; the rest are counted', () => {
  const store = new RecentTracesExporter({ maxSpansPerTrace: 4 });
  store.export(Array.from({ length: 10 }, () => span(1)));
  const summary = store.recent()[0];
  expect(summary).toMatchObject({ spanCount: 4, droppedSpans: 6 });
  expect(store.stats()).toMatchObject({ spans: 4, spansDropped: 6 });
});

test('maxSpans bounds all traces together by evicting whole old traces', () => {
  const store = new RecentTracesExporter({ maxSpans: 10, maxSpansPerTrace: 5 });
  for (let trace = 1; trace <= 5; trace++) store.export(Array.from({ length: 4 }, () => span(trace)));
  expect(store.stats()).toMatchObject({ traces: 2, spans: 8, tracesEvicted: 3 });
  expect(store.recent().map((t) => t.traceId.slice(-1))).toEqual(['5', '4']);
});

test('summaries: the root is the true root, else the earliest span whose parent is elsewhere', () => {
  const store = new RecentTracesExporter();
  const root = span(1, { name: 'GET /a', kind: 'SERVER', timestamp: T0, duration: 100 });
  const child = span(1, { name: 'q', parentId: root.id, timestamp: T0 + 10, duration: 200, error: 'timeout', service: 'db' });
  store.export([child, root]); // children usually arrive first
  expect(store.recent()[0]).toMatchObject({
    name: 'GET /a', kind: 'SERVER', timestamp: T0, duration: 210, spanCount: 2, errorCount: 1, error: 'timeout', services: ['db', 'shop'],
  });

  // A trace continued from another process: no span without a parent here.
  const a = span(2, { name: 'consume', parentId: 'ffffffffffffffff', timestamp: T0 + 50 });
  const b = span(2, { name: 'handle', parentId: a.id, timestamp: T0 + 60, error: 'boom' });
  const c = span(2, { name: 'late orphan', parentId: 'eeeeeeeeeeeeeeee', timestamp: T0 + 70 });
  store.export([b, c, a]);
  expect(store.summary(a.traceId)).toMatchObject({ name: 'consume', error: 'boom' });
  expect(Object.isFrozen(store.summary(a.traceId))).toBe(true);
  expect(store.spans(a.traceId)!.map((s) => s.name)).toEqual(['consume', 'handle', 'late orphan']);
});

test('ranks: recent by start, slowest by duration, failed only failures', () => {
  const store = new RecentTracesExporter();
  store.export([
    span(1, { timestamp: T0 + 100, duration: 50 }),
    span(2, { timestamp: T0 + 300, duration: 5 }),
    span(3, { timestamp: T0 + 200, duration: 500, error: 'x' }),
    span(4, { timestamp: T0 + 400, duration: 70, error: 'y' }),
  ]);
  const last = (list: { traceId: string }[]) => list.map((t) => Number.parseInt(t.traceId, 16));
  expect(last(store.recent())).toEqual([4, 2, 3, 1]);
  expect(last(store.slowest())).toEqual([3, 4, 1, 2]);
  expect(last(store.slowest(2))).toEqual([3, 4]);
  expect(last(store.failed())).toEqual([4, 3]);
});

test("the page's own traces are left out, also when some of their spans came first", () => {
  const store = new RecentTracesExporter();
  const root = span(1, { tags: { [PAGE_TAG]: true } });
  store.export([span(1, { parentId: root.id })]);
  store.export([root, span(2)]);
  expect(store.recent().map((t) => t.traceId.slice(-1))).toEqual(['2']);
  expect(store.stats()).toMatchObject({ traces: 1, spans: 1, pageTracesIgnored: 1, tracesEvicted: 0 });
});

test('fed by a real tracer through configure({ exporters })', async () => {
  const store = new RecentTracesExporter();
  const clock = new ManualClock(T0);
  const tracer = new Tracer({ exporters: [store], scheduledDelayMs: 0, clock, idGenerator: sequentialIdGenerator() });
  await tracer.trace('job', async () => {
    clock.advance(100);
    await tracer.trace('step', () => clock.advance(250));
  });
  await tracer.flush();
  expect(store.recent()).toEqual([expect.objectContaining({ name: 'job', duration: 350, spanCount: 2 })]);
  await tracer.shutdown();
  expect(store.stats().traces).toBe(1); // still shown after shutdown
  store.clear();
  expect(store.stats()).toMatchObject({ traces: 0, spans: 0 });
});

test('bounds hold for any sequence of batches', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.array(fc.integer({ min: 1, max: 20 }), { maxLength: 15 }), { maxLength: 30 }),
      (maxTraces, maxSpansPerTrace, batches) => {
        const maxSpans = maxSpansPerTrace * 2;
        const store = new RecentTracesExporter({ maxTraces, maxSpansPerTrace, maxSpans });
        let sent = 0;
        for (const batch of batches) {
          store.export(batch.map((trace) => span(trace)));
          sent += batch.length;
        }
        const stats = store.stats();
        const summaries = store.recent();
        expect(stats.traces).toBeLessThanOrEqual(maxTraces);
        expect(stats.spans).toBeLessThanOrEqual(maxSpans);
        expect(summaries.reduce((n, t) => n + t.spanCount, 0)).toBe(stats.spans);
        for (const t of summaries) expect(t.spanCount).toBeLessThanOrEqual(maxSpansPerTrace);
        expect(stats.spansReceived).toBe(sent);
      },
    ),
  );
});

test('rejects wrong limits with a TypeError', () => {
  for (const options of [{ maxTraces: 0 }, { maxSpans: 1.5 }, { maxSpansPerTrace: '9' }, { maxSpansPerTrace: 11, maxSpans: 10 }]) {
    expect(() => new RecentTracesExporter(options as never)).toThrow(expect.objectContaining({ code: 'TOMOGRAPH_ERR_INVALID_OPTION' }));
  }
});

test('spanToJson bounds notes, tags and long strings, and drops localParent', () => {
  const parent = span(1);
  const big = span(1, {
    parentId: parent.id,
    localParent: parent,
    name: 'n'.repeat(MAX_STRING + 10),
    notes: Array.from({ length: MAX_NOTES + 5 }, (_, i) => ({ timestamp: T0 + i, value: `note ${i}` })),
    tags: Object.fromEntries(Array.from({ length: MAX_TAGS + 5 }, (_, i) => [`k${i}`, i])),
    remote: { service: 'db', port: 5432 },
  });
  const json = spanToJson(big);
  expect(json.name).toHaveLength(MAX_STRING + 1);
  expect(json.notes).toHaveLength(MAX_NOTES);
  expect(Object.keys(json.tags)).toHaveLength(MAX_TAGS);
  expect(json.truncated).toBe(true);
  expect(json.remote).toEqual({ service: 'db', port: 5432 });
  expect('localParent' in json).toBe(false);
  expect(spanToJson(parent).truncated).toBeUndefined();
});

test('safeJson leaves no character that could open markup', () => {
  const value = { name: '</script><b>&amp;\u2028\u2029' };
  const text = safeJson(value);
  expect(text).not.toMatch(/[<>&\u2028\u2029]/);
  expect(JSON.parse(text)).toEqual(value);
});

describe('bounded in bytes', () => {
  const long = (n: number, c = 'p') => Buffer.alloc(n, c).toString('latin1');

  test('stores a plain copy with values cut to what the page shows; the page still says they were cut', () => {
    const store = new RecentTracesExporter();
    const notes = Array.from({ length: 1000 }, (_, i) => ({ timestamp: T0 + i, value: long(10_000, 'n') }));
    const tags: Record<string, string | number> = { 'http.path': long(16_000), 'http.status_code': 200 };
    for (let i = 0; i < 300; i++) tags[`k${i}`] = i;
    const original = Object.assign(span(1, { notes, tags, error: long(50_000, 'e'), name: long(9000, 'g') }), {
      localParent: { huge: long(1_000_000) },
    });
    store.export([original]);
    const [kept] = store.spans(original.traceId)!;
    expect(kept).not.toBe(original);
    expect('localParent' in kept).toBe(false);
    expect(kept.tags['http.path']).toHaveLength(MAX_STRING + 1);
    expect(kept.tags['http.status_code']).toBe(200);
    expect(Object.keys(kept.tags)).toHaveLength(MAX_TAGS + 1);
    expect(kept.notes).toHaveLength(MAX_NOTES + 1);
    expect(kept.notes[0].value).toHaveLength(MAX_STRING + 1);
    expect(kept.error).toHaveLength(MAX_STRING + 1);
    expect(kept.name).toHaveLength(MAX_STRING + 1);
    expect(spanToJson(kept).truncated).toBe(true);
    // The estimate: a few hundred KB for this span, not the ~10 MB it was given.
    const { bytes } = store.stats();
    expect(bytes).toBeGreaterThan(2 * MAX_STRING * (MAX_NOTES + 3));
    expect(bytes).toBeLessThan(2 * 1024 * 1024);
  });

  test('evicts whole old traces to stay within maxBytes, and drops a span that would take one trace over it alone', () => {
    const store = new RecentTracesExporter({ maxBytes: 100_000 });
    for (let trace = 1; trace <= 30; trace++) store.export([span(trace, { tags: { path: long(3000) } })]);
    const stats = store.stats();
    expect(stats.bytes).toBeLessThanOrEqual(100_000);
    expect(stats.traces).toBeLessThan(30);
    expect(stats.tracesEvicted).toBe(30 - stats.traces);
    // The newest traces are the ones kept.
    expect(store.summary((30).toString(16).padStart(32, '0'))).toBeDefined();

    const small = new RecentTracesExporter({ maxBytes: 20_000 });
    for (let i = 0; i < 10; i++) small.export([span(99, { tags: { path: long(3000) } })]);
    expect(small.stats().bytes).toBeLessThanOrEqual(20_000);
    expect(small.summary((99).toString(16).padStart(32, '0'))!.droppedSpans).toBeGreaterThan(0);
    expect(small.stats().spans + small.stats().spansDropped).toBe(10);
  });

  test('clear() forgets the bytes too', () => {
    const store = new RecentTracesExporter();
    store.export([span(1)]);
    expect(store.stats().bytes).toBeGreaterThan(0);
    store.clear();
    expect(store.stats().bytes).toBe(0);
  });

  test('rejects a maxBytes that is not a positive integer', () => {
    expect(() => new RecentTracesExporter({ maxBytes: 0 })).toThrow(/maxBytes/);
  });
});
