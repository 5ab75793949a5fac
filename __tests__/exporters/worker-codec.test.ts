import fc from 'fast-check';
import { ManualClock, Tracer } from '../../lib/index';
import { MemoryExporter } from '../../lib/memory-exporter';
import { sequentialIdGenerator } from '../../lib/ids';
import type { FinishedSpan } from '../../lib/types';
import { BatchPacker } from '../../exporters/worker-pack';
import { BatchUnpacker } from '../../exporters/worker-unpack';
import { packMetrics, unpackMetrics } from '../../exporters/worker-metrics';
import type { RankedUpdate } from '../../lib/metrics/export-loop';

// The batch format between the main thread and the export worker: every field of a finished
// span survives the trip, and local ancestors arrive as one object per ancestor that becomes the
// real span (final name, duration) when the ancestor itself arrives.

/** The span's fields as data (undefined ones left out), its local parent by id. */
function plain(span: FinishedSpan): Record<string, unknown> {
  const fields: Record<string, unknown> = { ...span, notes: span.notes.map((n) => ({ ...n })), tags: { ...span.tags } };
  fields.localParent = span.localParent?.id;
  for (const key of Object.keys(fields)) if (fields[key] === undefined) delete fields[key];
  return fields;
}

function makeTracer(): { tracer: Tracer; memory: MemoryExporter; clock: ManualClock } {
  const memory = new MemoryExporter();
  const clock = new ManualClock();
  const tracer = new Tracer({
    serviceName: 'shop', exporters: [memory], clock, idGenerator: sequentialIdGenerator(), host: { address: '10.0.0.1', port: 8080 },
  });
  return { tracer, memory, clock };
}

describe('worker batch codec', () => {
  it('carries every field of every span, strings of any script included', async () => {
    const { tracer, memory, clock } = makeTracer();
    tracer.trace('GET /users/:id', (root) => {
      root.tag('http.status_code', 200).tag('ok', true).tag('cached', false).tag('ratio', 0.25).tag('названиé ☃ 𝄞', 'значение 🎉');
      root.annotate('cache miss');
      clock.advance(1500);
      try {
        tracer.trace('select', (span) => {
          span.annotate('slow', { duration: 42 });
          clock.advance(300);
          throw new Error('boom \ud800 lone surrogate');
        }, { kind: 'CLIENT', remote: { service: 'postgres', address: '127.0.0.1', port: 5432 } });
      } catch {
        // The root goes on.
      }
    }, { kind: 'SERVER' });
    await tracer.flush();
    const spans = memory.spans;
    expect(spans).toHaveLength(2);

    const batch = new BatchPacker().pack(spans);
    const decoded = new BatchUnpacker().unpack(batch);
    // Even a lone surrogate arrives as it was: the text crosses as a string, never as UTF-8.
    expect(decoded.map(plain)).toEqual(spans.map(plain));
    expect(decoded[0].localParent?.name).toBe('GET /users/:id');
  });

  it('packs a batch of any size into one buffer and one string', () => {
    const { tracer, memory } = makeTracer();
    for (let i = 0; i < 3000; i++) tracer.trace(`op ${i % 7}`, (span) => void span.tag(`key${i % 5}`, 'x'.repeat(i % 50)));
    return tracer.flush().then(() => {
      const batch = new BatchPacker().pack(memory.spans);
      expect(batch.count).toBe(memory.spans.length);
      // One transferable ArrayBuffer (Jest's realm has its own ArrayBuffer, so by tag) and one string.
      expect(Object.prototype.toString.call(batch.numbers)).toBe('[object ArrayBuffer]');
      expect(typeof batch.text).toBe('string');
      const decoded = new BatchUnpacker().unpack(batch);
      expect(decoded.map(plain)).toEqual(memory.spans.map(plain));
    });
  });

  it('sends a name, service, host, tag key or value that repeats the previous span\'s once', async () => {
    const { tracer, memory } = makeTracer();
    for (let i = 0; i < 100; i++) {
      tracer.trace('GET /users/:id', (span) => void span.tag('http.method', 'GET').tag('http.route', '/users/:id').tag('n', i), { kind: 'SERVER' });
    }
    await tracer.flush();
    const batch = new BatchPacker().pack(memory.spans);
    const ids = 32 + 16;
    const once = 'GET /users/:id'.length + 'shop'.length + '10.0.0.1'.length + 'http.method'.length + 'GET'.length +
      'http.route'.length + '/users/:id'.length + 'n'.length;
    expect(batch.text.length).toBe(100 * ids + once);
    expect(new BatchUnpacker().unpack(batch).map(plain)).toEqual(memory.spans.map(plain));
  });

  it('an ancestor still running becomes one object, completed when it arrives', async () => {
    const { tracer, memory, clock } = makeTracer();
    const packer = new BatchPacker();
    const unpacker = new BatchUnpacker();
    const root = tracer.startSpan('GET');
    let firstChild: FinishedSpan[] = [];
    let secondChild: FinishedSpan[] = [];
    await tracer.trace('handler', async () => {
      tracer.startSpan('select').end();
      await tracer.flush();
      firstChild = unpacker.unpack(packer.pack(memory.spans.splice(0)));
      tracer.startSpan('insert').end();
    }, { parent: root });
    clock.advance(10);
    root.updateName('GET /orders/:id');
    await tracer.flush();
    // 'insert' and 'handler' ended; the root still runs.
    secondChild = unpacker.unpack(packer.pack(memory.spans.splice(0)));
    const running = firstChild[0].localParent?.localParent;
    expect(running?.duration).toBe(0);
    // The same object for every span under it, renamed as the root was.
    expect(secondChild.find((s) => s.name === 'insert')?.localParent?.localParent).toBe(running);
    expect(running?.name).toBe('GET /orders/:id');
    expect(unpacker.openAncestors).toBeGreaterThan(0);

    clock.advance(5);
    root.end();
    await tracer.flush();
    const [finishedRoot] = unpacker.unpack(packer.pack(memory.spans.splice(0)));
    expect(finishedRoot).toBe(running);
    expect(running?.duration).toBeGreaterThan(0);
    expect(running?.traceId).toBe(root.traceId);
    expect(unpacker.openAncestors).toBe(0);
  });

  it('keeps at most maxOpenAncestors stand-ins', async () => {
    const { tracer, memory } = makeTracer();
    const unpacker = new BatchUnpacker(3);
    const roots = Array.from({ length: 10 }, (_, i) => tracer.startSpan(`root ${i}`));
    for (const root of roots) tracer.startSpan('child', { parent: root }).end();
    await tracer.flush();
    unpacker.unpack(new BatchPacker().pack(memory.spans));
    expect(unpacker.openAncestors).toBe(3);
  });
});

