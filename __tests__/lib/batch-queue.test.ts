import fc from 'fast-check';
import { ManualClock } from '../../lib/clock';
import { codes } from '../../lib/codes';
import type { TracerOptions } from '../../lib/options';
import { Tracer } from '../../lib/tracer';
import type { DiagnosticEvent, Exporter } from '../../lib/types';
import { type ExportBehaviour, ScriptedExporter } from '../helpers/core-exporters';
import { balance } from '../helpers/core-fixtures';

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});

function setup(exporters: Exporter[], options: TracerOptions = {}) {
  const events: DiagnosticEvent[] = [];
  const clock = new ManualClock();
  const tracer = new Tracer({
    serviceName: 'queue-test',
    exporters,
    clock,
    scheduledDelayMs: 1000,
    exportTimeoutMs: 5000,
    onDiagnostic: (event) => events.push(event),
    ...options,
  });
  let n = 0;
  /** Ends `count` fresh root spans, each 1 ms long on the manual clock. */
  const finish = (count = 1): void => {
    for (let i = 0; i < count; i++) {
      const span = tracer.startSpan(`span-${n++}`);
      clock.advance(1000);
      span.end();
    }
  };
  const balanced = (): void => {
    const { finished, accounted } = balance(tracer.stats());
    expect(accounted).toBe(finished);
  };
  return { tracer, events, clock, finish, balanced, codes: () => events.map((e) => e.code) };
}

