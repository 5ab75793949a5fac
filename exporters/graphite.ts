import type { LookupFunction } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { codes } from '../lib/codes';
import { Diagnostics, errorMessage } from '../lib/diagnostics';
import { invalidOption } from '../lib/options';
import type { DiagnosticEvent, ExporterHost } from '../lib/types';
import { LEVELS } from '../lib/metrics';
import type { MetricLevel, MetricsExporter, MetricsUpdate } from '../lib/metrics/types';
import { metricsTree } from './host-stats-merge';
import { CarbonConnection, type CarbonConnectionStats } from './graphite-connection';
import { type GraphiteRule, GraphiteRules, SnapshotLines } from './graphite-lines';
import { sanitizePrefix, sanitizeSegment } from './statsd-names';
import { defaultMetricsSource, type MetricsSource } from './host-stats-source';

export type { GraphiteRule } from './graphite-lines';
export type { MetricsSource } from './host-stats-source';

/** Options for `GraphiteExporter`. Every field is optional. */
export interface GraphiteExporterOptions {
  /** Carbon's host. Default `'127.0.0.1'`. */
  host?: string;
  /** Carbon's plaintext (line) receiver port. Default 2003. */
  port?: number;
  /**
   * First segment(s) of every path; dots make tree levels, `''` means none. Default the host name
   * lower-cased, as one segment (`web1.example.com` becomes `web1_example_com`).
   */
  prefix?: string;
  /** How often the snapshot is pushed, in milliseconds. Default 60000 (match your carbon retention). */
  intervalMs?: number;
  /**
   * Where the snapshot comes from: a `MetricsRegistry` or anything with `snapshot()` (and
   * `collect()` when `level` is set). Default the default registry of `tomograph/metrics`.
   */
  registry?: Pick<MetricsSource, 'snapshot'> & Partial<Pick<MetricsSource, 'collect'>>;
  /** Only metrics at or above this level are pushed. Default: every metric the registry has enabled. */
  level?: MetricLevel;
  /**
   * Lines kept while carbon is down or slow, at most; past it the oldest are dropped and counted
   * (`stats().droppedLines`). Default 20000 (twenty pushes of a 1,000-leaf tree, about 2 MB).
   */
  maxBufferedLines?: number;
  /** A connection attempt that has not connected by then fails. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Wait before the first reconnection attempt after a failure, doubling per failure. Default 1000 ms. */
  minBackoffMs?: number;
  /** The longest wait between attempts. Default 60000 ms. */
  maxBackoffMs?: number;
  /** How long `shutdown()` and `flush()` wait for buffered lines to reach the socket. Default 2000 ms. */
  shutdownTimeoutMs?: number;
  /** A DNS lookup function, as `net.connect`'s `lookup` (a cache, a fixed address). Default Node's. */
  lookup?: LookupFunction;
  /** The clock for line timestamps, epoch milliseconds. Default `Date.now`. */
  now?: () => number;
  /**
   * Receives faults: `TOMOGRAPH_TRANSPORT_ERROR` once per outage, `TOMOGRAPH_GRAPHITE_LINES_DROPPED`
   * at most once per push. Default: the tracer's `onDiagnostic` when attached, else one
   * `process.emitWarning` per code.
   */
  onDiagnostic?: (event: DiagnosticEvent) => void;
}

/** Counts of what the exporter did since it was made. */
export interface GraphiteExporterStats extends CarbonConnectionStats {
  /** Pushes of the snapshot so far. */
  pushes: number;
  /** Leaves not sent because carbon would drop them: NaN or infinite values, over-long names. */
  unsendableLines: number;
  /** Leaves an `allow`/`forbid` rule left out at the last push. */
  forbiddenLines: number;
}

const KNOWN_OPTIONS = new Set([
  'host', 'port', 'prefix', 'intervalMs', 'registry', 'level', 'maxBufferedLines', 'connectTimeoutMs', 'minBackoffMs',
  'maxBackoffMs', 'shutdownTimeoutMs', 'lookup', 'now', 'onDiagnostic',
]);
const CHUNK_BYTES = 64 * 1024;

/**
 * Pushes every numeric leaf of the metrics snapshot to Graphite's carbon every `intervalMs`, as
 * plaintext lines `path value timestamp`, values exact (never rounded, never NaN). Built to
 * outlive carbon: one connection with reconnect and backoff, a bounded buffer that drops the
 * oldest lines, nothing thrown into the app, sockets and timers unref'd.
 *
 * It also is a `MetricsExporter`, so `configureMetrics({ exporters: [graphite] })` flushes and
 * shuts it down with the core; it still pushes the whole snapshot on its own interval (Graphite
 * stores values, not deltas) and ignores the per-interval updates.
 */
