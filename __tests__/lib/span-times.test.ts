/**
 * Times that callers hand in (`end(t)`, `timestamp`, a note's `timestamp` and `duration`) are
 * checked at the API edge: a time that is not a number of epoch microseconds (NaN, ±Infinity, a
 * string, -1e30, 1e30) is replaced by now and reported once, so every exported span stays within
 * the model (integer µs, duration >= 1) and nothing like `NaN|ms` or `1e+27|ms` reaches StatsD.
 */
import { StatsdExporter } from '../../exporters/statsd';
import { codes } from '../../lib/codes';
import { ManualClock } from '../../lib/clock';
import type { FinishedSpan } from '../../lib/types';
import { testTracer } from '../helpers/core-fixtures';
import { StatsdDaemon } from '../helpers/statsd-daemon';

const BAD: Array<[string, unknown]> = [
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
  ["'abc'", 'abc'],
  ['-1e30', -1e30],
  ['1e30', 1e30],
  ['null', null],
  ['an object', { valueOf: () => 5 }],
];

/** Whether a span is within the model: integer µs, sane epoch, duration >= 1, notes likewise. */
function withinModel(span: FinishedSpan): boolean {
  const time = (t: number) => Number.isSafeInteger(t) && t >= 0;
  return (
    time(span.timestamp) &&
    Number.isSafeInteger(span.duration) &&
    span.duration >= 1 &&
    span.notes.every((note) => time(note.timestamp) && (note.duration === undefined || (Number.isSafeInteger(note.duration) && note.duration >= 0)))
  );
}

describe('times handed in at the API edge', () => {
  it.each(BAD)('end(%s): the span ends now instead', async (_label, bad) => {
    const clock = new ManualClock();
    const t = testTracer({ clock });
    const span = t.tracer.startSpan('work');
    clock.advance(2500);
    span.end(bad as number);
    const [done] = await t.spans();
    expect(withinModel(done)).toBe(true);
    expect(done.duration).toBe(2500);
    expect(t.codes()).toEqual([codes.INVALID_TIME]);
    expect(t.events[0].message).toContain('end time');
  });

  it.each(BAD)('startSpan(name, { timestamp: %s }): the span starts now instead', async (_label, bad) => {
    const clock = new ManualClock();
    const t = testTracer({ clock });
    const start = clock.nowUs();
    const span = t.tracer.startSpan('work', { timestamp: bad as number });
    clock.advance(700);
    span.end();
    const [done] = await t.spans();
    expect(withinModel(done)).toBe(true);
    expect(done.timestamp).toBe(start);
    expect(done.duration).toBe(700);
    expect(t.codes()).toEqual([codes.INVALID_TIME]);
  });

  it.each(BAD)("annotate(value, { timestamp: %s, duration: same }): now, and no duration", async (_label, bad) => {
    const clock = new ManualClock();
    const t = testTracer({ clock });
    t.tracer.trace('work', (span) => {
      span.annotate('cache miss', { timestamp: bad as number, duration: bad as number });
    });
    const [done] = await t.spans();
    expect(withinModel(done)).toBe(true);
    expect(done.notes).toEqual([{ timestamp: clock.nowUs(), value: 'cache miss' }]);
  });

  it('valid times are kept as given (fractions cut to whole µs), and an end before the start is 1 µs', async () => {
    const clock = new ManualClock(2_000_000_000_000_000);
    const t = testTracer({ clock });
    t.tracer.startSpan('given', { timestamp: 1_700_000_000_000_000.7 }).end(1_700_000_000_001_234.5);
    t.tracer.startSpan('backwards', { timestamp: 1_700_000_000_000_000 }).end(1_600_000_000_000_000);
    t.tracer.trace('noted', (span) => span.annotate('n', { timestamp: 5.5, duration: 12.9 }));
    const spans = await t.spans();
    expect(spans.map((s) => [s.name, s.timestamp, s.duration])).toEqual([
      ['given', 1_700_000_000_000_000, 1234],
      ['backwards', 1_700_000_000_000_000, 1],
      ['noted', 2_000_000_000_000_000, 1],
    ]);
    expect(spans[2].notes).toEqual([{ timestamp: 5, value: 'n', duration: 12 }]);
    expect(t.events).toEqual([]);
  });

  it('reports once per configure, however many bad times follow', async () => {
    const t = testTracer();
    for (let i = 0; i < 100; i++) t.tracer.startSpan('work', { timestamp: NaN }).end(Infinity);
    const spans = await t.spans();
    expect(spans).toHaveLength(100);
    expect(spans.every(withinModel)).toBe(true);
    expect(t.codes()).toEqual([codes.INVALID_TIME]);
  });
});

describe('on the StatsD wire', () => {
  let daemon: StatsdDaemon;
  beforeAll(async () => {
    daemon = await StatsdDaemon.start({});
  });
  afterAll(async () => {
    await daemon.close();
  });

  it('no NaN, Infinity or exponent ever reaches a timer', async () => {
    const exporter = new StatsdExporter({ host: '127.0.0.1', port: daemon.port, prefix: 'times', hostname: 'h' });
    const t = testTracer({ exporters: [exporter] });
    for (const [, bad] of BAD) {
      t.tracer.startSpan('ended badly').end(bad as number);
      t.tracer.startSpan('started badly', { timestamp: bad as number }).end();
    }
    t.tracer.startSpan('sentinel').end();
    await t.tracer.flush();
    await daemon.until('the sentinel', () => daemon.lines.some((line) => line.startsWith('times.test.h.sentinel.ok:')));
    const timers = daemon.lines.filter((line) => line.startsWith('times.test.h.'));
    expect(timers).toHaveLength(2 * BAD.length + 1);
    for (const line of timers) expect(line).toMatch(/^[\w.]+:\d+(\.\d+)?\|ms$/);
    await t.tracer.shutdown();
  });
});
