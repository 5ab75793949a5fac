import dns = require('node:dns');
import { isIP } from 'node:net';

/**
 * Resolves a host name to one address, as `dns.lookup(host, callback)` does (the same signature,
 * so `dns.lookup` itself, or a custom resolver, fits).
 */
export type LookupFunction = (
  hostname: string,
  callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void,
) => void;

/** Options of `HostResolver`. Every field is optional. */
export interface HostResolverOptions {
  /** How long an address is used before it is looked up again, in milliseconds. Default 60000. */
  ttlMs?: number;
  /** Wait after the first failed lookup before the next, in milliseconds; doubles per failure. Default 1000. */
  minRetryMs?: number;
  /** Longest wait between failed lookups, in milliseconds. Default 30000. */
  maxRetryMs?: number;
  /** The lookup. Default `dns.lookup` (read at each call, so it honours later patches). */
  lookup?: LookupFunction;
  /** Now, in milliseconds. Default `Date.now`. */
  now?: () => number;
}

/** Counts since the resolver was made. */
export interface HostResolverStats {
  /** Lookups started. */
  lookups: number;
  /** Lookups that failed (or threw, or answered with no address). */
  failures: number;
}

/**
 * One host name's address for an exporter, looked up off the send path. Each packet or
 * connection asks `current()`, which answers from a cache at once; a lookup starts only when the
 * cached address is older than `ttlMs` (the old one is served meanwhile) or, after a failure,
 * once the backoff has passed (1 s, doubling to 30 s). Never more than one lookup in flight: a
 * name that does not resolve costs one `getaddrinfo` per backoff period, not one per packet,
 * so it cannot fill libuv's thread pool (4 threads, shared with the app's `fs`, `crypto` and
 * `dns` calls). A failed refresh keeps the last good address. An IP address is its own answer.
 */
export class HostResolver {
  readonly host: string;
  private readonly ttlMs: number;
  private readonly minRetryMs: number;
  private readonly maxRetryMs: number;
  private readonly lookup: LookupFunction;
  private readonly now: () => number;
  private address: string | undefined;
  private expiresAtMs = -Infinity;
  private retryAtMs = -Infinity;
  private consecutiveFailures = 0;
  private pending: Promise<string | undefined> | undefined;
  private closed = false;
  private readonly counts: HostResolverStats = { lookups: 0, failures: 0 };
  /** Why the last lookup failed; undefined once one succeeds. */
  lastError: Error | undefined;

  constructor(host: string, options: HostResolverOptions = {}) {
    this.host = host;
    this.ttlMs = options.ttlMs ?? 60000;
    this.minRetryMs = options.minRetryMs ?? 1000;
    this.maxRetryMs = Math.max(this.minRetryMs, options.maxRetryMs ?? 30000);
    this.lookup = options.lookup ?? defaultLookup;
    this.now = options.now ?? (() => Date.now());
    if (isIP(host) !== 0) {
      this.address = host;
      this.expiresAtMs = Infinity;
    }
  }

  /**
   * The address to use now, or undefined when none is known (not looked up yet, or never
   * resolved). Starts a lookup when one is due and none is in flight. Never throws, never waits.
   */
  current(): string | undefined {
    if (this.pending === undefined && !this.closed) {
      const now = this.now();
      if (now >= this.expiresAtMs && now >= this.retryAtMs) this.start();
    }
    return this.address;
  }

  /**
   * Resolves with the address once the lookup in flight settles (at once when none is): what a
   * first send waits for, so the metrics of a host that resolves are not lost to start-up.
   */
  settled(): Promise<string | undefined> {
    return this.pending ?? Promise.resolve(this.address);
  }

  /** True while a lookup is in flight. */
  get looking(): boolean {
    return this.pending !== undefined;
  }

  /** Counts since the resolver was made. */
  stats(): HostResolverStats {
    return { ...this.counts };
  }

  /** Starts no more lookups; one in flight is left to finish (it cannot be cancelled) and ignored. */
  close(): void {
    this.closed = true;
  }

  private start(): void {
    this.counts.lookups++;
    let settle!: (address: string | undefined) => void;
    // Set before the lookup runs: a lookup that calls back at once must find it to clear it.
    this.pending = new Promise<string | undefined>((resolve) => (settle = resolve));
    let done = false;
    const finish = (error: Error | null, address: unknown) => {
      if (done) return;
      done = true;
      this.pending = undefined;
      if (error === null && typeof address === 'string' && address !== '') this.succeeded(address);
      else this.failed(error ?? new Error(`lookup of ${this.host} gave no address`));
      settle(this.address);
    };
    try {
      this.lookup(this.host, (error, address) => finish(error, address));
    } catch (error) {
      finish(error instanceof Error ? error : new Error(String(error)), undefined);
    }
  }

  private succeeded(address: string): void {
    this.address = address;
    this.lastError = undefined;
    this.consecutiveFailures = 0;
    this.expiresAtMs = this.now() + this.ttlMs;
  }

  private failed(cause: Error): void {
    this.counts.failures++;
    // A fresh Error of this realm, with the system code (ENOTFOUND, EAI_AGAIN) kept for matching.
    const error = new Error(cause.message, { cause }) as NodeJS.ErrnoException;
    error.code = (cause as NodeJS.ErrnoException).code;
    this.lastError = error;
    const waitMs = Math.min(this.maxRetryMs, this.minRetryMs * 2 ** Math.min(this.consecutiveFailures, 30));
    this.consecutiveFailures++;
    this.retryAtMs = this.now() + waitMs;
  }
}

function defaultLookup(
  hostname: string,
  callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  dns.lookup(hostname, callback);
}
