import { chmodSync, unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { codes } from '../lib/codes';
import { Diagnostics, errorMessage } from '../lib/diagnostics';
import { invalidOption } from '../lib/options';
import type { DiagnosticEvent } from '../lib/types';
import { compileGlob } from './graphite-lines';
import { defaultStatsDir, resolveServiceName, retireProcess, secureDir } from './host-stats-files';
import type { GaugeMerge, GaugeMergeRules, ProcessStats } from './host-stats-merge';
import { defaultMetricsSource, type MetricsSource } from './host-stats-source';

/** Options for `exposeStats`. Every field is optional. */
export interface ExposeStatsOptions {
  /** The service's directory. Default `<os.tmpdir()>/tomograph-stats/<serviceName>`. */
  dir?: string;
  /**
   * Names the default directory. Default `TOMOGRAPH_SERVICE_NAME`, else the `serviceName` given
   * to `configure()`, else the main script's file name.
   */
  serviceName?: string;
  /** The registry to serve. Default the default registry of `tomograph/metrics`. */
  registry?: MetricsSource;
  /**
   * How the host merges this service's gauges, by metric name or glob (`*` within a segment,
   * `**` across): `'sum'` (the default for every gauge), `'max'`, `'min'` or `'per-process'`.
   * The newest (last) matching entry wins. Example: `{ 'pool.max': 'max', 'heap.*': 'per-process' }`.
   */
  gauges?: GaugeMergeRules;
  /**
   * On a normal exit (the `exit` event, `close()`), fold this process's counter, meter and
   * histogram totals into the directory's `retired.json`, so host totals never drop when a
   * process restarts. Default true.
   */
  keepTotalsOnExit?: boolean;
  /** Receives faults (`TOMOGRAPH_HOST_STATS_ERROR`). Default one `process.emitWarning` per code. */
  onDiagnostic?: (event: DiagnosticEvent) => void;
}

/** A process's exposed stats, as `exposeStats` returns it. */
export interface StatsExposure {
  /** The socket's path, `<dir>/<pid>.sock`; undefined when exposing failed (reported). */
  readonly path: string | undefined;
  readonly dir: string;
  /** Resolves true once the socket accepts readers, false if exposing failed (reported). Never rejects. */
  readonly ready: Promise<boolean>;
  /** Stops serving, keeps the totals (unless disabled) and removes the socket. Safe to call twice. */
  close(): Promise<void>;
}

const KNOWN = new Set(['dir', 'serviceName', 'registry', 'gauges', 'keepTotalsOnExit', 'onDiagnostic']);
const MERGES = new Set<GaugeMerge>(['sum', 'max', 'min', 'per-process']);
/** A reader that takes longer than this to read our answer is dropped. */
const ANSWER_TIMEOUT_MS = 5000;
/** Readers served at once; more are refused (each reader holds at most one document in memory). */
const MAX_READERS = 64;

const exposures = new Map<string, StatsExposure>();

/**
 * Serves this process's metrics (`collect()`, with each histogram's mergeable state) on the Unix
 * socket `<dir>/<pid>.sock`, for `collectHostStats`, `hostStatsHandler` and `npx tomograph-stats`.
 * The directory is made 0700 and must belong to this user; the socket is 0600. Each reader
 * connects and receives one JSON document; nothing is ever read from it, so a hung or hostile
 * reader costs one bounded write. The socket is removed at exit (the `exit` event) and the
 * server never keeps the process alive. Calling it again for the same directory returns the
 * same exposure.
 *
 * Throws a TypeError (code `TOMOGRAPH_ERR_INVALID_OPTION`) on a wrong option. A directory that
 * cannot be used safely is reported (`TOMOGRAPH_HOST_STATS_ERROR`), not thrown: the app runs on.
 */
export function exposeStats(options: ExposeStatsOptions = {}): StatsExposure {
  if (options === null || typeof options !== 'object') throw invalidOption('exposeStats takes an options object');
  for (const key of Object.keys(options)) if (!KNOWN.has(key)) throw invalidOption(`exposeStats: unknown option "${key}"`);
  if (options.dir !== undefined && (typeof options.dir !== 'string' || options.dir === '')) {
    throw invalidOption('exposeStats: dir must be a non-empty string');
  }
  if (options.serviceName !== undefined && (typeof options.serviceName !== 'string' || options.serviceName.trim() === '')) {
    throw invalidOption('exposeStats: serviceName must be a non-empty string');
  }
  if (options.onDiagnostic !== undefined && typeof options.onDiagnostic !== 'function') {
    throw invalidOption('exposeStats: onDiagnostic must be a function');
  }
  const gaugeRules = compileGaugeRules(options.gauges, 'exposeStats');
  const registry = options.registry ?? defaultMetricsSource();
  if (registry === null || typeof registry !== 'object' || typeof registry.collect !== 'function') {
    throw invalidOption('exposeStats: registry must have a collect() method');
  }
  const service = resolveServiceName(options.serviceName);
  const dir = options.dir ?? defaultStatsDir(service);
  const existing = exposures.get(dir);
  if (existing !== undefined) return existing;

  const diagnostics = new Diagnostics(options.onDiagnostic);
  const keepTotals = options.keepTotalsOnExit ?? true;
  const startedAtMs = Date.now();
  const path = join(dir, `${process.pid}.sock`);
  const stats = (): ProcessStats => {
    const metrics = registry.collect();
    const gauges: Record<string, GaugeMerge> = {};
    for (const metric of metrics) {
      if (metric.type !== 'gauge') continue;
      const rule = gaugeRules(metric.name);
      if (rule !== undefined && rule !== 'sum') gauges[metric.name] = rule;
    }
    return { v: 1, pid: process.pid, startedAtMs, service, metrics, gauges };
  };

  let server: Server | undefined;
  let closed = false;
  const finish = (): void => {
    if (closed) return;
    closed = true;
    settleReady(false);
    exposures.delete(dir);
    process.removeListener('exit', finish);
    server?.close();
    if (server === undefined) return;
    if (keepTotals) {
      try {
        if (!retireProcess(dir, stats())) diagnostics.report(codes.HOST_STATS_ERROR, `tomograph: could not keep this process's totals in ${dir} (lock busy)`);
      } catch (error) {
        diagnostics.report(codes.HOST_STATS_ERROR, `tomograph: could not keep this process's totals in ${dir}: ${errorMessage(error)}`);
      }
    }
    // After the totals are kept: a collector that still reaches the socket meanwhile sees this
    // pid in retired.json's `recent` and does not count it twice.
    try {
      unlinkSync(path);
    } catch {
      // Already gone.
    }
  };

  let settleReady: (ok: boolean) => void = () => {};
  const ready = new Promise<boolean>((resolve) => (settleReady = resolve));
  const exposure: StatsExposure = {
    get path() {
      return server === undefined ? undefined : path;
    },
    dir,
    ready,
    close: () => {
      finish();
      return Promise.resolve();
    },
  };
  exposures.set(dir, exposure);

  try {
    secureDir(dir);
    try {
      unlinkSync(path); // left by an earlier process with our pid
    } catch {
      // None.
    }
  } catch (error) {
    diagnostics.report(codes.HOST_STATS_ERROR, `tomograph: not exposing stats: ${errorMessage(error)}`, { dir });
    closed = true;
    exposures.delete(dir);
    settleReady(false);
    return exposure;
  }
  let body: string | undefined;
  const s = createServer((socket) => {
    socket.on('error', () => {});
    socket.setTimeout(ANSWER_TIMEOUT_MS, () => socket.destroy());
    socket.resume(); // whatever a reader sends is discarded
    // Readers that arrive together (several collectors, a burst) share one document: the
    // registry is read once per turn of the event loop, not once per connection.
    if (body === undefined) {
      try {
        body = JSON.stringify(stats());
      } catch (error) {
        diagnostics.report(codes.HOST_STATS_ERROR, `tomograph: collecting stats for a reader failed: ${errorMessage(error)}`);
        socket.destroy();
        return;
      }
      setImmediate(() => (body = undefined));
    }
    socket.end(body);
  });
  s.maxConnections = MAX_READERS;
  s.on('error', (error) => {
    diagnostics.report(codes.HOST_STATS_ERROR, `tomograph: serving stats on ${path} failed: ${errorMessage(error)}`, { path });
    server = undefined;
    settleReady(false);
    finish();
  });
  s.listen(path, () => {
    try {
      chmodSync(path, 0o600);
    } catch (error) {
      diagnostics.report(codes.HOST_STATS_ERROR, `tomograph: could not restrict ${path}: ${errorMessage(error)}`);
    }
    settleReady(true);
  });
  s.unref();
  server = s;
  process.on('exit', finish);
  return exposure;
}

/** Compiles `{ glob: rule }` into a lookup; the last matching entry wins. */
export function compileGaugeRules(rules: GaugeMergeRules | undefined, who: string): (name: string) => GaugeMerge | undefined {
  if (rules === undefined) return () => undefined;
  if (rules === null || typeof rules !== 'object') throw invalidOption(`${who}: gauges must be an object of name or glob to rule`);
  const compiled: { re: RegExp; rule: GaugeMerge }[] = [];
  for (const [glob, rule] of Object.entries(rules)) {
    if (!MERGES.has(rule)) throw invalidOption(`${who}: gauge rule for "${glob}" must be 'sum', 'max', 'min' or 'per-process'`);
    compiled.push({ re: compileGlob(glob), rule });
  }
  return (name) => {
    for (let i = compiled.length - 1; i >= 0; i--) if (compiled[i].re.test(name)) return compiled[i].rule;
    return undefined;
  };
}
