import { StatsdExporter, type StatsdExporterOptions } from '../../exporters/statsd';
import { ManualClock, Tracer } from '../../lib';
import type { DiagnosticEvent } from '../../lib/types';
import { freeTcpPort, freeUdpPort, StatsdDaemon } from '../helpers/statsd-daemon';

const HOST = 'faults-host';
const exporters: StatsdExporter[] = [];
const daemons: StatsdDaemon[] = [];

afterEach(async () => {
  jest.restoreAllMocks();
  await Promise.all(exporters.splice(0).map((exporter) => exporter.shutdown()));
  await Promise.all(daemons.splice(0).map((daemon) => daemon.close()));
});

async function startDaemon(options: Parameters<typeof StatsdDaemon.start>[0]): Promise<StatsdDaemon> {
  const daemon = await StatsdDaemon.start(options);
  daemons.push(daemon);
  return daemon;
}

/** Collects diagnostics and lets a test await them. */
function diagnosticsSink() {
  const events: DiagnosticEvent[] = [];
  const waiting: { n: number; resolve: () => void }[] = [];
  return {
    events,
    onDiagnostic(event: DiagnosticEvent) {
      events.push(event);
      for (const waiter of waiting.filter((w) => events.length >= w.n)) {
        waiting.splice(waiting.indexOf(waiter), 1);
        waiter.resolve();
      }
    },
    /** Resolves once at least `n` events have arrived. */
    atLeast(n: number): Promise<void> {
      if (events.length >= n) return Promise.resolve();
      return new Promise((resolve) => waiting.push({ n, resolve }));
    },
  };
}

interface App {
  tracer: Tracer;
  exporter: StatsdExporter;
  /** Runs one traced unit of app work (3 ms, with a note) and returns the app's own result. */
  work(name: string): string;
}

function makeApp(options: StatsdExporterOptions): App {
  const exporter = new StatsdExporter({ hostname: HOST, prefix: 'faults', ...options });
  exporters.push(exporter);
  const clock = new ManualClock();
  const tracer = new Tracer({ serviceName: 'app', exporters: [exporter], scheduledDelayMs: 0, clock });
  return {
    tracer,
    exporter,
    work: (name) =>
      tracer.trace(name, (span) => {
        span.annotate('step');
        clock.advance(3000);
        return `${name} done`;
      }),
  };
}

const timerName = (name: string) => `faults.app.${HOST}.${name}.ok`;

