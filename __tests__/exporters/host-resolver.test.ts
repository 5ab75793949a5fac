/**
 * HostResolver (one lookup in flight, TTL, failure backoff) and the StatsD exporter on top of
 * it: under 1,000 spans/s to a host that does not resolve, lookups stay bounded and the
 * metrics are dropped and counted, never queued.
 */
import { HostResolver, type LookupFunction } from '../../exporters/host-resolver';
import { StatsdExporter } from '../../exporters/statsd';
import type { FinishedSpan } from '../../lib/types';
import { StatsdDaemon } from '../helpers/statsd-daemon';

/** A lookup the test answers by hand; it counts calls and how many are in flight at once. */
function manualLookup() {
  const waiting: Array<(error: NodeJS.ErrnoException | null, address: string) => void> = [];
  const state = { calls: 0, inFlight: 0, maxInFlight: 0 };
  const lookup: LookupFunction = (_host, callback) => {
    state.calls++;
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    waiting.push((error, address) => {
      state.inFlight--;
      callback(error, address, 4);
    });
  };
  const notFound = () => Object.assign(new Error('getaddrinfo ENOTFOUND statsd.invalid'), { code: 'ENOTFOUND' });
  return {
    lookup,
    state,
    get pending() {
      return waiting.length;
    },
    fail: () => waiting.shift()?.(notFound(), ''),
    answer: (address: string) => waiting.shift()?.(null, address),
  };
}

describe('HostResolver', () => {
  it('an IP address is its own answer: no lookup', () => {
    const dns = manualLookup();
    const resolver = new HostResolver('10.1.2.3', { lookup: dns.lookup });
    expect(resolver.current()).toBe('10.1.2.3');
    expect(dns.state.calls).toBe(0);
  });

  it('one lookup in flight at most, however often it is asked; then the address is cached for ttlMs', async () => {
    const dns = manualLookup();
    let now = 0;
    const resolver = new HostResolver('statsd.local', { lookup: dns.lookup, now: () => now, ttlMs: 60000 });
    for (let i = 0; i < 1000; i++) expect(resolver.current()).toBeUndefined();
    expect(dns.state.calls).toBe(1);
    dns.answer('10.0.0.7');
    expect(await resolver.settled()).toBe('10.0.0.7');
    now = 59_999;
    for (let i = 0; i < 1000; i++) resolver.current();
    expect(dns.state.calls).toBe(1);
    // Past the TTL: one refresh, and the old address is served while it runs.
    now = 60_000;
    expect(resolver.current()).toBe('10.0.0.7');
    expect(resolver.current()).toBe('10.0.0.7');
    expect(dns.state.calls).toBe(2);
    dns.answer('10.0.0.8');
    expect(resolver.current()).toBe('10.0.0.8');
    expect(dns.state.maxInFlight).toBe(1);
  });

  it('failures are cached with a doubling backoff (1 s to 30 s); a failed refresh keeps the last good address', () => {
    const dns = manualLookup();
    let now = 0;
    const resolver = new HostResolver('statsd.local', { lookup: dns.lookup, now: () => now });
    const lookupTimes: number[] = [];
    // Asked every millisecond for 100 simulated seconds, every lookup failing.
    for (now = 0; now < 100_000; now++) {
      resolver.current();
      if (dns.pending > 0) {
        lookupTimes.push(now);
        dns.fail();
      }
    }
    expect(lookupTimes).toEqual([0, 1000, 3000, 7000, 15000, 31000, 61000, 91000]);
    expect(resolver.stats()).toEqual({ lookups: 8, failures: 8 });
    expect((resolver.lastError as NodeJS.ErrnoException).code).toBe('ENOTFOUND');
    expect(resolver.lastError).toBeInstanceOf(Error);

    // It resolves again: the backoff starts over, and a later failure keeps the address.
    now = 200_000;
    resolver.current();
    dns.answer('10.0.0.9');
    now += 60_000;
    expect(resolver.current()).toBe('10.0.0.9');
    dns.fail();
    expect(resolver.current()).toBe('10.0.0.9');
    now += 999;
    resolver.current();
    expect(dns.state.calls).toBe(10);
    now += 1;
    resolver.current();
    expect(dns.state.calls).toBe(11);
  });

  it('a lookup that throws, calls back twice, or at once, is one failure or one answer', async () => {
    let now = 0;
    const throwing = new HostResolver('a.local', { lookup: () => { throw new Error('no resolver'); }, now: () => now });
    expect(throwing.current()).toBeUndefined();
    expect(throwing.looking).toBe(false);
    expect(throwing.lastError?.message).toBe('no resolver');
    const twice = new HostResolver('b.local', {
      lookup: (_h, cb) => {
        cb(null, '10.0.0.1', 4);
        cb(null, '10.0.0.2', 4);
      },
      now: () => now,
    });
    expect(twice.current()).toBe('10.0.0.1');
    expect(twice.looking).toBe(false);
    expect(await twice.settled()).toBe('10.0.0.1');
  });

  it('starts no lookup once closed', () => {
    const dns = manualLookup();
    const resolver = new HostResolver('statsd.local', { lookup: dns.lookup });
    resolver.close();
    expect(resolver.current()).toBeUndefined();
    expect(dns.state.calls).toBe(0);
  });
});

