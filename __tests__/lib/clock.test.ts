import { performance } from 'node:perf_hooks';
import { ManualClock, monotonicClock } from '../../lib/clock';
import { testTracer } from '../helpers/core-fixtures';

afterEach(() => jest.restoreAllMocks());

describe('monotonic clock', () => {
  it('gives integer epoch microseconds close to the wall clock', () => {
    const clock = monotonicClock();
    const us = clock.nowUs();
    expect(Number.isInteger(us)).toBe(true);
    expect(Math.abs(us / 1000 - Date.now())).toBeLessThan(1000);
  });

  it('never goes backwards over 100,000 readings', () => {
    const clock = monotonicClock();
    let previous = clock.nowUs();
    let backwards = 0;
    let fractional = 0;
    for (let i = 0; i < 100_000; i++) {
      const now = clock.nowUs();
      if (now < previous) backwards++;
      if (!Number.isInteger(now)) fractional++;
      previous = now;
    }
    expect(backwards).toBe(0);
    expect(fractional).toBe(0);
  });

  it('ignores wall-clock steps (Date.now jumping back an hour)', () => {
    const clock = monotonicClock();
    const before = clock.nowUs();
    jest.spyOn(Date, 'now').mockReturnValue(Date.now() - 3_600_000);
    const after = clock.nowUs();
    expect(after).toBeGreaterThanOrEqual(before);
    expect(after - before).toBeLessThan(1_000_000);
  });

  it('follows performance.now, anchored once', () => {
    const clock = monotonicClock();
    const spy = jest.spyOn(performance, 'now');
    spy.mockReturnValue(1000.0004);
    const a = clock.nowUs();
    spy.mockReturnValue(1002.5);
    const b = clock.nowUs();
    expect(b - a).toBe(2500);
  });
});

describe('manual clock', () => {
  it('moves only when told, by whole microseconds', () => {
    const clock = new ManualClock(1_000);
    expect(clock.nowUs()).toBe(1_000);
    clock.advance(2.9);
    expect(clock.nowUs()).toBe(1_002);
    expect(new ManualClock().nowUs()).toBe(1_700_000_000_000_000);
  });
});

describe('span times', () => {
  it('are integers, and a duration is at least 1 µs', async () => {
    const clock = new ManualClock(10_000);
    const { tracer, spans } = testTracer({ clock });
    tracer.trace('instant', () => undefined);
    const span = tracer.startSpan('explicit', { timestamp: 20_000.7 });
    span.annotate('note', { timestamp: 20_001.5 });
    span.end(20_000.2 + 1234.9);
    const backwards = tracer.startSpan('backwards', { timestamp: 50_000 });
    backwards.end(40_000);
    const byName = new Map((await spans()).map((s) => [s.name, s]));
    expect(byName.get('instant')).toMatchObject({ timestamp: 10_000, duration: 1 });
    expect(byName.get('explicit')?.duration).toBe(1235); // 21235.1 - 20000
    expect(byName.get('backwards')?.duration).toBe(1);
    expect(byName.get('explicit')?.timestamp).toBe(20_000);
    for (const s of byName.values()) {
      expect(Number.isInteger(s.timestamp)).toBe(true);
      expect(s.notes.every((note) => Number.isInteger(note.timestamp))).toBe(true);
      expect(Number.isInteger(s.duration)).toBe(true);
      expect(s.duration).toBeGreaterThanOrEqual(1);
    }
  });

  it('tracer.now() reads the tracer clock', () => {
    const clock = new ManualClock(42);
    const { tracer } = testTracer({ clock });
    expect(tracer.now()).toBe(42);
    clock.advance(8);
    expect(tracer.now()).toBe(50);
  });
});
