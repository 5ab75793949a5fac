import { lstatSync, readdirSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { mergeHistogramStates, summarizeHistogramState } from '../lib/metrics';
import type { CollectedMetric } from '../lib/metrics/types';
import { invalidOption } from '../lib/options';
import { compileGaugeRules } from './host-stats-expose';
import { checkCollectDir, defaultStatsDir, MAX_FILE_BYTES, readRetired, resolveServiceName } from './host-stats-files';
import {
  type GaugeMergeRules, type HistogramMath, mergeProcessStats, metricsTree, type ProcessStats, validateProcessStats,
} from './host-stats-merge';

/** Options for `collectHostStats`. Every field is optional. */
export interface CollectHostStatsOptions {
  /** The service's directory. Default `<os.tmpdir()>/tomograph-stats/<serviceName>`. */
  dir?: string;
  /** Names the default directory (as in `exposeStats`). */
  serviceName?: string;
  /** How long each process has to answer, in milliseconds. Default 500. */
  timeoutMs?: number;
  /** Largest answer read from one process, in bytes. Default 16 MiB. */
  maxBytes?: number;
  /** Gauge rules that override the ones the processes declare (same form as `exposeStats`'s). */
  gauges?: GaugeMergeRules;
  /** Also sum the totals of processes that exited normally (`retired.json`). Default true. */
  includeRetired?: boolean;
}

/** A process left out of a collection, and why. */
export interface SkippedProcess {
  /** From the socket's name. */
  readonly pid: number;
  /** `'timeout'`: did not answer within `timeoutMs` (stopped, hung, busy); `'invalid'`: answered
   *  something that is not stats; `'too-large'`: answered more than `maxBytes`; `'error'`: the socket failed. */
  readonly reason: 'timeout' | 'invalid' | 'too-large' | 'error';
  readonly detail?: string;
}

/** The merged stats of every live process of one service on this host. */
export interface HostStats {
  /** Processes whose stats were merged. */
  readonly processes: number;
  readonly pids: readonly number[];
  /** Processes that did not answer usably; they are not in the totals. */
  readonly skipped: readonly SkippedProcess[];
  /** Sockets of dead processes (nothing listening) removed during this collection. */
  readonly removedSockets: number;
  /** Files in the directory that are not a process's socket, ignored. */
  readonly ignoredFiles: number;
  /** Processes that exited normally so far, whose counter and histogram totals are included. */
  readonly retiredProcesses: number;
  /** Metrics that two processes declared with different types (the first type seen is kept). */
  readonly conflicts: readonly string[];
  /** The merged metrics, as `collect()` gives them (histograms with their merged state). */
  readonly metrics: readonly CollectedMetric[];
  /** The same, as a tree in `snapshot()`'s shape. */
  readonly stats: Record<string, unknown>;
  /** When the collection finished, epoch ms. */
  readonly timestampMs: number;
  readonly dir: string;
}

const HISTOGRAM_MATH: HistogramMath = { mergeHistogramStates, summarizeHistogramState };
const SOCKET_NAME = /^([1-9][0-9]{0,9})\.sock$/;

/** Checks the options shared by `collectHostStats` and `hostStatsHandler`. */
export function checkCollectOptions(options: CollectHostStatsOptions, who: string): void {
  if (options === null || typeof options !== 'object') throw invalidOption(`${who} takes an options object`);
  if (options.dir !== undefined && (typeof options.dir !== 'string' || options.dir === '')) throw invalidOption(`${who}: dir must be a non-empty string`);
  for (const key of ['timeoutMs', 'maxBytes'] as const) {
    const v = options[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 1)) throw invalidOption(`${who}: ${key} must be a positive integer`);
  }
  compileGaugeRules(options.gauges, who);
}

/**
 * Collects and merges the stats of every process exposing in the directory (see `exposeStats`):
 * counters and meters summed, gauges per their rule (sum unless declared otherwise), histograms
 * merged from their sketches, plus the totals of processes that exited normally. All processes
 * are asked at once; one that does not answer within `timeoutMs` is skipped and listed, a
 * socket nobody listens on (a SIGKILLed process) is removed, and files that are not sockets, or
 * sockets that answer garbage, are ignored. Never rejects; a missing directory gives 0 processes.
 */
