import { MetricNames, sanitizePrefix, sanitizeSegment } from '../../exporters/statsd-names';
import { MemoryExporter, Tracer } from '../../lib';
import type { FinishedSpan } from '../../lib/types';

describe('sanitizeSegment', () => {
  test.each([
    // [input, expected, why]
    ['GET /users/:id', 'GET_users_id', 'DESIGN.md\'s example: each run of unsafe characters is one _'],
    ['load_user', 'load_user', 'safe characters are kept'],
    ['a-b_C9', 'a-b_C9', 'letters, digits, - and _ are all safe'],
    ['a.b', 'a_b', 'a dot would open a Graphite level'],
    ['a..b', 'a_b', 'a run of dots is one _'],
    ['a . / b', 'a_b', 'mixed unsafe runs collapse to one _'],
    ['a__b', 'a__b', 'underscores inside are kept as they are'],
    ['/users', 'users', 'a leading unsafe run is dropped'],
    ['users/', 'users', 'a trailing unsafe run is dropped'],
    ['_private_', 'private', 'leading and trailing _ are dropped'],
    ['__a__', 'a', 'several leading and trailing _ are dropped'],
    ['-a-', '-a-', 'leading and trailing - are kept'],
    ['', '_', 'an empty segment becomes _'],
    ['/', '_', 'all unsafe becomes _'],
    ['___', '_', 'only underscores becomes _'],
    ['select * from "users" where id = ?', 'select_from_users_where_id', 'SQL as a note'],
    ['a:b|c@d#e', 'a_b_c_d_e', 'StatsD protocol characters never reach the wire'],
    ['line\nbreak\r\ttab', 'line_break_tab', 'control characters'],
    ['café', 'caf', 'non-ASCII letters are unsafe (Graphite paths are ASCII)'],
    ['日本', '_', 'a wholly non-ASCII name becomes _'],
    ['GET 😀 /x', 'GET_x', 'astral characters (surrogate pairs) are one run'],
    ['my.host.example.com', 'my_host_example_com', 'a dotted hostname stays one segment'],
  ])('%j -> %j (%s)', (input, expected) => {
    expect(sanitizeSegment(input)).toBe(expected);
  });

  test('non-string input is stringified rather than thrown on', () => {
    expect(sanitizeSegment(42 as unknown as string)).toBe('42');
  });
});

describe('sanitizePrefix', () => {
  test.each([
    ['tomograph', 'tomograph'],
    ['stats.my app', 'stats.my_app'],
    ['a..b.', 'a.b'],
    ['', ''],
    ['.', ''],
    ['x/y.z', 'x_y.z'],
  ])('%j -> %j', (input, expected) => {
    expect(sanitizePrefix(input)).toBe(expected);
  });
});

/** Finished spans from a real tracer, so `localParent` is what the core really sets. */
async function spansOf(build: (tracer: Tracer) => void, serviceName = 'shop'): Promise<FinishedSpan[]> {
  const memory = new MemoryExporter({ maxSpans: 100000 });
  const tracer = new Tracer({ serviceName, exporters: [memory], scheduledDelayMs: 0, maxQueueSize: 50000 });
  build(tracer);
  await tracer.flush();
  if (memory.spans.length === 0) throw new Error('no spans exported');
  return memory.spans;
}

function byName(spans: FinishedSpan[], name: string): FinishedSpan {
  const span = spans.find((s) => s.name === name);
  if (span === undefined) throw new Error(`no span ${name}`);
  return span;
}