/** Yields one turn of the event loop (no timer): lets socket events be processed. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('StatsdExporter when the StatsD side fails', () => {
  test('an unresolvable host: the app sees no error, onDiagnostic gets TOMOGRAPH_TRANSPORT_ERROR', async () => {
    const sink = diagnosticsSink();
    const app = makeApp({ host: 'nonexistent.invalid', port: 8125, onDiagnostic: sink.onDiagnostic });

    expect(app.work('checkout')).toBe('checkout done');
    await app.tracer.flush();
    await sink.atLeast(1);

    const [event] = sink.events;
    expect(event.code).toBe('TOMOGRAPH_TRANSPORT_ERROR');
    expect(event.message).toContain('nonexistent.invalid:8125');
    const detail = event.detail as { code: string; error: Error; suppressed: number };
    expect(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME']).toContain(detail.code);
    expect(detail.error).toBeInstanceOf(Error);
    // The exporter itself never threw: the tracer counts no failed export.
    expect(app.tracer.stats()).toMatchObject({ exportErrors: 0, spansExported: 1 });
  });

  test('repeated failures are reported at most once a second, with a count of those suppressed', async () => {
    const sink = diagnosticsSink();
    const app = makeApp({ host: 'nonexistent.invalid', onDiagnostic: sink.onDiagnostic });
    let nowMs = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => nowMs);

    for (let i = 0; i < 5; i++) {
      app.work(`burst ${i}`);
      await app.tracer.flush(); // settles once the packet's DNS lookup has failed
    }
    expect(sink.events).toHaveLength(1);

    nowMs += 1001;
    app.work('later');
    await app.tracer.flush();
    expect(sink.events).toHaveLength(2);
    expect((sink.events[1].detail as { suppressed: number }).suppressed).toBe(4);
  });

  test('without onDiagnostic, a failing transport becomes one process warning per code', async () => {
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const app = makeApp({ host: 'nonexistent.invalid' });
    let nowMs = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => nowMs);
    for (let i = 0; i < 3; i++) {
      app.work(`request ${i}`);
      await app.tracer.flush();
      nowMs += 5000; // past the one-a-second limit: only the one-warning-per-code rule is left
    }
    const ours = emitWarning.mock.calls.filter(([, options]) =>
      (options as { code?: string } | undefined)?.code === 'TOMOGRAPH_TRANSPORT_ERROR');
    expect(ours).toHaveLength(1);
    expect(ours[0][0]).toContain('nonexistent.invalid');
    expect(ours[0][1]).toMatchObject({ type: 'TomographWarning' });
  });

  test('a closed UDP port: nothing to report (UDP cannot tell), and sending resumes once a daemon listens there', async () => {
    const sink = diagnosticsSink();
    const port = await freeUdpPort();
    const app = makeApp({ port, onDiagnostic: sink.onDiagnostic });

    expect(app.work('before')).toBe('before done');
    await app.tracer.flush();

    const daemon = await startDaemon({ port });
    app.work('after');
    await app.tracer.flush();
    expect(await daemon.timer(timerName('after'))).toMatchObject({ count: 1, mean: 3 });
    expect(daemon.timers.has(timerName('before'))).toBe(false);
    expect(sink.events).toEqual([]);
  });

  test('a closed TCP port: ECONNREFUSED is reported, and the exporter reconnects once a daemon listens there', async () => {
    const sink = diagnosticsSink();
    const port = await freeTcpPort();
    const app = makeApp({ protocol: 'tcp', port, reconnectIntervalMs: 0, onDiagnostic: sink.onDiagnostic });

    expect(app.work('before')).toBe('before done');
    await app.tracer.flush();
    await sink.atLeast(1);
    expect(sink.events[0].code).toBe('TOMOGRAPH_TRANSPORT_ERROR');
    expect((sink.events[0].detail as { code: string }).code).toBe('ECONNREFUSED');

    const daemon = await startDaemon({ protocol: 'tcp', port });
    app.work('after');
    await app.tracer.flush();
    expect(await daemon.timer(timerName('after'))).toMatchObject({ count: 1, mean: 3 });
    expect(await daemon.counter(`faults.app.${HOST}.after.notes.step`)).toBe(1);
  });

  test('a UDP daemon restarted mid-run on the same port: sending resumes', async () => {
    const sink = diagnosticsSink();
    const daemon = await startDaemon({ protocol: 'udp' });
    const app = makeApp({ port: daemon.port, onDiagnostic: sink.onDiagnostic });

    app.work('first');
    await app.tracer.flush();
    expect(await daemon.timer(timerName('first'))).toMatchObject({ count: 1 });

    await daemon.stop();
    expect(app.work('while down')).toBe('while down done');
    await app.tracer.flush();

    await daemon.restart();
    app.work('after restart');
    await app.tracer.flush();
    expect(await daemon.timer(timerName('after_restart'))).toMatchObject({ count: 1, mean: 3 });
    expect(daemon.timers.has(timerName('while_down'))).toBe(false);
    expect(sink.events).toEqual([]);
  });

  test('a TCP daemon restarted mid-run on the same port: the broken connection is reported, then replaced', async () => {
    const sink = diagnosticsSink();
    const daemon = await startDaemon({ protocol: 'tcp' });
    const app = makeApp({ protocol: 'tcp', port: daemon.port, reconnectIntervalMs: 0, onDiagnostic: sink.onDiagnostic });

    app.work('first');
    await app.tracer.flush();
    expect(await daemon.timer(timerName('first'))).toMatchObject({ count: 1 });

    await daemon.stop();
    // The connection's end is seen a few event-loop turns later; the app keeps working meanwhile.
    for (let i = 0; i < 1000 && sink.events.length === 0; i++) {
      expect(app.work('while down')).toBe('while down done');
      await app.tracer.flush();
      await turn();
    }
    expect(sink.events.length).toBeGreaterThan(0);
    expect(sink.events[0].code).toBe('TOMOGRAPH_TRANSPORT_ERROR');

    await daemon.restart();
    app.work('after restart');
    await app.tracer.flush();
    expect(await daemon.timer(timerName('after_restart'))).toMatchObject({ count: 1, mean: 3 });
  });

  test('a socket error event never reaches the app, even from the socket itself', async () => {
    const sink = diagnosticsSink();
    const app = makeApp({ protocol: 'tcp', port: await freeTcpPort(), onDiagnostic: sink.onDiagnostic });
    // Before any span: the refused connection surfaces as an 'error' event on the socket.
    await sink.atLeast(1);
    expect((sink.events[0].detail as { code: string }).code).toBe('ECONNREFUSED');
    expect(app.work('x')).toBe('x done');
    await app.tracer.flush();
  });
});
