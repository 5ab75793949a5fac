import { hostname as osHostname } from 'node:os';
import { type ClientOptions, StatsD, type Tags } from 'hot-shots';
import { defaultTracer } from '../lib/api';
import { codes } from '../lib/codes';
import { Diagnostics, errorMessage } from '../lib/diagnostics';
import { APP_SERVICE_NAME } from '../lib/env-exporters';
import { describeValue, invalidOption } from '../lib/options';
import type { DiagnosticEvent, Exporter, ExporterHost, FinishedSpan } from '../lib/types';
import type { MetricLevel, MetricsExporter, MetricsUpdate } from '../lib/metrics/types';
import { HostResolver, type LookupFunction } from './host-resolver';
import { LocalRootHold } from './statsd-hold';
import {
  METRICS_OPTIONS, type MetricsWriting, resolveMetricsOptions, type StatsdMetricsOptions, StatsdMetricsWriter, type StatsdSendClient,
} from './statsd-metrics';
import { MetricNames, sanitizePrefix } from './statsd-names';

export { sanitizePrefix, sanitizeSegment } from './statsd-names';
export type { LookupFunction } from './host-resolver';

/** The hot-shots client type, for the `client` option. */
export type StatsdClient = StatsD;

/** Options for `StatsdExporter`. Every field is optional. */
export interface StatsdExporterOptions extends StatsdMetricsOptions {
  /** The StatsD server. Default: `TOMOGRAPH_STATSD_HOST`, else `127.0.0.1`. */
  host?: string;
  /** The StatsD port. Default: `TOMOGRAPH_STATSD_PORT`, else 8125. */
  port?: number;
  /** Transport. Default `'udp'`. `'uds'` (Unix datagram socket) needs the `unix-dgram` package. */
  protocol?: 'udp' | 'tcp' | 'uds';
  /** With `protocol: 'uds'`: the socket path. Default hot-shots' (`/var/run/datadog/dsd.socket`). */
  path?: string;
  /**
   * UDP and TCP: `host` is looked up off the send path, one lookup at a time, and its address
   * used for a minute (a failed lookup is retried after 1 s, doubling up to 30 s; metrics sent
   * meanwhile are dropped and counted in `stats().metricsDropped`). False: a new lookup at each
   * export call instead of once a minute (still never more than one at a time). Default true.
   */
  cacheDns?: boolean;
  /**
   * UDP and TCP: how `host` is resolved, with `dns.lookup`'s signature `(hostname, callback)`.
   * Default `dns.lookup`.
   */
  lookup?: LookupFunction;
  /** First segment(s) of every metric name; dots make tree levels, `''` means none. Default `tomograph`. */
  prefix?: string;
  /** The `<host>` segment of the hierarchical names. Default `os.hostname()`. */
  hostname?: string;
  /**
   * True: DogStatsD/Telegraf style, timer `<prefix>.span` and counter `<prefix>.note` with tags
   * `service`, `span`, `status` (and `note`), instead of the hierarchical names. Default false.
   */
  tags?: boolean;
  /** With `tags: true`: Telegraf's tag syntax instead of DogStatsD's. Default false. */
  telegraf?: boolean;
  /** Tags added to every metric: `{ env: 'prod' }` or `['env:prod']`. Default none. */
  globalTags?: Tags;
  /**
   * Bytes of metrics per packet; each export sends what is left at its end, so nothing waits
   * for a timer. 0 sends one packet per metric. Default 1432 for UDP (fits a 1500-byte MTU),
   * 8192 for TCP and UDS.
   */
  maxBufferSize?: number;
  /** Cached metric names (tree places plus notes) at most; past it the cache starts over. Default 10000. */
  maxNames?: number;
  /**
   * TCP and UDS: after a transport error, the exporter replaces its client at the next export,
   * at most once per this many milliseconds (a restarted daemon is picked up). Default 1000.
   */
  reconnectIntervalMs?: number;
  /** Further hot-shots options, passed through (the fields above win; `errorHandler` is the exporter's). */
  clientOptions?: ClientOptions;
  /**
   * Your own hot-shots client, instead of one the exporter makes. It is flushed, never closed,
   * by `shutdown()`; its own `errorHandler` sees errors of its buffered sends. Excludes the
   * transport options above.
   */
  client?: StatsdClient;
  /**
   * Receives transport faults (code `TOMOGRAPH_TRANSPORT_ERROR`), at most one a second with a
   * count of those suppressed. Default: one `process.emitWarning` per code for the process.
   */
  onDiagnostic?: (event: DiagnosticEvent) => void;
}