export async function collectHostStats(options: CollectHostStatsOptions = {}): Promise<HostStats> {
  checkCollectOptions(options, 'collectHostStats');
  const dir = options.dir ?? defaultStatsDir(resolveServiceName(options.serviceName));
  const timeoutMs = options.timeoutMs ?? 500;
  const maxBytes = options.maxBytes ?? MAX_FILE_BYTES;
  const override = compileGaugeRules(options.gauges, 'collectHostStats');
  const skipped: SkippedProcess[] = [];
  const answers: ProcessStats[] = [];
  let removedSockets = 0;
  let ignoredFiles = 0;

  const problem = checkCollectDir(dir);
  let names: string[] = [];
  if (problem === undefined) {
    try {
      names = readdirSync(dir);
    } catch {
      names = [];
    }
  } else if (problem !== 'missing') {
    throw invalidOption(`collectHostStats: ${problem}`);
  }
  const retired = options.includeRetired === false || problem !== undefined ? undefined : readRetired(dir);
  const recent = new Set((retired?.recent ?? []).map((r) => `${r.pid}:${r.startedAtMs}`));

  await Promise.all(names.map(async (name) => {
    const match = SOCKET_NAME.exec(name);
    if (match === null) {
      if (name !== 'retired.json' && name !== 'retired.lock' && !name.startsWith('retired.json.')) ignoredFiles++;
      return;
    }
    const path = join(dir, name);
    try {
      if (!lstatSync(path).isSocket()) {
        ignoredFiles++;
        return;
      }
    } catch {
      return; // gone meanwhile
    }
    const pid = Number(match[1]);
    const result = await ask(path, timeoutMs, maxBytes);
    if (result.kind === 'dead') {
      try {
        unlinkSync(path);
        removedSockets++;
      } catch {
        // Removed by another collector, or the process exiting.
      }
    } else if (result.kind === 'skipped') {
      skipped.push({ pid, reason: result.reason, detail: result.detail });
    } else {
      const stats = validateProcessStats(result.data);
      if (stats === undefined || stats.pid !== pid) skipped.push({ pid, reason: 'invalid' });
      else if (!recent.has(`${stats.pid}:${stats.startedAtMs}`)) answers.push(stats);
    }
  }));

  answers.sort((a, b) => a.pid - b.pid);
  const { metrics, conflicts } = mergeProcessStats(answers, retired, HISTOGRAM_MATH, override);
  skipped.sort((a, b) => a.pid - b.pid);
  return {
    processes: answers.length,
    pids: answers.map((a) => a.pid),
    skipped,
    removedSockets,
    ignoredFiles,
    retiredProcesses: retired?.recent.length ?? 0,
    conflicts: [...new Set(conflicts.map((c) => c.name))],
    metrics,
    stats: metricsTree(metrics),
    timestampMs: Date.now(),
    dir,
  };
}

type Answer =
  | { kind: 'ok'; data: unknown }
  | { kind: 'dead' }
  | { kind: 'skipped'; reason: SkippedProcess['reason']; detail?: string };

/** Reads one process's answer: bounded in time and in bytes, never throws. */
function ask(path: string, timeoutMs: number, maxBytes: number): Promise<Answer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let settled = false;
    const socket = connect(path);
    const done = (answer: Answer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done({ kind: 'skipped', reason: 'timeout', detail: `no answer in ${timeoutMs} ms` }), timeoutMs);
    timer.unref();
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes) return done({ kind: 'skipped', reason: 'too-large', detail: `over ${maxBytes} bytes` });
      chunks.push(chunk);
    });
    socket.on('end', () => {
      let data: unknown;
      try {
        data = JSON.parse(Buffer.concat(chunks, bytes).toString('utf8'));
      } catch {
        return done({ kind: 'skipped', reason: 'invalid', detail: 'not JSON' });
      }
      done({ kind: 'ok', data });
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT') done({ kind: 'dead' });
      else done({ kind: 'skipped', reason: 'error', detail: error.code ?? error.message });
    });
  });
}