export class GraphiteExporter implements MetricsExporter {
  private readonly read: () => unknown;
  /** As `MetricsExporter`: the level this exporter pushes from, when set. */
  readonly level: MetricLevel | undefined;
  private readonly rules = new GraphiteRules();
  private readonly lines: SnapshotLines;
  private readonly connection: CarbonConnection;
  private readonly now: () => number;
  private readonly shutdownTimeoutMs: number;
  private readonly timer: NodeJS.Timeout;
  private diagnostics: Pick<Diagnostics, 'report'>;
  private readonly hasOwnListener: boolean;
  private droppedSinceReport = 0;
  private pushes = 0;
  /** The timestamp (whole seconds) of the last push: a second push in it would only repeat it. */
  private lastPushSec = -1;
  private unsendable = 0;
  private forbidden = 0;
  private closed = false;
  private shutdownPromise: Promise<void> | undefined;

  /** Throws a TypeError (code `TOMOGRAPH_ERR_INVALID_OPTION`) on a wrong option; never after. */
  constructor(options: GraphiteExporterOptions = {}) {
    if (options === null || typeof options !== 'object') throw invalidOption('GraphiteExporter takes an options object');
    for (const key of Object.keys(options)) {
      if (!KNOWN_OPTIONS.has(key)) throw invalidOption(`GraphiteExporter: unknown option "${key}"`);
    }
    const host = options.host ?? '127.0.0.1';
    if (typeof host !== 'string' || host === '') throw invalidOption('GraphiteExporter: host must be a non-empty string');
    const port = integer('port', options.port, 2003, 1, 65535);
    const prefix = options.prefix === undefined ? sanitizeSegment(osHostname().toLowerCase()) : options.prefix;
    if (typeof prefix !== 'string') throw invalidOption('GraphiteExporter: prefix must be a string');
    const intervalMs = integer('intervalMs', options.intervalMs, 60000, 1000);
    const maxBufferedLines = integer('maxBufferedLines', options.maxBufferedLines, 20000, 1);
    const connectTimeoutMs = integer('connectTimeoutMs', options.connectTimeoutMs, 5000, 1);
    const minBackoffMs = integer('minBackoffMs', options.minBackoffMs, 1000, 1);
    const maxBackoffMs = integer('maxBackoffMs', options.maxBackoffMs, 60000, minBackoffMs);
    this.shutdownTimeoutMs = integer('shutdownTimeoutMs', options.shutdownTimeoutMs, 2000, 0);
    for (const key of ['lookup', 'now', 'onDiagnostic'] as const) {
      if (options[key] !== undefined && typeof options[key] !== 'function') {
        throw invalidOption(`GraphiteExporter: ${key} must be a function`);
      }
    }
    const source = options.registry ?? defaultMetricsSource();
    if (source === null || typeof source !== 'object' || typeof source.snapshot !== 'function') {
      throw invalidOption('GraphiteExporter: registry must have a snapshot() method');
    }
    const level = options.level;
    if (level !== undefined) {
      if (!LEVELS.includes(level)) throw invalidOption(`GraphiteExporter: level must be one of ${LEVELS.join(', ')}`);
      if (typeof source.collect !== 'function') throw invalidOption('GraphiteExporter: level needs a registry with collect()');
      const collectFrom = source.collect.bind(source);
      this.read = () => metricsTree(collectFrom({ level, states: false }));
    } else {
      this.read = () => source.snapshot();
    }
    this.level = level;
    this.now = options.now ?? Date.now;
    this.diagnostics = new Diagnostics(options.onDiagnostic);
    this.hasOwnListener = options.onDiagnostic !== undefined;
    const base = sanitizePrefix(prefix);
    this.lines = new SnapshotLines(base === '' ? '' : base + '.', this.rules);
    this.connection = new CarbonConnection({
      host, port, maxBufferedLines, connectTimeoutMs, minBackoffMs, maxBackoffMs,
      chunkBytes: CHUNK_BYTES,
      writeTimeoutMs: Math.max(connectTimeoutMs, 10000),
      lookup: options.lookup,
      onFault: (kind, detail) => this.onFault(kind, detail, host, port),
    });
    this.timer = setInterval(() => this.push(), intervalMs);
    this.timer.unref();
  }

  /**
   * Sends paths matching `rule` (a glob: `*` within a segment, `**` across segments; or a function
   * of the path and value) even if an older rule forbade them. The path is the one carbon sees,
   * without the prefix. Returns the exporter, for chaining.
   */
  allow(rule: GraphiteRule): this {
    this.rules.add(true, checkRule(rule, 'allow'));
    return this;
  }