interface Resolved {
  host: string;
  port: number;
  protocol: 'udp' | 'tcp' | 'uds';
  path: string | undefined;
  cacheDns: boolean;
  lookup: LookupFunction | undefined;
  telegraf: boolean;
  globalTags: Tags | undefined;
  maxBufferSize: number;
  reconnectIntervalMs: number;
  clientOptions: ClientOptions;
}

const KNOWN_OPTIONS = new Set([
  'host', 'port', 'protocol', 'path', 'cacheDns', 'lookup', 'prefix', 'hostname', 'tags', 'telegraf', 'globalTags',
  'maxBufferSize', 'maxNames', 'reconnectIntervalMs', 'clientOptions', 'client', 'onDiagnostic', ...METRICS_OPTIONS,
]);
/** Options that configure a client the exporter makes, so they make no sense beside `client`. */
const CLIENT_OPTIONS = [
  'host', 'port', 'protocol', 'path', 'cacheDns', 'lookup', 'telegraf', 'globalTags', 'maxBufferSize', 'reconnectIntervalMs',
  'clientOptions',
] as const;
/** One diagnostic a second at most: a dead daemon fails every packet. */
const REPORT_INTERVAL_MS = 1000;
/** The longest a metrics update holds the event loop at once (bench/worker-metrics.js: 2,600 series took ~20 ms in one go). */
const METRICS_SLICE_MS = 2;
/** How long `shutdown()` waits for hot-shots to close its socket. */
const CLOSE_TIMEOUT_MS = 2000;
/** How long a looked-up StatsD address is used (`cacheDns`, hot-shots' own default TTL). */
const DNS_TTL_MS = 60000;
/** Spans that wait for their local root to end (hierarchical names), at most, and how long. */
const MAX_HELD_SPANS = 10000;
const MAX_HOLD_MS = 60000;
/** UDP errors after which a new socket helps (DNS or size errors would recur on any socket). */
const DEAD_UDP_SOCKET = new Set(['ERR_SOCKET_DGRAM_NOT_RUNNING', 'ERR_SOCKET_CLOSED', 'ERR_SOCKET_DESTROYED']);

/** Counts since the exporter was made. */
export interface StatsdExporterStats {
  /** Metrics (timers and note counters) dropped because `host` had no address (lookup failing or not done). */
  metricsDropped: number;
  /** Lookups of `host` started. */
  lookups: number;
  /** Lookups of `host` that failed. */
  lookupFailures: number;
}

/**
 * Sends each finished span to StatsD through hot-shots: a timer in milliseconds per span and a
 * counter of 1 per note, named after the span's place in its local tree (carpy's hierarchical
 * model, see `MetricNames`) or, with `tags: true`, DogStatsD/Telegraf style. Transport faults
 * never reach the app: they go to `onDiagnostic`, and a TCP or UDS client that broke is replaced.
 */