describe('MetricNames (hierarchical)', () => {
  const names = () => new MetricNames({ prefix: 'tomograph', hostname: 'web-1.example', tags: false, maxNames: 100 });

  test('a span is named by its path from the local root, under <prefix>.<service>.<host>', async () => {
    const spans = await spansOf((tracer) => {
      tracer.trace('GET /users/:id', () => {
        tracer.trace('load user', () => {
          tracer.trace('select', () => undefined);
        });
      });
    });
    const n = names();
    const root = 'tomograph.shop.web-1_example.GET_users_id';
    expect(n.forSpan(byName(spans, 'GET /users/:id'))).toMatchObject({ okName: `${root}.ok`, errorName: `${root}.error` });
    expect(n.forSpan(byName(spans, 'load user')).okName).toBe(`${root}.children.load_user.ok`);
    expect(n.forSpan(byName(spans, 'select')).errorName).toBe(`${root}.children.load_user.children.select.error`);
    expect(n.forNote(n.forSpan(byName(spans, 'select')), 'cache miss')).toEqual({
      name: `${root}.children.load_user.children.select.notes.cache_miss`,
      tags: undefined,
    });
  });

  test('the same place in the tree gives the same cached object; a different parent a different name', async () => {
    const spans = await spansOf((tracer) => {
      for (const root of ['a', 'a', 'b']) tracer.trace(root, () => tracer.trace('q', () => undefined));
    });
    const n = names();
    const qs = spans.filter((s) => s.name === 'q');
    const [first, second, third] = qs.map((span) => n.forSpan(span));
    expect(second).toBe(first); // no rebuilding for the second request
    expect(third).not.toBe(first);
    expect(third.okName).toBe('tomograph.shop.web-1_example.b.children.q.ok');
    expect(n.forNote(first, 'x')).toBe(n.forNote(second, 'x'));
    expect(n.cached).toBe(5); // a, a.q, b, b.q, the note x
  });

  test('the service segment is the local root\'s, so a whole local tree stays under one branch', async () => {
    const spans = await spansOf((tracer) => {
      tracer.trace('job', () => tracer.trace('call', () => undefined, { service: 'other' }));
    });
    expect(names().forSpan(byName(spans, 'call')).okName).toBe('tomograph.shop.web-1_example.job.children.call.ok');
  });

  test('an empty prefix leaves the service first', async () => {
    const spans = await spansOf((tracer) => tracer.trace('x', () => undefined));
    const n = new MetricNames({ prefix: '', hostname: 'h', tags: false, maxNames: 10 });
    expect(n.forSpan(spans[0]).okName).toBe('shop.h.x.ok');
  });

  test('the cache is bounded: past maxNames it starts over, and names stay right', async () => {
    const n = new MetricNames({ prefix: 'p', hostname: 'h', tags: false, maxNames: 10 });
    const spans = await spansOf((tracer) => {
      for (let i = 0; i < 50; i++) tracer.trace(`root ${i}`, (span) => span.annotate(`note ${i}`));
    });
    expect(spans).toHaveLength(50);
    for (const span of spans) {
      const metrics = n.forSpan(span);
      expect(metrics.okName).toBe(`p.shop.h.${span.name.replace(' ', '_')}.ok`);
      expect(n.forNote(metrics, span.notes[0].value).name).toBe(`p.shop.h.${span.name.replace(' ', '_')}.notes.${span.notes[0].value.replace(' ', '_')}`);
      expect(n.cached).toBeLessThanOrEqual(10);
    }
  });

  test('a deep local tree is walked without recursion', async () => {
    // Deeper than the call stack allows for a recursive walk (~10k frames).
    const depth = 20000;
    const spans = await spansOf((tracer) => {
      const open = [tracer.startSpan('n', { parent: null })];
      for (let i = 1; i < depth; i++) open.push(tracer.startSpan('n', { parent: open[i - 1] }));
      for (let i = depth - 1; i >= 0; i--) open[i].end();
    });
    const n = new MetricNames({ prefix: 'p', hostname: 'h', tags: false, maxNames: 100000 });
    const name = n.forSpan(spans[0]).okName; // the innermost span ends first
    expect(name.split('.children.n')).toHaveLength(depth);
  });
});

describe('MetricNames (tags: true)', () => {
  test('fixed names, with service, span, status and note as tags', async () => {
    const spans = await spansOf((tracer) => {
      tracer.trace('GET /a', () => tracer.trace('load', () => undefined));
    }, 'my shop');
    const n = new MetricNames({ prefix: 'tomograph', hostname: 'h', tags: true, maxNames: 100 });
    const load = n.forSpan(byName(spans, 'load'));
    expect(load).toMatchObject({
      okName: 'tomograph.span',
      errorName: 'tomograph.span',
      okTags: ['service:my_shop', 'span:load', 'status:ok'],
      errorTags: ['service:my_shop', 'span:load', 'status:error'],
    });
    expect(n.forNote(load, 'cache miss')).toEqual({
      name: 'tomograph.note',
      tags: ['service:my_shop', 'span:load', 'note:cache_miss'],
    });
  });
});
