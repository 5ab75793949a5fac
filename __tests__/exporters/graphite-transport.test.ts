import net from 'node:net';
import type { LookupFunction } from 'node:net';
import { GraphiteExporter } from 'tomograph/graphite';
import type { DiagnosticEvent } from 'tomograph';

function tree(leaves: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < leaves; i++) out[`m${i}`] = i;
  return out;
}

/** A lookup that never resolves the name and records each call: what issue 15 saw hot-shots do per line. */
function failingLookup(): { lookup: LookupFunction; calls: number; inFlight: number; maxInFlight: number; next: Promise<void> } {
  let wake: () => void = () => {};
  const state = {
    calls: 0,
    inFlight: 0,
    maxInFlight: 0,
    next: new Promise<void>((resolve) => (wake = resolve)),
    lookup: ((hostname: string, _options: unknown, callback: (error: NodeJS.ErrnoException | null) => void) => {
      state.calls++;
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      const woke = wake;
      state.next = new Promise<void>((resolve) => (wake = resolve));
      woke();
      setImmediate(() => {
        state.inFlight--;
        const error = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
        callback(error);
      });
    }) as unknown as LookupFunction,
  };
  return state;
}

describe('GraphiteExporter transport', () => {
  test('an unresolvable host costs one lookup per backoff step, never one per push or per line', async () => {
    const dns = failingLookup();
    const events: DiagnosticEvent[] = [];
    const exporter = new GraphiteExporter({
      host: 'carbon.invalid', registry: { snapshot: () => tree(50) }, lookup: dns.lookup, minBackoffMs: 30, maxBackoffMs: 60, shutdownTimeoutMs: 100,
      onDiagnostic: (e) => events.push(e),
    });
    const firstLookup = dns.next;
    for (let i = 0; i < 200; i++) exporter.push();
    await firstLookup;
    expect(dns.calls).toBe(1);
    // While that attempt fails and its backoff runs, pushes start nothing new.
    const secondLookup = dns.next;
    for (let i = 0; i < 200; i++) exporter.push();
    expect(dns.calls).toBe(1);
    await secondLookup;
    expect(dns.calls).toBe(2);
    expect(dns.maxInFlight).toBe(1);
    // One diagnostic for the outage, not one per attempt.
    expect(events.filter((e) => e.code === 'TOMOGRAPH_TRANSPORT_ERROR')).toHaveLength(1);
    expect(events[0].message).toMatch(/carbon\.invalid:2003.*ENOTFOUND/);
    await exporter.shutdown();
    // shutdown() cuts the backoff short once, then retries at the backoff pace until its deadline.
    expect(dns.maxInFlight).toBe(1);
    const calls = dns.calls;
    for (let i = 0; i < 100; i++) exporter.push();
    expect(dns.calls).toBe(calls);
  });

  test('the buffer is bounded: the oldest lines are dropped and counted, and it is reported', async () => {
    const dns = failingLookup();
    const events: DiagnosticEvent[] = [];
    let round = 0;
    const exporter = new GraphiteExporter({
      host: 'carbon.invalid', lookup: dns.lookup, maxBufferedLines: 120, minBackoffMs: 10000,
      registry: { snapshot: () => ({ round: ++round, ...tree(49) }) },
      onDiagnostic: (e) => events.push(e),
    });
    for (let i = 0; i < 10; i++) exporter.push();
    expect(exporter.stats()).toMatchObject({ bufferedLines: 120, droppedLines: 500 - 120, sentLines: 0 });
    expect(events.filter((e) => e.code === 'TOMOGRAPH_GRAPHITE_LINES_DROPPED').length).toBeGreaterThan(0);
    // What is kept are the newest lines: a server that appears now receives rounds 8 to 10 only.
    await exporter.shutdown();
  });

  test('buffered lines are delivered, oldest first, once a connection works', async () => {
    const received: string[] = [];
    let buffered = '';
    const server = net.createServer((socket) => {
      socket.setEncoding('utf8');
      socket.on('data', (data: string) => {
        buffered += data;
        const lines = buffered.split('\n');
        buffered = lines.pop() as string;
        received.push(...lines);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    let round = 0;
    const exporter = new GraphiteExporter({
      port, prefix: 'p', maxBufferedLines: 100, registry: { snapshot: () => ({ round: ++round, ...tree(9) }) }, now: () => round * 1000,
    });
    for (let i = 0; i < 30; i++) exporter.push();
    await exporter.shutdown();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // 300 lines made while connecting, 10 more by shutdown's last push; the newest 100 (rounds 22
    // to 31) were kept and sent in order.
    const rounds = received.filter((line) => line.startsWith('p.round ')).map((line) => Number(line.split(' ')[1]));
    expect(rounds).toEqual(Array.from({ length: 10 }, (_, i) => 22 + i));
    expect(received).toHaveLength(100);
    expect(exporter.stats()).toMatchObject({ droppedLines: 210, sentLines: 100, bufferedLines: 0 });
  });

  test('a carbon that stops reading: pushes never block, memory stays bounded, shutdown returns by its deadline', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => {
      socket.pause(); // accepts, never reads: the kernel buffers fill, then back-pressure
      sockets.push(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const big = tree(2000);
    const exporter = new GraphiteExporter({ port, prefix: 'slow', maxBufferedLines: 5000, shutdownTimeoutMs: 300, registry: { snapshot: () => big } });
    await exporter.flush();
    for (let i = 0; i < 200; i++) exporter.push(); // 400,000 lines into a carbon that reads nothing
    const stats = exporter.stats();
    expect(stats.bufferedLines).toBeLessThanOrEqual(5000);
    expect(stats.droppedLines).toBeGreaterThan(0);
    const started = Date.now();
    await exporter.shutdown();
    expect(Date.now() - started).toBeLessThan(2000);
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('pushes on its interval (fake timers), and shutdown twice is harmless', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      let snapshots = 0;
      const dns = failingLookup();
      const exporter = new GraphiteExporter({
        host: 'carbon.invalid', lookup: dns.lookup, intervalMs: 60000, shutdownTimeoutMs: 0,
        registry: { snapshot: () => ({ n: ++snapshots }) },
      });
      await jest.advanceTimersByTimeAsync(59999);
      expect(snapshots).toBe(0);
      await jest.advanceTimersByTimeAsync(1);
      expect(snapshots).toBe(1);
      await jest.advanceTimersByTimeAsync(120000);
      expect(snapshots).toBe(3);
      await jest.advanceTimersByTimeAsync(1000);
      const first = exporter.shutdown();
      expect(exporter.shutdown()).toBe(first);
      await jest.advanceTimersByTimeAsync(10);
      await first;
      expect(snapshots).toBe(4); // shutdown pushes the last snapshot
      await jest.advanceTimersByTimeAsync(600000);
      expect(snapshots).toBe(4);
    } finally {
      jest.useRealTimers();
    }
  });
});