  /** Leaves out paths matching `rule` unless a newer `allow` matches them. Returns the exporter. */
  forbid(rule: GraphiteRule): this {
    this.rules.add(false, checkRule(rule, 'forbid'));
    return this;
  }

  /** Reports through the tracer's `onDiagnostic`, unless this exporter was given its own. */
  attach(host: ExporterHost): void {
    if (!this.hasOwnListener) this.diagnostics = host;
  }

  /** Graphite stores values, not deltas: the snapshot is pushed on the exporter's own interval. */
  exportMetrics(_update: MetricsUpdate): void {}

  /** Takes the snapshot now and queues its lines for carbon. Never throws. */
  push(): void {
    if (this.closed) return;
    try {
      const out: string[] = [];
      const sec = Math.floor(this.now() / 1000);
      const skipped = this.lines.render(this.read(), sec, out);
      this.lastPushSec = sec;
      this.pushes++;
      this.forbidden = skipped.forbidden;
      if (this.rules.failure !== undefined) {
        this.diagnostics.report(codes.INTEGRATION_ERROR, `tomograph: a Graphite rule threw: ${errorMessage(this.rules.failure)}`);
        this.rules.failure = undefined;
      }
      const unsendable = skipped.nonFinite + skipped.tooLong;
      if (unsendable > 0) {
        this.unsendable += unsendable;
        this.diagnostics.report(codes.GRAPHITE_LINES_DROPPED,
          `tomograph: ${unsendable} Graphite value(s) not sent: carbon drops NaN, infinities and names over its limits (e.g. ${skipped.example})`,
          { nonFinite: skipped.nonFinite, tooLong: skipped.tooLong });
      }
      this.connection.send(out);
      this.reportDropped();
    } catch (error) {
      this.diagnostics.report(codes.INTEGRATION_ERROR, `tomograph: Graphite push failed: ${errorMessage(error)}`);
    }
  }

  /** Pushes now and resolves when the lines are with the socket (or after `shutdownTimeoutMs`). */
  flush(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.push();
    return this.connection.drain(Date.now() + this.shutdownTimeoutMs);
  }

  /**
   * Stops the interval, pushes a last snapshot (unless one was pushed in this same second, as by
   * a `flush()` just before), gives buffered lines up to `shutdownTimeoutMs` to reach carbon,
   * then closes the connection. Safe to call twice; never rejects.
   */
  shutdown(): Promise<void> {
    if (this.shutdownPromise === undefined) {
      clearInterval(this.timer);
      let last: Promise<void>;
      if (this.closed) last = Promise.resolve();
      else {
        if (Math.floor(this.now() / 1000) !== this.lastPushSec) this.push();
        last = this.connection.drain(Date.now() + this.shutdownTimeoutMs);
      }
      this.shutdownPromise = last.then(() => {
        this.closed = true;
        const left = this.connection.stats().bufferedLines;
        if (left > 0) {
          this.diagnostics.report(codes.GRAPHITE_LINES_DROPPED,
            `tomograph: ${left} Graphite line(s) still buffered at shutdown were dropped (carbon unreachable)`, { dropped: left });
        }
        this.connection.close();
      });
    }
    return this.shutdownPromise;
  }

  /** What the exporter has done so far. */
  stats(): GraphiteExporterStats {
    return { ...this.connection.stats(), pushes: this.pushes, unsendableLines: this.unsendable, forbiddenLines: this.forbidden };
  }

  private onFault(kind: 'connect' | 'lost' | 'dropped', detail: unknown, host: string, port: number): void {
    if (kind === 'dropped') {
      this.droppedSinceReport += detail as number;
      return;
    }
    const what = kind === 'connect' ? 'cannot connect to' : 'lost the connection to';
    this.diagnostics.report(codes.TRANSPORT_ERROR,
      `tomograph: Graphite ${what} carbon at ${host}:${port}: ${errorMessage(detail)}; lines are buffered and sent on reconnection`,
      { host, port });
  }

  private reportDropped(): void {
    const dropped = this.droppedSinceReport;
    if (dropped === 0) return;
    this.droppedSinceReport = 0;
    this.diagnostics.report(codes.GRAPHITE_LINES_DROPPED,
      `tomograph: Graphite buffer full, ${dropped} oldest line(s) dropped while carbon was unreachable`, { dropped });
  }
}

function checkRule(rule: GraphiteRule, method: string): GraphiteRule {
  if (typeof rule !== 'string' && typeof rule !== 'function') {
    throw invalidOption(`GraphiteExporter.${method}() takes a glob string or a function (path, value) => boolean`);
  }
  return rule;
}

function integer(name: string, value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(`GraphiteExporter: ${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}
