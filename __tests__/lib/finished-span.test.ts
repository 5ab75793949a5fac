/**
 * What exporters and users see of a span: exactly the FinishedSpan fields, tag values as the
 * contract allows them, and the tracer's `resource` going out with every span.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { inspect } from 'node:util';
import { ManualClock, renderTraceTree, sequentialIdGenerator, Tracer, type FinishedSpan } from '../../lib';
import { MAX_TAG_JSON_LENGTH, tagValueText } from '../../lib/span';
import { encodeZipkinSpan, zipkinResourceTags } from '../../exporters/zipkin-json';
import { StatsdExporter } from '../../exporters/statsd';
import { testTracer } from '../helpers/core-fixtures';

/** The fields of FinishedSpan in DESIGN.md, "The model". */
const FINISHED_SPAN_KEYS = [
  'traceId', 'id', 'parentId', 'name', 'service', 'kind', 'host', 'remote', 'timestamp', 'duration', 'notes', 'tags',
  'error', 'sampled',
];

describe('an exported span is exactly a FinishedSpan', () => {
  it('own keys, JSON, spread and inspect show the contract fields and nothing of the tracer', async () => {
    const { tracer, spans } = testTracer();
    const started = tracer.start('stack');
    tracer.trace('child', (span) => {
      span.tag('k', 1);
      span.annotate('note');
    });
    tracer.stop('stack');
    const exported = await spans();
    expect(exported.map((span) => span.name)).toEqual(['child', 'stack']);
    for (const span of exported) {
      expect(Object.keys(span)).toEqual(FINISHED_SPAN_KEYS);
      expect(Object.keys({ ...span })).toEqual(FINISHED_SPAN_KEYS);
      expect(Object.getOwnPropertySymbols(span)).toEqual([]);
      const json = JSON.parse(JSON.stringify(span)) as Record<string, unknown>;
      for (const key of Object.keys(json)) expect(FINISHED_SPAN_KEYS).toContain(key);
      const shown = inspect(span, { depth: 0 });
      for (const internal of ['checkedIds', 'enteredByStart', 'previousCurrent', 'tagCount', 'sink', 'localParent', 'startFrame']) {
        expect(shown).not.toContain(internal);
      }
    }
    // The in-process link that StatsD names walk is still there, as a getter.
    expect(exported[0].localParent).toBe(started);
    expect(exported[1].localParent).toBeUndefined();
  });

  it('start()/stop() still restores what was current, and stop() after a manual end() too', () => {
    const { tracer } = testTracer();
    tracer.trace('outer', (outer) => {
      const span = tracer.start('inner');
      expect(tracer.currentSpan()).toBe(span);
      span.end();
      tracer.stop('inner');
      expect(tracer.currentSpan()).toBe(outer);
    });
  });
});

describe('tag values the contract does not allow', () => {
  it('are stored as JSON text and reported, never as [object Object]', async () => {
    const { tracer, spans, events } = testTracer();
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    tracer.trace('tags', (span) => {
      span.tag('object', { plan: 'pro', seats: 3 } as never);
      span.tag('array', [1, 'two'] as never);
      span.tag('null', null as never);
      span.tag('bigint', 12345678901234567890n as never);
      span.tag('circular', circular as never);
      span.tag('kept', 'before');
      span.tag('kept', undefined as never); // undefined leaves the tag as it was
      span.tag('string', 's').tag('number', 1.5).tag('boolean', false);
    });
    const [span] = await spans();
    expect(span.tags).toEqual({
      object: '{"plan":"pro","seats":3}',
      array: '[1,"two"]',
      null: 'null',
      bigint: '"12345678901234567890"',
      circular: "<ref *1> { a: 1, self: [Circular *1] }",
      kept: 'before',
      string: 's',
      number: 1.5,
      boolean: false,
    });
    expect(events.map((event) => event.code)).toEqual(Array(5).fill('TOMOGRAPH_INVALID_TAG_VALUE'));
    expect(events[0].message).toBe(
      'tomograph: tag "object" got an object, not a string, number or boolean; stored as JSON text',
    );
    expect(events[1].message).toContain('got an array');
    expect(events[2].message).toContain('got null');
  });

  it('through options.tags and the module-level tag() too; long JSON is cut', async () => {
    const { tracer, spans } = testTracer();
    tracer.trace('x', () => tracer.tag('big', { text: 'y'.repeat(10000) } as never), { tags: { opt: ['a'] as never } });
    const [span] = await spans();
    expect(span.tags.opt).toBe('["a"]');
    expect(String(span.tags.big)).toHaveLength(MAX_TAG_JSON_LENGTH);
    expect(String(span.tags.big).endsWith('…')).toBe(true);
    expect(tagValueText(() => 1)).toBe('[Function (anonymous)]');
  });
});