/** Whether `promise` has settled once pending microtasks (and zero-delay timers) have run. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true), () => (settled = true));
  for (let i = 0; i < 10 && !settled; i++) await jest.advanceTimersByTimeAsync(0);
  return settled;
}

describe('batching', () => {
  it('waits scheduledDelayMs for a batch to fill, and cuts full batches at once', async () => {
    const exporter = new ScriptedExporter();
    const { finish, balanced } = setup([exporter], { maxBatchSize: 3 });
    finish(2);
    await jest.advanceTimersByTimeAsync(999);
    expect(exporter.batches).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(exporter.batches.map((b) => b.length)).toEqual([2]);
    finish(7);
    expect(exporter.batches.map((b) => b.length)).toEqual([2, 3, 3]);
    balanced();
    await jest.advanceTimersByTimeAsync(1000);
    expect(exporter.batches.map((b) => b.length)).toEqual([2, 3, 3, 1]);
    balanced();
  });

  it('exports each span once, with the times of the injected clock', async () => {
    const exporter = new ScriptedExporter();
    const { tracer, finish } = setup([exporter], { maxBatchSize: 7 });
    finish(100);
    await tracer.flush();
    const ids = exporter.spanIds();
    expect(ids).toHaveLength(100);
    expect(new Set(ids).size).toBe(100);
    const spans = exporter.batches.flat();
    expect(spans.every((span) => span.duration === 1000)).toBe(true);
    expect(spans[1].timestamp - spans[0].timestamp).toBe(1000);
    expect(tracer.stats().spansExported).toBe(100);
  });
});

describe('a full queue', () => {
  it('drops new spans, counts them as queueFull and reports once per episode', async () => {
    const stuck = new ScriptedExporter(() => 'hang');
    const { tracer, finish, balanced, codes: seen } = setup([stuck], { maxQueueSize: 4, maxBatchSize: 2 });
    finish(4); // two batches: one in flight, one waiting
    expect(tracer.stats().spansQueued).toBe(4);
    finish(3);
    expect(tracer.stats().spansDropped.queueFull).toBe(3);
    expect(seen()).toEqual([codes.QUEUE_FULL]);
    balanced();
    stuck.settleHung();
    await jest.advanceTimersByTimeAsync(0);
    expect(tracer.stats().spansQueued).toBe(2);
    finish(2); // room again, and full again: a new episode
    finish(1);
    expect(seen()).toEqual([codes.QUEUE_FULL, codes.QUEUE_FULL]);
    balanced();
  });

  it('without exporters, spans are counted as noExporter', async () => {
    const { tracer, finish, balanced } = setup([]);
    finish(3);
    await tracer.flush();
    expect(tracer.stats().spansDropped.noExporter).toBe(3);
    balanced();
  });
});

describe('a failing exporter holds up no other', () => {
  it.each<[ExportBehaviour, string]>([
    ['throw', codes.EXPORT_FAILED],
    ['reject', codes.EXPORT_FAILED],
    ['hang', codes.EXPORT_TIMEOUT],
  ])('one that %ss: the others get every batch on time', async (behaviour, code) => {
    const bad = new ScriptedExporter(() => behaviour);
    const good = new ScriptedExporter(() => 'okAsync');
    const { tracer, finish, balanced, codes: seen } = setup([bad, good], { maxBatchSize: 2 });
    finish(6);
    await jest.advanceTimersByTimeAsync(0);
    expect(good.spanIds()).toHaveLength(6);
    expect(bad.batches.length).toBeGreaterThanOrEqual(1);
    balanced();
    await jest.advanceTimersByTimeAsync(3 * 5000);
    expect(bad.spanIds()).toHaveLength(6); // every batch was still offered to it, one at a time
    const stats = tracer.stats();
    expect(stats.spansQueued).toBe(0);
    // A batch counts as exported only when every exporter took it.
    expect(stats.spansDropped.exportFailed).toBe(6);
    expect(stats.exportErrors).toBe(3);
    expect(stats.exporters[0]).toMatchObject({ exported: 0, failed: 6, timeouts: behaviour === 'hang' ? 3 : 0 });
    expect(stats.exporters[1]).toMatchObject({ exported: 6, failed: 0 });
    expect(new Set(seen())).toEqual(new Set([code]));
    balanced();
  });

  it('the diagnostic names the exporter and carries the error', async () => {
    const bad = new ScriptedExporter(() => 'throw');
    const { tracer, finish, events } = setup([bad]);
    finish(1);
    await tracer.flush();
    expect(events[0].code).toBe(codes.EXPORT_FAILED);
    expect(events[0].message).toContain('ScriptedExporter#0');
    expect((events[0].detail as { error: Error }).error.message).toBe('export threw');
  });

  it('a lagging exporter is skipped past (exporterBusy) before any span is refused', async () => {
    const slow = new ScriptedExporter(() => 'hang');
    const fast = new ScriptedExporter(() => 'ok');
    const { tracer, finish, balanced, codes: seen } = setup([slow, fast], { maxQueueSize: 4, maxBatchSize: 2 });
    finish(4); // batch A in flight at slow, batch B waiting at slow; fast has both
    finish(2); // full: slow's waiting batch B is skipped to make room
    const stats = tracer.stats();
    expect(stats.spansDropped.queueFull).toBe(0);
    expect(stats.spansDropped.exporterBusy).toBe(2);
    expect(stats.exporters[0].skipped).toBe(2);
    expect(seen()).toEqual([codes.EXPORTER_BUSY]);
    expect(fast.spanIds()).toHaveLength(6);
    balanced();
    slow.settleHung();
    await jest.advanceTimersByTimeAsync(0);
    slow.settleHung();
    await jest.advanceTimersByTimeAsync(0);
    expect(slow.spanIds()).toHaveLength(4); // A and the third batch; B was skipped
    expect(tracer.stats().spansExported).toBe(4);
    balanced();
  });

  it('when every exporter is equally behind, the new span is the one dropped', async () => {
    const a = new ScriptedExporter(() => 'hang');
    const b = new ScriptedExporter(() => 'hang');
    const { tracer, finish, codes: seen } = setup([a, b], { maxQueueSize: 4, maxBatchSize: 2 });
    finish(5);
    expect(tracer.stats().spansDropped).toMatchObject({ queueFull: 1, exporterBusy: 0 });
    expect(seen()).toEqual([codes.QUEUE_FULL]);
  });
});

describe('flush', () => {
  it('waits for everything queued, then for each exporter’s own flush', async () => {
    const exporter = new ScriptedExporter(() => 'hang');
    const { tracer, finish } = setup([exporter], { maxBatchSize: 2 });
    finish(3);
    const flushed = tracer.flush();
    expect(await isSettled(flushed)).toBe(false);
    exporter.settleHung();
    expect(await isSettled(flushed)).toBe(false); // the second batch is still out
    exporter.settleHung();
    expect(await isSettled(flushed)).toBe(true);
    expect(exporter.flushCalls).toBe(1);
    expect(tracer.stats().spansExported).toBe(3);
  });

  it('settles by the export timeout when an exporter hangs', async () => {
    const exporter = new ScriptedExporter(() => 'hang');
    const { tracer, finish } = setup([exporter]);
    finish(1);
    const flushed = tracer.flush();
    await jest.advanceTimersByTimeAsync(4999);
    expect(await isSettled(flushed)).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(await isSettled(flushed)).toBe(true);
    expect(tracer.stats().spansDropped.exportFailed).toBe(1);
  });

  it('does not settle while an older batch is in flight, even when newer ones are skipped', async () => {
    const slow = new ScriptedExporter(() => 'hang');
    const fast = new ScriptedExporter(() => 'ok');
    const { tracer, finish, balanced } = setup([slow, fast], { maxQueueSize: 4, maxBatchSize: 2 });
    finish(4); // A in flight at slow, B waiting
    const flushed = tracer.flush();
    finish(4); // B skipped, C cut, C skipped: as many spans settle as were queued at flush()
    expect(tracer.stats().spansDropped.exporterBusy).toBe(4);
    expect(await isSettled(flushed)).toBe(false); // A has not settled
    slow.settleHung();
    expect(await isSettled(flushed)).toBe(true);
    balanced();
  });

  it('settles within exportTimeoutMs whatever the backlog; what is still out stays queued', async () => {
    const exporter = new ScriptedExporter(() => 'hang');
    const { tracer, finish, balanced } = setup([exporter], { maxBatchSize: 10 });
    finish(40); // four batches, each would wait its own 5000 ms timeout in turn
    const flushed = tracer.flush();
    await jest.advanceTimersByTimeAsync(4999);
    expect(await isSettled(flushed)).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(await isSettled(flushed)).toBe(true);
    // The first batch timed out; the next is in flight, the rest wait: nothing is lost by flush().
    expect(tracer.stats()).toMatchObject({ spansQueued: 30, spansDropped: { exportFailed: 10 } });
    balanced();
  });

  it("an exporter's failing or hanging flush is reported and flush() still settles", async () => {
    const failing = new ScriptedExporter(() => 'ok', { flush: () => Promise.reject(new Error('no flush')) });
    const hanging = new ScriptedExporter(() => 'ok', { flush: () => new Promise(() => undefined) });
    const { tracer, finish, codes: seen } = setup([failing, hanging]);
    finish(1);
    const flushed = tracer.flush();
    await jest.advanceTimersByTimeAsync(5000);
    expect(await isSettled(flushed)).toBe(true);
    expect(seen()).toEqual([codes.EXPORTER_CLOSE_FAILED, codes.EXPORTER_CLOSE_FAILED]);
  });
});

describe('shutdown', () => {
  it('flushes, shuts each exporter down once, and is safe to call twice', async () => {
    const exporter = new ScriptedExporter();
    const { tracer, finish, balanced } = setup([exporter]);
    finish(2);
    const first = tracer.shutdown();
    const second = tracer.shutdown();
    await first;
    await second;
    await tracer.shutdown();
    expect(exporter.spanIds()).toHaveLength(2);
    expect(exporter.shutdownCalls).toBe(1);
    expect(tracer.isEnabled).toBe(false);
    balanced();
  });

  it('spans that end after shutdown() are counted as dropped (shutdown), also while it flushes', async () => {
    const exporter = new ScriptedExporter(() => 'okAsync');
    const { tracer, clock, balanced } = setup([exporter]);
    const early = tracer.startSpan('early');
    const during = tracer.startSpan('during');
    const late = tracer.startSpan('late');
    early.end();
    const closing = tracer.shutdown();
    clock.advance(10);
    during.end(); // shutdown has begun, its flush has not finished
    await closing;
    late.end();
    const stats = tracer.stats();
    expect(exporter.batches.flat().map((span) => span.name)).toEqual(['early']);
    expect(stats.spansDropped.shutdown).toBe(2);
    expect(stats.spansQueued).toBe(0);
    balanced();
    // And nothing new starts.
    expect(tracer.startSpan('after').recording).toBe(false);
  });
});

describe('shutdown under a backlog', () => {
  it('resolves within exportTimeoutMs whatever the backlog; what was not sent is dropped (shutdownTimeout)', async () => {
    const exporter = new ScriptedExporter(() => 'hang');
    const { tracer, finish, balanced } = setup([exporter], { maxBatchSize: 10, maxQueueSize: 2048 });
    finish(2000); // 200 batches: one at a time, 5000 ms each, that was 1000 s
    const closing = tracer.shutdown();
    await jest.advanceTimersByTimeAsync(5000);
    expect(await isSettled(closing)).toBe(true);
    const stats = tracer.stats();
    expect(stats.spansQueued).toBe(0);
    expect(stats.spansExported).toBe(0);
    expect(stats.spansDropped.shutdownTimeout).toBe(2000);
    expect(exporter.shutdownCalls).toBe(1);
    balanced();
    // The abandoned call settling later counts nothing twice, and sends nothing more.
    exporter.settleHung();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(tracer.stats()).toEqual(stats);
    expect(exporter.batches).toHaveLength(1);
  });

  it("leaves part of the time to the exporters' own shutdown, and waits for it no longer than that", async () => {
    const exporter = new ScriptedExporter(() => 'hang', { shutdown: () => new Promise(() => undefined) });
    const { tracer, finish, codes: seen, balanced } = setup([exporter], { maxBatchSize: 10 });
    finish(30);
    const closing = tracer.shutdown();
    // 5000 ms in all: batches until 4000, the exporter's shutdown() from then on.
    await jest.advanceTimersByTimeAsync(3999);
    expect(exporter.shutdownCalls).toBe(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(exporter.shutdownCalls).toBe(1);
    expect(await isSettled(closing)).toBe(false);
    await jest.advanceTimersByTimeAsync(1000);
    expect(await isSettled(closing)).toBe(true);
    expect(seen()).toContain(codes.EXPORTER_CLOSE_FAILED);
    expect(tracer.stats().spansDropped.shutdownTimeout).toBe(30);
    balanced();
  });

  it('a quick exporter loses nothing: every batch is sent within the time', async () => {
    const exporter = new ScriptedExporter(() => 'okAsync');
    const { tracer, finish, balanced } = setup([exporter], { maxBatchSize: 10 });
    finish(100);
    await tracer.shutdown();
    expect(tracer.stats()).toMatchObject({ spansExported: 100, spansQueued: 0, spansDropped: { shutdownTimeout: 0 } });
    balanced();
  });
});

describe('exporting never traces itself', () => {
  it('an exporter that traces gets the no-op span; nothing extra is started or exported', async () => {
    const seen: { recording: boolean; name: string; id: string }[] = [];
    let tracer!: Tracer;
    const tracing: Exporter = {
      async export() {
        tracer.trace('inside export', (span) => {
          seen.push(span);
          tracer.trace('nested in export', (inner) => seen.push(inner));
          const started = tracer.startSpan('started in export');
          seen.push(started);
          started.end();
          tracer.withSpan(started, () => seen.push(tracer.startSpan('child of no-op')));
        });
        await Promise.resolve();
        const afterAwait = tracer.startSpan('after await in export');
        seen.push(afterAwait);
        afterAwait.end();
        const viaStart = tracer.start('start in export');
        seen.push(viaStart);
        tracer.stop('start in export');
      },
    };
    const exporter = new ScriptedExporter();
    const created = setup([tracing, exporter]);
    tracer = created.tracer;
    created.finish(3);
    await tracer.flush();
    expect(seen.length).toBeGreaterThanOrEqual(6);
    expect(seen.every((span) => span.recording === false && span.id === '')).toBe(true);
    const stats = tracer.stats();
    expect(stats.spansStarted).toBe(3);
    expect(stats.spansFinished).toBe(3);
    expect(exporter.spanIds()).toHaveLength(3);
  });
});

describe('accounting', () => {
  const behaviour = fc.constantFrom<ExportBehaviour>('ok', 'okAsync', 'throw', 'reject', 'hang');
  type Step =
    | { kind: 'end'; count: number }
    | { kind: 'advance'; ms: number }
    | { kind: 'flush' }
    | { kind: 'settle'; exporter: number };
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constant('end' as const), count: fc.integer({ min: 1, max: 6 }) }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3000 }) }),
    fc.record({ kind: fc.constant('flush' as const) }),
    fc.record({ kind: fc.constant('settle' as const), exporter: fc.integer({ min: 0, max: 2 }) }),
  );

  it('finished == exported + queued + drops at every step, and everything settles', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(behaviour, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 3 }),
        fc.array(step, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        async (scripts, steps, maxQueueSize, maxBatchSize) => {
          const exporters = scripts.map((script) => new ScriptedExporter((call) => script[call % script.length]));
          const { tracer, finish } = setup(exporters, {
            maxQueueSize: Math.max(maxQueueSize, maxBatchSize),
            maxBatchSize,
          });
          const check = (): void => {
            const stats = tracer.stats();
            const { finished, accounted } = balance(stats);
            if (accounted !== finished) throw new Error(`finished ${finished} != accounted ${accounted}`);
            if (stats.spansQueued > Math.max(maxQueueSize, maxBatchSize)) throw new Error('queue over its bound');
          };
          const flushes: Promise<void>[] = [];
          for (const s of steps) {
            if (s.kind === 'end') finish(s.count);
            else if (s.kind === 'advance') await jest.advanceTimersByTimeAsync(s.ms);
            else if (s.kind === 'flush') flushes.push(tracer.flush());
            else exporters[s.exporter % exporters.length].settleHung();
            check();
          }
          // Drain: every hung call times out within exportTimeoutMs.
          for (let i = 0; i < 100 && tracer.stats().spansQueued > 0; i++) await jest.advanceTimersByTimeAsync(5000);
          await jest.advanceTimersByTimeAsync(5000);
          check();
          const stats = tracer.stats();
          expect(stats.spansQueued).toBe(0);
          for (const flush of flushes) expect(await isSettled(flush)).toBe(true);
          // Shut down: still balanced, and spans that end afterwards are counted.
          const open = [tracer.startSpan('open-1'), tracer.startSpan('open-2'), tracer.startSpan('open-3')];
          const closing = tracer.shutdown();
          open[0].end();
          open[1].end();
          await jest.advanceTimersByTimeAsync(5000);
          expect(await isSettled(closing)).toBe(true);
          open[2].end();
          finish(1); // not even started now
          check();
          expect(tracer.stats().spansQueued).toBe(0);
          expect(tracer.stats().spansDropped.shutdown).toBe(3);
          for (const exporter of exporters) {
            expect(exporter.shutdownCalls).toBe(1);
            const ids = exporter.spanIds();
            expect(new Set(ids).size).toBe(ids.length); // never twice
            expect(exporter.batches.every((batch) => batch.length <= maxBatchSize)).toBe(true);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