export class StatsdExporter implements Exporter, MetricsExporter {
  /** Metrics below this level are left out of this exporter's updates (`level` option). */
  readonly level: MetricLevel | undefined;
  private readonly metrics: StatsdMetricsWriter;
  private readonly service: string | undefined;
  private readonly options: Resolved | undefined;
  private readonly names: MetricNames;
  private diagnostics: Pick<Diagnostics, 'report'>;
  private readonly hasOwnListener: boolean;
  private readonly ownsClient: boolean;
  /** UDP and TCP: the host's address, looked up off the send path (hot-shots gets the address). */
  private readonly resolver: HostResolver | undefined;
  /** The address the current client sends to. */
  private connectedAddress: string | undefined;
  private metricsDropped = 0;
  /** In the export worker: the app's default serviceName, set with each update (see `APP_SERVICE_NAME`). */
  [APP_SERVICE_NAME]: string | undefined = undefined;
  private waitingForLookup = false;
  private client: StatsdClient | undefined;
  /** Callback for every send of the current client; errors of older clients are ignored. */
  private onSent: (error?: Error | null) => void;
  private generation = 0;
  private createdAtMs = 0;
  private broken = false;
  private closed = false;
  /** While `shutdown()` waits for the socket to close: an error then means it never will. */
  private stopWaitingForClose: (() => void) | undefined;
  private lastReportMs = -Infinity;
  private suppressed = 0;
  private shutdownPromise: Promise<void> | undefined;
  /** `tags: true`: DogStatsD/Telegraf names, where the tracer's resource goes out as global tags. */
  private readonly tagged: boolean;
  /** The tracer's resource as `key:value` global tags (tags mode only), from `attach`. */
  private resourceTags: string[] | undefined;
  /** Hierarchical names: spans wait here until their local root's name is final. */
  private readonly hold: LocalRootHold | undefined;

  /** Throws a TypeError (code `TOMOGRAPH_ERR_INVALID_OPTION`) on a wrong option; never after. */
  constructor(options: StatsdExporterOptions = {}) {
    if (options === null || typeof options !== 'object') throw invalidOption('StatsdExporter takes an options object');
    for (const key of Object.keys(options)) {
      if (!KNOWN_OPTIONS.has(key)) throw invalidOption(`StatsdExporter: unknown option "${key}"`);
    }
    if (options.onDiagnostic !== undefined && typeof options.onDiagnostic !== 'function') {
      throw invalidOption('StatsdExporter: onDiagnostic must be a function');
    }
    const prefix = options.prefix ?? 'tomograph';
    if (typeof prefix !== 'string') throw invalidOption('StatsdExporter: prefix must be a string');
    const hostname = options.hostname ?? defaultHostname();
    if (typeof hostname !== 'string' || hostname.trim() === '') {
      throw invalidOption('StatsdExporter: hostname must be a non-empty string');
    }
    const tags = options.tags ?? false;
    if (typeof tags !== 'boolean') throw invalidOption('StatsdExporter: tags must be a boolean');
    const maxNames = integer('maxNames', options.maxNames, 10000, 1);
    const metrics = resolveMetricsOptions(options);
    this.level = metrics.level;
    this.service = metrics.service;
    this.metrics = new StatsdMetricsWriter(sanitizePrefix(prefix), tags, metrics.maxValuesPerUpdate, maxNames);

    this.diagnostics = new Diagnostics(options.onDiagnostic);
    this.hasOwnListener = options.onDiagnostic !== undefined;
    this.names = new MetricNames({ prefix: sanitizePrefix(prefix), hostname, tags, maxNames });
    this.tagged = tags;
    this.resourceTags = undefined;
    this.hold = tags ? undefined : new LocalRootHold(MAX_HELD_SPANS, MAX_HOLD_MS);
    this.onSent = this.sendCallback(0);

    if (options.client !== undefined) {
      const client = options.client as unknown as Record<string, unknown>;
      if (client === null || typeof client !== 'object' || typeof client.timing !== 'function' ||
        typeof client.increment !== 'function' || typeof client.flush !== 'function') {
        throw invalidOption('StatsdExporter: client must be a hot-shots StatsD client');
      }
      for (const key of CLIENT_OPTIONS) {
        if (options[key] !== undefined) throw invalidOption(`StatsdExporter: ${key} cannot be combined with client`);
      }
      this.ownsClient = false;
      this.client = options.client;
      this.options = undefined;
      this.resolver = undefined;
    } else {
      this.ownsClient = true;
      const resolved = resolveTransport(options);
      this.options = resolved;
      this.resolver = resolved.protocol === 'uds'
        ? undefined
        : new HostResolver(resolved.host, { ttlMs: resolved.cacheDns ? DNS_TTL_MS : 0, lookup: resolved.lookup });
      // Looked up now, so the address is known (or known to be missing) by the first export.
      if (this.resolver === undefined || this.resolver.current() !== undefined) this.connect();
    }
  }