describe('the console tree', () => {
  it('never prints a negative offset: a note that began before its span moves the origin', () => {
    const span = (id: string, parentId: string | undefined, name: string, timestamp: number, notes: FinishedSpan['notes'] = []): FinishedSpan => ({
      traceId: 'a'.repeat(32), id, parentId, name, service: 'svc', timestamp, duration: 1000, notes, tags: {}, sampled: true,
    });
    const text = renderTraceTree([
      span('0000000000000001', undefined, 'select', 1_000_000, [{ timestamp: 952_680, value: 'pool.acquire', duration: 47_320 }]),
      span('0000000000000002', '0000000000000001', 'parse', 1_000_500),
    ]);
    expect(text).not.toMatch(/\+-/);
    expect(text).toBe(
      [
        `trace ${'a'.repeat(32)}`,
        'select [svc]  1.00 ms at +47.32 ms',
        '│  · pool.acquire at +0.00 ms (47.32 ms)',
        '└─ parse [svc]  1.00 ms at +47.82 ms',
      ].join('\n'),
    );
  });
});

describe('resource', () => {
  it('is validated at configure time, naming what it got', () => {
    expect(() => new Tracer({ resource: 'v1' as never })).toThrow(/resource must be an object of attributes, not the string "v1"/);
    expect(() => new Tracer({ resource: { 'service.version': { major: 1 } } as never })).toThrow(
      /resource\["service.version"\] must be a string, number or boolean under a non-empty key, not an object/,
    );
  });

  it('reaches exporters through attach(), and Zipkin sends it as tags on every span (the span\'s own win)', async () => {
    const seen: unknown[] = [];
    const exporter = { export: () => undefined, attach: (host: { resource?: unknown }) => seen.push(host.resource) };
    const tracer = new Tracer({
      serviceName: 'shop',
      exporters: [exporter],
      resource: { 'service.version': '1.4.2', 'deployment.environment': 'prod', 'build.number': 7 },
      clock: new ManualClock(1_000_000),
      idGenerator: sequentialIdGenerator(),
    });
    expect(seen).toEqual([{ 'service.version': '1.4.2', 'deployment.environment': 'prod', 'build.number': 7 }]);
    const span = tracer.startSpan('work', { tags: { 'deployment.environment': 'canary', own: true } });
    span.end();
    const json = JSON.parse(encodeZipkinSpan(span as unknown as FinishedSpan, zipkinResourceTags(seen[0] as never))) as {
      tags: Record<string, string>;
    };
    expect(json.tags).toEqual({ 'service.version': '1.4.2', 'build.number': '7', 'deployment.environment': 'canary', own: 'true' });
    await tracer.shutdown();
  });

  it('StatsD with tags: true sends it as global tags on every metric', async () => {
    const socket = dgram.createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    const packets: string[] = [];
    socket.on('message', (message) => packets.push(message.toString()));
    const statsd = new StatsdExporter({ port: socket.address().port, tags: true, globalTags: { team: 'payments' } });
    const tracer = new Tracer({ serviceName: 'shop', exporters: [statsd], resource: { 'service.version': '1.4.2' }, scheduledDelayMs: 0 });
    tracer.trace('work', () => undefined);
    await tracer.flush();
    while (packets.length === 0) await once(socket, 'message');
    await tracer.shutdown();
    socket.close();
    expect(packets.join('\n')).toMatch(/^tomograph\.span:[\d.]+\|ms\|#service\.version:1\.4\.2,team:payments,service:shop,span:work,status:ok$/);
  });
});
