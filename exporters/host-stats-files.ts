import {
  chmodSync, closeSync, fstatSync, lstatSync, mkdirSync, openSync, readSync, renameSync, statSync, unlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { defaultTracer } from '../lib/api';
import type { CollectedMetric, CollectedSeries } from '../lib/metrics/types';
import { sanitizeSegment } from './statsd-names';
import type { ProcessStats, RetiredTotals } from './host-stats-merge';

/** The file in a service's directory that keeps the totals of processes that exited normally. */
export const RETIRED_FILE = 'retired.json';
const LOCK_FILE = 'retired.lock';
/** Processes remembered in `recent`: enough to cover any exit racing a collection. */
const MAX_RECENT = 64;
/** A lock older than this was left by a process that died holding it. */
const STALE_LOCK_MS = 5000;
/** How long an exiting process waits for the lock before giving its totals up. */
const LOCK_WAIT_MS = 500;
/** Files read from the directory are capped, so a hostile or runaway file cannot exhaust memory. */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;

/**
 * The service name for the default directory: the `serviceName` given, else
 * `TOMOGRAPH_SERVICE_NAME`, else the one `configure()` set, else the main script's name.
 */
export function resolveServiceName(given: string | undefined): string {
  if (given !== undefined) return given;
  const env = process.env.TOMOGRAPH_SERVICE_NAME;
  if (env !== undefined && env.trim() !== '') return env;
  // A public `service` getter where the tracer has one; else its private field, read without
  // widening its API from here.
  const tracer = defaultTracer as unknown as { service?: unknown; serviceName?: unknown };
  const configured = typeof tracer.service === 'string' ? tracer.service : tracer.serviceName;
  if (typeof configured === 'string' && configured !== 'unknown_service') return configured;
  const script = process.argv[1];
  return script === undefined ? 'node' : basename(script, extname(script)) || 'node';
}

/** `<os.tmpdir()>/tomograph-stats/<serviceName>`, the service name sanitised as one path segment. */
export function defaultStatsDir(serviceName: string): string {
  return join(tmpdir(), 'tomograph-stats', sanitizeSegment(serviceName));
}

/**
 * Makes `dir` (and its parents) with mode 0700 and checks it is safe to serve stats from: a real
 * directory (not a symlink), owned by this user, writable by nobody else. Throws an Error
 * saying why not; a directory we own but left open is tightened to 0700.
 */
export function secureDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(dir);
  if (!stat.isDirectory()) throw new Error(`${dir} is not a directory (a symlink is refused)`);
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid !== undefined && stat.uid !== uid) {
    throw new Error(`${dir} belongs to uid ${stat.uid}, not to this user (${uid}): another user could read or forge its stats`);
  }
  if ((stat.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/**
 * Checks a directory before collecting from it: it must exist, be a directory and not be
 * writable by others (whoever can write it can plant sockets that forge a service's stats).
 */
export function checkCollectDir(dir: string): string | undefined {
  let stat;
  try {
    stat = statSync(dir);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : String(error);
  }
  if (!stat.isDirectory()) return `${dir} is not a directory`;
  // Even with the sticky bit, anyone could plant a socket here that forges the service's stats.
  if ((stat.mode & 0o002) !== 0) return `${dir} is world-writable: refused`;
  return undefined;
}

/** Reads a regular file of at most `MAX_FILE_BYTES` (no symlinks, no FIFOs that would block). */
export function readSmallFile(path: string): string | undefined {
  let fd: number;
  try {
    const stat = lstatSync(path);
    if (!stat.isFile() || stat.size > MAX_FILE_BYTES) return undefined;
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_FILE_BYTES) return undefined;
    const buffer = Buffer.alloc(size);
    let read = 0;
    while (read < size) {
      const n = readSync(fd, buffer, read, size - read, read);
      if (n === 0) break;
      read += n;
    }
    return buffer.toString('utf8', 0, read);
  } finally {
    closeSync(fd);
  }
}

/** The retired totals in `dir`, or undefined when there are none (or the file is not ours). */
export function readRetired(dir: string): RetiredTotals | undefined {
  const text = readSmallFile(join(dir, RETIRED_FILE));
  if (text === undefined) return undefined;
  try {
    return validateRetired(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** Reads parsed data as retired totals, or undefined when any part is not what a process wrote. */
export function validateRetired(data: unknown): RetiredTotals | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  const d = data as Record<string, unknown>;
  if (d.v !== 1 || !Array.isArray(d.metrics) || !Array.isArray(d.recent)) return undefined;
  for (const r of d.recent as unknown[]) {
    if (r === null || typeof r !== 'object' || !Number.isInteger((r as { pid?: unknown }).pid) ||
      typeof (r as { startedAtMs?: unknown }).startedAtMs !== 'number') return undefined;
  }
  const finite = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);
  for (const m of d.metrics as unknown[]) {
    if (m === null || typeof m !== 'object') return undefined;
    const x = m as Record<string, unknown>;
    if (typeof x.name !== 'string' || x.name === '' || !['counter', 'meter', 'histogram'].includes(x.type as string)) return undefined;
    if (!Array.isArray(x.labelNames) || !x.labelNames.every((n) => typeof n === 'string') || !Array.isArray(x.series)) return undefined;
    for (const s of x.series as unknown[]) {
      if (s === null || typeof s !== 'object') return undefined;
      const { labelValues, value } = s as { labelValues?: unknown; value?: unknown };
      if (!Array.isArray(labelValues) || !labelValues.every((v) => typeof v === 'string')) return undefined;
      if (x.type === 'counter' ? !finite(value) : value === null || typeof value !== 'object' ||
        !finite((value as { count?: unknown }).count) || !finite((value as { sum?: unknown }).sum)) return undefined;
    }
  }
  return data as RetiredTotals;
}

/**
 * Folds an exiting process's monotonic totals (counter values, meter and histogram `count` and
 * `sum`) into `dir/retired.json`, synchronously (it runs in the `exit` event). Writers take a
 * lock file created with O_EXCL; a lock left by a process that died holding it is broken after
 * 5 s. The file is replaced by rename, so a collector reads either the old or the new totals.
 * Returns false when the lock could not be had in time (the totals are then lost).
 */
export function retireProcess(dir: string, stats: ProcessStats): boolean {
  const lock = join(dir, LOCK_FILE);
  if (!acquire(lock)) return false;
  try {
    const previous = readRetired(dir);
    const merged = foldRetired(previous, stats);
    const tmp = join(dir, `${RETIRED_FILE}.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify(merged), { mode: 0o600 });
    renameSync(tmp, join(dir, RETIRED_FILE));
    return true;
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      // Broken by another process as stale: nothing left to release.
    }
  }
}

function acquire(lock: string): boolean {
  const deadline = Date.now() + LOCK_WAIT_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx', 0o600));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return false;
    }
    try {
      if (Date.now() - lstatSync(lock).mtimeMs > STALE_LOCK_MS) {
        unlinkSync(lock);
        continue;
      }
    } catch {
      continue; // released meanwhile
    }
    if (Date.now() >= deadline) return false;
    Atomics.wait(pause, 0, 0, 5); // we are exiting: a short synchronous wait is all we can do
  }
}

function foldRetired(previous: RetiredTotals | undefined, stats: ProcessStats): RetiredTotals {
  const byName = new Map<string, { metric: CollectedMetric; series: Map<string, CollectedSeries> }>();
  const take = (metric: CollectedMetric): void => {
    if (metric.type === 'gauge') return;
    let entry = byName.get(metric.name);
    if (entry === undefined) {
      entry = {
        metric: { name: metric.name, type: metric.type, description: metric.description, unit: metric.unit, labelNames: metric.labelNames, level: metric.level, series: [] },
        series: new Map(),
      };
      byName.set(metric.name, entry);
    } else if (entry.metric.type !== metric.type) {
      return;
    }
    for (const s of metric.series) {
      const key = s.labelValues.join('\u0000');
      const old = entry.series.get(key);
      if (metric.type === 'counter') {
        const value = (old === undefined ? 0 : (old.value as number)) + (s.value as number);
        entry.series.set(key, { labelValues: s.labelValues, value });
      } else {
        const v = s.value as { count: number; sum?: number };
        const o = old === undefined ? { count: 0, sum: 0 } : (old.value as unknown as { count: number; sum: number });
        const value = { count: o.count + v.count, sum: o.sum + (v.sum ?? 0) };
        entry.series.set(key, { labelValues: s.labelValues, value: value as never });
      }
    }
  };
  for (const metric of previous?.metrics ?? []) take(metric);
  for (const metric of stats.metrics) take(metric);
  const metrics = [...byName.values()].map(({ metric, series }) => ({ ...metric, series: [...series.values()] }));
  const recent = [...(previous?.recent ?? []), { pid: stats.pid, startedAtMs: stats.startedAtMs }].slice(-MAX_RECENT);
  return { v: 1, metrics, recent };
}