  /**
   * Reports through the tracer's `onDiagnostic`, unless this exporter was given its own. With
   * `tags: true`, the tracer's `resource` becomes global tags on every metric of a client the
   * exporter makes (hierarchical names have no place for tags: a plain StatsD daemon rejects them).
   */
  attach(tracer: ExporterHost): void {
    if (!this.hasOwnListener) this.diagnostics = tracer;
    const resource = tracer.resource;
    if (!this.tagged || !this.ownsClient || resource === undefined || this.closed) return;
    const keys = Object.keys(resource);
    if (keys.length === 0) return;
    this.resourceTags = keys.map((key) => `${key}:${String(resource[key])}`);
    // Global tags are fixed when a hot-shots client is made: make the client again with them.
    this.reconnect();
  }

  /**
   * Sends a metrics update (from `configureMetrics({ exporters })`): counters and meters `|c`,
   * gauges `|g`, histogram values `|ms` or `|h`, named `<prefix>.<service>.<path>` (see
   * docs/statsd-metrics.md), then hands the last packet to the socket.
   */
  exportMetrics(update: MetricsUpdate): void | Promise<void> {
    if (this.closed) return;
    if (this.broken && this.ownsClient && Date.now() - this.createdAtMs >= (this.options as Resolved).reconnectIntervalMs) {
      this.reconnect();
    }
    // Metrics wait for no lookup: without an address they are dropped and counted, as spans are.
    const resolver = this.resolver;
    if (resolver !== undefined) {
      const address = resolver.current();
      if (address === undefined) {
        this.metricsDropped += metricsUpdateSize(update);
        return;
      }
      if (address !== this.connectedAddress) this.reconnect();
    }
    const client = this.client;
    if (client === undefined) return;
    const service = this.service ?? this[APP_SERVICE_NAME] ?? defaultServiceName();
    // hot-shots' typings leave out send(), its raw (never sampling) entry point.
    const sender = client as unknown as StatsdSendClient;
    if (typeof sender.send !== 'function') {
      this.diagnostics.report(codes.EXPORT_FAILED, 'tomograph: StatsD metrics: the StatsD client has no send(): not a hot-shots client');
      return;
    }
    const writing = this.metrics.start(sender, update, service, this.onSent);
    if (this.writeSlice(writing, client)) return;
    // A large update (thousands of series) goes out in slices of METRICS_SLICE_MS, one per turn
    // of the event loop, so the app is never held for the whole of it.
    return new Promise<void>((resolve) => {
      const next = (): void => {
        if (this.closed || this.writeSlice(writing, client)) resolve();
        else setImmediate(next);
      };
      setImmediate(next);
    });
  }

  /** Sends one slice of an update and the packets it filled; true when the update is done (or failed). */
  private writeSlice(writing: MetricsWriting, client: StatsdClient): boolean {
    try {
      const done = writing.run(METRICS_SLICE_MS);
      client.flush(this.onSent);
      if (done && writing.result.dropped > 0) {
        this.diagnostics.report(
          codes.EXPORT_FAILED, `tomograph: StatsD metrics: ${writing.result.dropped} histograms left out of an update (maxValuesPerUpdate reached)`, writing.result,
        );
      }
      return done;
    } catch (error) {
      this.diagnostics.report(codes.EXPORT_FAILED, `tomograph: StatsD metrics: ${errorMessage(error)}`, { error });
      return true;
    }
  }