describe('worker metrics codec', () => {
  const text = fc.string({ unit: 'grapheme', maxLength: 12 });
  const labels = fc.array(fc.tuple(text, text), { maxLength: 3 });
  const number = fc.double({ noNaN: true });
  const rank = fc.integer({ min: 0, max: 4 });
  const delta = fc.record({ name: text, labels, delta: number, rank });
  const gauge = fc.record({ name: text, labels, value: number, rank });
  const histogram = fc.record({
    name: text, labels, unit: fc.option(text, { nil: undefined }), values: fc.array(number, { maxLength: 20 }), count: fc.nat(), rank,
  });
  const ranked = fc.record({
    timestampMs: fc.nat(),
    counters: fc.array(delta, { maxLength: 5 }),
    gauges: fc.array(gauge, { maxLength: 5 }),
    meters: fc.array(delta, { maxLength: 5 }),
    histograms: fc.array(histogram, { maxLength: 5 }),
  }).map((drawn): RankedUpdate => {
    const entries = <T extends { rank: number }>(items: T[]) => items.map(({ rank: _, ...entry }) => entry);
    const withoutUnit = drawn.histograms.map(({ rank: _, unit, ...entry }) => (unit === undefined ? entry : { ...entry, unit }));
    return {
      update: {
        timestampMs: drawn.timestampMs,
        counters: entries(drawn.counters), gauges: entries(drawn.gauges), meters: entries(drawn.meters), histograms: withoutUnit,
      },
      ranks: {
        counters: drawn.counters.map((e) => e.rank), gauges: drawn.gauges.map((e) => e.rank),
        meters: drawn.meters.map((e) => e.rank), histograms: drawn.histograms.map((e) => e.rank),
      },
    };
  });

  it('carries every entry, label, value and level rank of an update, strings of any script included', () => {
    fc.assert(fc.property(ranked, (update) => {
      expect(unpackMetrics(packMetrics(update))).toEqual(update);
    }));
  });

  it('refuses a buffer that does not match its text instead of making up entries', () => {
    const packed = packMetrics({
      update: { timestampMs: 1, counters: [{ name: 'jobs', labels: [['queue', 'mail']], delta: 2 }], gauges: [], meters: [], histograms: [] },
      ranks: { counters: [1], gauges: [], meters: [], histograms: [] },
    });
    expect(() => unpackMetrics({ numbers: packed.numbers.slice(0, packed.numbers.byteLength - 8), text: packed.text })).toThrow(RangeError);
    expect(() => unpackMetrics({ numbers: packed.numbers, text: packed.text.slice(1) })).toThrow(RangeError);
    expect(() => unpackMetrics({ numbers: packed.numbers, text: `${packed.text}x` })).toThrow(RangeError);
  });
});