function span(i: number): FinishedSpan {
  return {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    id: (i + 1).toString(16).padStart(16, '0'),
    name: 'checkout',
    service: 'shop',
    timestamp: 1_700_000_000_000_000 + i * 1000,
    duration: 2500,
    notes: [{ timestamp: 1_700_000_000_000_000 + i * 1000, value: 'paid' }],
    tags: {},
    sampled: true,
  };
}

describe('StatsdExporter on a host that does not resolve', () => {
  afterEach(() => jest.restoreAllMocks());

  it('1,000 spans/s for 20 s: a handful of lookups, one at a time; the metrics are dropped and counted, not queued', async () => {
    const dns = manualLookup();
    let nowMs = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => nowMs);
    const events: string[] = [];
    const exporter = new StatsdExporter({ host: 'statsd.invalid', lookup: dns.lookup, onDiagnostic: (e) => events.push(e.code) });
    // The first export waits for the lookup started at construction (a host that resolves loses
    // nothing to start-up); while it hangs, every other export is dropped at once.
    const first = exporter.export([span(0)]);
    expect(first).toBeInstanceOf(Promise);
    for (let i = 1; i < 100; i++) expect(exporter.export([span(i)])).toBeUndefined();
    expect(dns.state.calls).toBe(1);
    dns.fail();
    await first;

    for (let i = 100; i < 20_000; i++) {
      nowMs++;
      const result = exporter.export([span(i)]);
      if (result !== undefined) {
        dns.fail();
        await result;
      }
      expect(dns.pending).toBe(0);
    }
    // Lookups at 0, 1, 3, 7 and 15 s: not one per packet (hot-shots' cacheDns keeps only successes).
    expect(dns.state.calls).toBe(5);
    expect(dns.state.maxInFlight).toBe(1);
    expect(exporter.stats()).toEqual({ metricsDropped: 40_000, lookups: 5, lookupFailures: 5 });
    // Reported at most once a second (the clock moved 20 s).
    expect(events.length).toBeGreaterThan(0);
    expect(events.length).toBeLessThanOrEqual(21);
    expect(new Set(events)).toEqual(new Set(['TOMOGRAPH_TRANSPORT_ERROR']));
    await exporter.shutdown();
  });

  it('once the name resolves, metrics go to the looked-up address (hot-shots never looks it up itself)', async () => {
    const daemon = await StatsdDaemon.start({});
    try {
      const dns = manualLookup();
      const exporter = new StatsdExporter({ host: 'statsd.example', port: daemon.port, lookup: dns.lookup, hostname: 'h', prefix: 'p' });
      const sent = exporter.export([span(0)]);
      dns.answer('127.0.0.1');
      await sent;
      await exporter.flush();
      expect(await daemon.timer('p.shop.h.checkout.ok')).toMatchObject({ count: 1, mean: 2.5 });
      exporter.export([span(1)]);
      await exporter.flush();
      expect(dns.state.calls).toBe(1);
      expect(exporter.stats()).toEqual({ metricsDropped: 0, lookups: 1, lookupFailures: 0 });
      await exporter.shutdown();
    } finally {
      await daemon.close();
    }
  });

  it('TCP: no connection, no lookup per reconnect, while the name does not resolve', async () => {
    const dns = manualLookup();
    let nowMs = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => nowMs);
    const exporter = new StatsdExporter({ host: 'statsd.invalid', protocol: 'tcp', lookup: dns.lookup, onDiagnostic: () => undefined });
    dns.fail();
    for (let i = 0; i < 5000; i++) {
      nowMs++;
      const result = exporter.export([span(i)]);
      if (result !== undefined) {
        dns.fail();
        await result;
      }
    }
    expect(dns.state.calls).toBe(3); // 0, 1 and 3 s
    expect(exporter.stats().metricsDropped).toBe(10_000);
    await exporter.shutdown();
  });
});