  /**
   * Sends a timer per span and a counter per note, then hands the last packet to the socket.
   * Returns a promise only while the host's first lookup is in flight (then sends, or drops and
   * counts, once it settles); a host without an address drops the spans' metrics at once.
   */
  export(spans: readonly FinishedSpan[]): void | Promise<void> {
    if (this.closed) return;
    // A name holds the local root's, which may still change (a server span learns its route
    // while the request runs): spans whose root is still open wait for it (statsd-hold.ts).
    const ready = this.hold === undefined ? spans : this.hold.take(spans);
    if (ready.length === 0) return;
    const resolver = this.resolver;
    if (resolver !== undefined) {
      const address = resolver.current();
      if (address === undefined) {
        // One batch at most waits for the lookup: a lookup that hangs must not pile batches up.
        if (resolver.looking && !this.waitingForLookup) {
          this.waitingForLookup = true;
          return resolver.settled().then(() => {
            this.waitingForLookup = false;
            this.sendOrDrop(ready);
          });
        }
        return this.dropUnresolved(ready);
      }
      if (address !== this.connectedAddress) {
        this.reconnect();
      }
    }
    if (this.broken && this.ownsClient && Date.now() - this.createdAtMs >= (this.options as Resolved).reconnectIntervalMs) {
      this.reconnect();
    }
    this.send(ready);
  }

  /** Counts since the exporter was made. */
  stats(): StatsdExporterStats {
    const lookups = this.resolver?.stats();
    return { metricsDropped: this.metricsDropped, lookups: lookups?.lookups ?? 0, lookupFailures: lookups?.failures ?? 0 };
  }

  private sendOrDrop(spans: readonly FinishedSpan[]): void {
    if (this.closed) {
      this.metricsDropped += metricCount(spans);
      return;
    }
    const address = (this.resolver as HostResolver).current();
    if (address === undefined) return this.dropUnresolved(spans);
    if (address !== this.connectedAddress) this.reconnect();
    this.send(spans);
  }

  /** No address for the host: the metrics are dropped, counted, and the lookup's fault reported. */
  private dropUnresolved(spans: readonly FinishedSpan[]): void {
    this.metricsDropped += metricCount(spans);
    const resolver = this.resolver as HostResolver;
    this.reportFault(resolver.lastError ?? new Error(`no address for ${resolver.host} yet`));
  }

  private send(spans: readonly FinishedSpan[]): void {
    const client = this.client;
    if (spans.length === 0) return;
    if (client === undefined) {
      this.metricsDropped += metricCount(spans);
      return;
    }
    const names = this.names;
    const onSent = this.onSent;
    for (let i = 0; i < spans.length; i++) {
      const span = spans[i];
      const metrics = names.forSpan(span);
      if (span.error === undefined) client.timing(metrics.okName, span.duration / 1000, undefined, metrics.okTags, onSent);
      else client.timing(metrics.errorName, span.duration / 1000, undefined, metrics.errorTags, onSent);
      const notes = span.notes;
      for (let j = 0; j < notes.length; j++) {
        const note = names.forNote(metrics, notes[j].value);
        client.increment(note.name, 1, undefined, note.tags, onSent);
      }
    }
    // Sends the partly filled last packet now rather than on hot-shots' interval timer.
    client.flush(onSent);
  }

