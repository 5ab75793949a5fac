import { GraphiteExporter } from 'tomograph/graphite';
import type { DiagnosticEvent } from 'tomograph';
import { Carbon, carbonMissing } from '../helpers/carbon';

const missing = process.env.CI === 'true' ? undefined : carbonMissing();
if (missing !== undefined) {
  // eslint-disable-next-line no-console
  console.warn(`Skipping the carbon-cache tests: ${missing}`);
}
const describeCarbon = missing === undefined ? describe : describe.skip;

describeCarbon('GraphiteExporter against a real carbon-cache', () => {
  let carbon: Carbon;
  const prefix = `t${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  // Whisper keeps an hour at 1 s here; timestamps a few minutes back, one second apart per push.
  const baseSec = Math.floor(Date.now() / 1000) - 600;

  beforeAll(async () => {
    carbon = await Carbon.start();
  }, 30000);

  afterAll(async () => {
    await carbon?.close();
  });

  test('every numeric leaf arrives with its exact value', async () => {
    const tree = {
      web: {
        requests: 101,
        tiny: 0.00001,
        third: 1 / 3,
        big: 123456789012.5,
        'GET /users/:id': { count: 3, sum: 0.6000000000000001, p99: 0.30000000000000004 },
        status: { '200,GET': 7 },
        nan: Number.NaN,
      },
    };
    const events: DiagnosticEvent[] = [];
    const exporter = new GraphiteExporter({
      port: carbon.port, prefix, registry: { snapshot: () => tree }, now: () => baseSec * 1000, onDiagnostic: (e) => events.push(e),
    });
    await exporter.shutdown();
    const p = `${prefix}.web`;
    const wanted = {
      [`${p}.requests`]: 1, [`${p}.tiny`]: 1, [`${p}.third`]: 1, [`${p}.big`]: 1,
      [`${p}.GET_users_id.count`]: 1, [`${p}.GET_users_id.sum`]: 1, [`${p}.GET_users_id.p99`]: 1, [`${p}.status.200_GET`]: 1,
    };
    const stored = await carbon.read(wanted);
    expect(stored).toEqual({
      [`${p}.requests`]: [[baseSec, 101]],
      [`${p}.tiny`]: [[baseSec, 0.00001]],
      [`${p}.third`]: [[baseSec, 1 / 3]],
      [`${p}.big`]: [[baseSec, 123456789012.5]],
      [`${p}.GET_users_id.count`]: [[baseSec, 3]],
      [`${p}.GET_users_id.sum`]: [[baseSec, 0.6000000000000001]],
      [`${p}.GET_users_id.p99`]: [[baseSec, 0.30000000000000004]],
      [`${p}.status.200_GET`]: [[baseSec, 7]],
    });
    // The NaN was never sent (carbon would have dropped it), and that was reported.
    expect((await carbon.read({ [`${p}.nan`]: 0 }, 0))[`${p}.nan`]).toEqual([]);
    expect(events.map((e) => e.code)).toEqual(['TOMOGRAPH_GRAPHITE_LINES_DROPPED']);
    expect(exporter.stats()).toMatchObject({ pushes: 1, sentLines: 8, droppedLines: 0, unsendableLines: 1 });
    expect(carbon.output).not.toMatch(/invalid line received/);
  });

  test('carbon stopped mid-run: lines are buffered, the exporter reconnects by itself and delivers them', async () => {
    let second = baseSec + 100;
    let value = 0;
    const events: DiagnosticEvent[] = [];
    let noticed: () => void = () => {};
    const outageNoticed = new Promise<void>((resolve) => (noticed = resolve));
    const exporter = new GraphiteExporter({
      port: carbon.port,
      prefix,
      registry: { snapshot: () => ({ outage: { value } }) },
      now: () => second * 1000,
      minBackoffMs: 20,
      maxBackoffMs: 200,
      onDiagnostic: (e) => {
        events.push(e);
        if (e.code === 'TOMOGRAPH_TRANSPORT_ERROR') noticed();
      },
    });
    const path = `${prefix}.outage.value`;
    const push = async (): Promise<void> => {
      value++;
      second++;
      await exporter.flush();
    };
    await push();
    await push();
    expect(exporter.stats().connected).toBe(true);
    // carbon-cache does not write its in-memory cache out when stopped: wait until it is on disk.
    expect((await carbon.read({ [path]: 2 }))[path]).toHaveLength(2);

    await carbon.stop();
    // Carbon acknowledges nothing: what is written into a connection as carbon dies is lost. So
    // the outage pushes start once the exporter has seen its reconnection refused.
    await outageNoticed;
    for (let i = 0; i < 5; i++) {
      value++;
      second++;
      exporter.push();
    }
    expect(exporter.stats().bufferedLines).toBeGreaterThan(0);
    await carbon.start();
    await push();
    await exporter.shutdown();

    const stored = await carbon.read({ [path]: 8 });
    expect(stored[path]).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((v) => [baseSec + 100 + v, v]));
    const stats = exporter.stats();
    expect(stats.droppedLines).toBe(0);
    expect(stats.connectFailures).toBeGreaterThanOrEqual(1);
    expect(events.some((e) => e.code === 'TOMOGRAPH_TRANSPORT_ERROR')).toBe(true);
  }, 60000);

  test('what a user sees when carbon drops new series past MAX_CREATES_PER_MINUTE (README)', async () => {
    const strict = await Carbon.start({ maxCreatesPerMinute: 3 });
    try {
      const leaves = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`m${i}`, i + 1]));
      const exporter = new GraphiteExporter({ port: strict.port, prefix: 'creates', registry: { snapshot: () => leaves }, now: () => baseSec * 1000 });
      await exporter.shutdown();
      // All 10 lines were sent; carbon acknowledges nothing, so the exporter cannot know...
      expect(exporter.stats()).toMatchObject({ sentLines: 10, droppedLines: 0 });
      // ...but carbon created only as many whisper files as its token bucket allowed, and dropped
      // the other series' points. (Waits the whole 3 s: what is checked is that they never come.)
      const wanted = Object.fromEntries(Object.keys(leaves).map((k) => [`creates.${k}`, 1]));
      const stored = await strict.read(wanted, 3000);
      const created = Object.values(stored).filter((points) => points.length > 0).length;
      expect(created).toBeGreaterThanOrEqual(3);
      expect(created).toBeLessThan(10);
    } finally {
      await strict.close();
    }
  }, 60000);
});