  /** Resolves when every metric so far has been handed to the socket. Never rejects. */
  flush(): Promise<void> {
    const client = this.client;
    if (client === undefined || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const onSent = this.onSent;
      try {
        client.flush((error) => {
          onSent(error);
          resolve();
        });
      } catch (error) {
        onSent(error as Error);
        resolve();
      }
    });
  }

  /**
   * Flushes, then closes the socket of a client the exporter made (a client you passed in is
   * only flushed), so the process can exit. Safe to call twice; later exports are dropped.
   */
  shutdown(): Promise<void> {
    if (this.shutdownPromise === undefined) {
      this.resolver?.close();
      // No root ends after shutdown: what still waits goes under the names it has now.
      if (this.hold !== undefined && !this.closed) this.send(this.hold.drain());
      this.shutdownPromise = this.flush().then(() => {
        this.closed = true;
        const client = this.client;
        if (!this.ownsClient || client === undefined) return;
        this.client = undefined;
        // A dead connection never reports its close, so a known or new fault ends the wait.
        if (this.broken) return void closeClient(client, 0);
        return new Promise<void>((resolve) => {
          this.stopWaitingForClose = resolve;
          void closeClient(client, CLOSE_TIMEOUT_MS).then(resolve);
        });
      });
    }
    return this.shutdownPromise;
  }

  private connect(): void {
    const options = this.options as Resolved;
    const generation = ++this.generation;
    const handler = this.sendCallback(generation);
    this.onSent = handler;
    this.createdAtMs = Date.now();
    this.broken = false;
    // hot-shots gets the looked-up address: it then never calls dns.lookup itself (its own
    // cache keeps only successes, so a name that does not resolve cost a lookup per packet).
    const address = this.resolver?.current();
    this.connectedAddress = address;
    if (this.resolver !== undefined && address === undefined) {
      this.client = undefined;
      return;
    }
    try {
      this.client = new StatsD({
        ...options.clientOptions,
        host: address ?? options.host,
        port: options.port,
        protocol: options.protocol,
        ...(options.path === undefined ? {} : { path: options.path }),
        cacheDns: false,
        telegraf: options.telegraf,
        ...globalTagsWith(options.globalTags, this.resourceTags),
        maxBufferSize: options.maxBufferSize,
        // The exporter sends its own prefix as part of cached names; hot-shots must add none.
        prefix: '',
        suffix: '',
        errorHandler: handler,
      });
    } catch (error) {
      this.client = undefined;
      handler(error as Error);
    }
  }

  private reconnect(): void {
    const old = this.client;
    this.client = undefined;
    if (old !== undefined) void closeClient(old, 0);
    this.connect();
  }

  /**
   * One callback per client, made once: hot-shots calls it for every send (and as its
   * `errorHandler`), so the export loop allocates nothing for it.
   */
  private sendCallback(generation: number): (error?: Error | null) => void {
    return (error) => {
      if (error === undefined || error === null || generation !== this.generation) return;
      if (this.closed) this.stopWaitingForClose?.();
      else this.transportError(error);
    };
  }

  private transportError(error: Error): void {
    const options = this.options;
    const code = (error as NodeJS.ErrnoException).code;
    if (this.ownsClient && options !== undefined &&
      (options.protocol !== 'udp' || (code !== undefined && DEAD_UDP_SOCKET.has(code)))) {
      this.broken = true;
    }
    this.reportFault(error);
  }

  /** Reports a fault, at most once a second with a count of those suppressed since. */
  private reportFault(error: Error): void {
    const options = this.options;
    const code = (error as NodeJS.ErrnoException).code;
    const now = Date.now();
    if (now - this.lastReportMs < REPORT_INTERVAL_MS) {
      this.suppressed++;
      return;
    }
    const suppressed = this.suppressed;
    this.lastReportMs = now;
    this.suppressed = 0;
    const where = options === undefined
      ? 'the StatsD client'
      : options.protocol === 'uds' ? `StatsD at ${options.path ?? 'the default socket'}` : `StatsD at ${options.host}:${options.port} (${options.protocol})`;
    this.diagnostics.report(codes.TRANSPORT_ERROR, `tomograph: sending to ${where} failed: ${errorMessage(error)}`, {
      error,
      code,
      suppressed,
    });
  }
}

/** Applies defaults and the environment to the transport options; throws on a wrong one. */
function resolveTransport(options: StatsdExporterOptions): Resolved {
  const host = options.host ?? nonEmpty(process.env.TOMOGRAPH_STATSD_HOST) ?? '127.0.0.1';
  if (typeof host !== 'string' || host.trim() === '') throw invalidOption('StatsdExporter: host must be a non-empty string');
  const envPort = nonEmpty(process.env.TOMOGRAPH_STATSD_PORT);
  const port = options.port ?? Number(envPort ?? 8125);
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    const source = options.port === undefined ? `TOMOGRAPH_STATSD_PORT (${JSON.stringify(envPort)})` : 'port';
    throw invalidOption(`StatsdExporter: ${source} must be an integer port from 1 to 65535, not ${options.port === undefined ? String(envPort) : describeValue(options.port)}`);
  }
  const protocol = options.protocol ?? 'udp';
  if (protocol !== 'udp' && protocol !== 'tcp' && protocol !== 'uds') {
    throw invalidOption(`StatsdExporter: protocol must be 'udp', 'tcp' or 'uds', not ${JSON.stringify(protocol)}`);
  }
  if (options.path !== undefined && (typeof options.path !== 'string' || options.path === '')) {
    throw invalidOption('StatsdExporter: path must be a non-empty string');
  }
  const cacheDns = options.cacheDns ?? true;
  if (typeof cacheDns !== 'boolean') throw invalidOption('StatsdExporter: cacheDns must be a boolean');
  if (options.lookup !== undefined && typeof options.lookup !== 'function') {
    throw invalidOption('StatsdExporter: lookup must be a function like dns.lookup');
  }
  const telegraf = options.telegraf ?? false;
  if (typeof telegraf !== 'boolean') throw invalidOption('StatsdExporter: telegraf must be a boolean');
  const globalTags = options.globalTags;
  if (globalTags !== undefined) {
    const valid = Array.isArray(globalTags)
      ? globalTags.every((tag) => typeof tag === 'string')
      : globalTags !== null && typeof globalTags === 'object' &&
        Object.values(globalTags).every((value) => typeof value === 'string');
    if (!valid) throw invalidOption('StatsdExporter: globalTags must be an array of strings or an object of strings');
  }
  const maxBufferSize = integer('maxBufferSize', options.maxBufferSize, protocol === 'udp' ? 1432 : 8192, 0);
  const reconnectIntervalMs = integer('reconnectIntervalMs', options.reconnectIntervalMs, 1000, 0);
  const clientOptions = options.clientOptions ?? {};
  if (clientOptions === null || typeof clientOptions !== 'object') {
    throw invalidOption('StatsdExporter: clientOptions must be an object of hot-shots options');
  }
  if (clientOptions.errorHandler !== undefined) {
    throw invalidOption('StatsdExporter: clientOptions.errorHandler is the exporter\'s own; use onDiagnostic');
  }
  return {
    host, port, protocol, path: options.path, cacheDns, lookup: options.lookup, telegraf, globalTags, maxBufferSize, reconnectIntervalMs,
    clientOptions,
  };
}

/** The user's global tags with the resource's in front (the user's win in hot-shots' merge). */
function globalTagsWith(globalTags: Tags | undefined, resourceTags: string[] | undefined): { globalTags?: Tags } {
  if (resourceTags === undefined) return globalTags === undefined ? {} : { globalTags };
  if (globalTags === undefined) return { globalTags: resourceTags };
  if (Array.isArray(globalTags)) return { globalTags: [...resourceTags, ...globalTags] };
  const merged: Record<string, string> = {};
  for (const tag of resourceTags) {
    const colon = tag.indexOf(':');
    merged[tag.slice(0, colon)] = tag.slice(colon + 1);
  }
  return { globalTags: { ...merged, ...globalTags } };
}

/** The metrics a batch makes: a timer per span and a counter per note. */
function metricCount(spans: readonly FinishedSpan[]): number {
  let n = spans.length;
  for (let i = 0; i < spans.length; i++) n += spans[i].notes.length;
  return n;
}

/** How many lines an update would have sent (each histogram value one line). */
function metricsUpdateSize(update: MetricsUpdate): number {
  let n = update.counters.length + update.gauges.length + update.meters.length;
  for (let i = 0; i < update.histograms.length; i++) n += update.histograms[i].values.length;
  return n;
}

function integer(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw invalidOption(`StatsdExporter: ${name} must be an integer >= ${min}, not ${describeValue(value)}`);
  }
  return value;
}

/** The default tracer's `serviceName`, read at each update (configure may come after the exporter). */
function defaultServiceName(): string {
  const name = defaultTracer.service;
  return typeof name === 'string' && name !== '' ? name : 'unknown_service';
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function defaultHostname(): string {
  try {
    return osHostname() || 'unknown_host';
  } catch {
    return 'unknown_host';
  }
}

/** Closes a hot-shots client; resolves when its socket is closed, or after `waitMs` at most. */
function closeClient(client: StatsdClient, waitMs: number): Promise<void> {
  return new Promise((resolve) => {
    // A socket that had already died never emits 'close' again, so hot-shots may not call back.
    const timer = setTimeout(resolve, waitMs);
    timer.unref();
    try {
      client.close(() => {
        clearTimeout(timer);
        resolve();
      });
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}
