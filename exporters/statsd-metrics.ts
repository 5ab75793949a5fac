import { invalidOption } from '../lib/options';
import type { LabelPairs, MetricLevel, MetricsUpdate } from '../lib/metrics/types';
import { sanitizeSegment } from './statsd-names';

/** The part of a hot-shots client the metrics writer uses. */
export interface StatsdSendClient {
  /** hot-shots' raw send: adds global tags (in its dialect) and buffers; never samples. */
  send(message: string, tags: string[] | undefined, callback: (error?: Error | null) => void): void;
  readonly prefix?: string;
  readonly suffix?: string;
}

/** The metrics options of `StatsdExporter`, as it takes them. */
export interface StatsdMetricsOptions {
  /**
   * The `<service>` segment of metric names. Default: the default tracer's `serviceName`
   * (`configure({ serviceName })`), read at each update.
   */
  service?: string;
  /** Metrics below this level are left out of this exporter's updates. Default: all that exist. */
  level?: MetricLevel;
  /**
   * Histogram values sent per update at most, over all histograms. Past it each histogram
   * sends a share of its values with a sample rate (`|@0.25`), so the daemon still counts every
   * value. Counters, gauges and meters are always sent whole (one line per changed series).
   * Default 5000.
   */
  maxValuesPerUpdate?: number;
}

/** Options the exporter's constructor validated. */
export interface ResolvedMetricsOptions {
  service: string | undefined;
  level: MetricLevel | undefined;
  maxValuesPerUpdate: number;
}

/** What one update sent. */
export interface MetricsWriteResult {
  /** Lines handed to the client. */
  lines: number;
  /** Histograms whose values went with a sample rate below 1. */
  sampled: number;
  /** Histograms that sent nothing because the bound left no room (their values are lost). */
  dropped: number;
}

const LEVELS = new Set(['debug', 'info', 'warn', 'error', 'critical']);
export const METRICS_OPTIONS = ['service', 'level', 'maxValuesPerUpdate'] as const;

/** Validates the metrics options; throws a TypeError with the stable code on a wrong one. */
export function resolveMetricsOptions(options: StatsdMetricsOptions): ResolvedMetricsOptions {
  const { service, level, maxValuesPerUpdate = 5000 } = options;
  if (service !== undefined && (typeof service !== 'string' || service.trim() === '')) {
    throw invalidOption('StatsdExporter: service must be a non-empty string');
  }
  if (level !== undefined && !LEVELS.has(level)) {
    throw invalidOption(`StatsdExporter: level must be one of debug, info, warn, error, critical, not ${String(level)}`);
  }
  if (typeof maxValuesPerUpdate !== 'number' || !Number.isInteger(maxValuesPerUpdate) || maxValuesPerUpdate < 1) {
    throw invalidOption(`StatsdExporter: maxValuesPerUpdate must be an integer >= 1, not ${String(maxValuesPerUpdate)}`);
  }
  return { service, level, maxValuesPerUpdate };
}

/** A cached name: the full metric name and, in tagged mode, its tags. */
interface Name {
  readonly name: string;
  readonly tags: string[] | undefined;
}

/**
 * Writes a `MetricsUpdate` as StatsD lines, as DESIGN.md ("Where metrics go") defines them:
 * counters `|c` (the exact delta), gauges `|g`, meters `|c`, histogram values `|ms` when the
 * unit is `'ms'` else `|h`, named `<prefix>.<service>.<path>` with every segment sanitised as
 * span names are. Labels become tags (`route:GET_users_id`) when `tags` is true, else name
 * segments (their values, in declared order). Names are cached (bounded, like span names).
 *
 * Two StatsD details: a negative gauge is sent as `0|g` then `-v|g`, since a signed value alone
 * means "change by" to the daemon; and sample rates are written by the writer, never by
 * hot-shots (which would drop lines at random instead), with enough digits that `1/rate`
 * summed over the lines gives the histogram's count.
 */
export class StatsdMetricsWriter {
  private names = new Map<string, Name>();

  constructor(
    /** Sanitised prefix, `''` for none. */
    private readonly prefix: string,
    private readonly tagged: boolean,
    private readonly maxValuesPerUpdate: number,
    private readonly maxNames: number,
  ) {}

  /**
   * Starts sending `update` through `client` (each send calls `onSent`): `run(budgetMs)` on the
   * result sends until the update is done or the budget is spent, so a large update can be sent
   * over several turns of the event loop. Never throws for bad data.
   */
  start(client: StatsdSendClient, update: MetricsUpdate, service: string, onSent: (error?: Error | null) => void): MetricsWriting {
    const result: MetricsWriteResult = { lines: 0, sampled: 0, dropped: 0 };
    return new MetricsWriting(this.lines(client, update, service, onSent, result), result);
  }

  /** Sends the lines, pausing (yield) every LINES_PER_CHECK entries so `run` can look at the clock. */
  private *lines(
    client: StatsdSendClient, update: MetricsUpdate, service: string, onSent: (error?: Error | null) => void, result: MetricsWriteResult,
  ): Generator<void, void, void> {
    const head = (client.prefix ?? '') + (this.prefix === '' ? '' : this.prefix + '.') + sanitizeSegment(service) + '.';
    const tail = client.suffix ?? '';
    const send = (name: Name, value: string, type: string, rate?: string): void => {
      client.send(`${head}${name.name}${tail}:${value}|${type}${rate === undefined ? '' : `|@${rate}`}`, name.tags, onSent);
      result.lines++;
    };
    let steps = 0;
    const due = (): boolean => ++steps % LINES_PER_CHECK === 0;
    for (const counter of update.counters ?? []) {
      if (finite(counter.delta) && counter.delta !== 0) send(this.name(counter.name, counter.labels), String(counter.delta), 'c');
      if (due()) yield;
    }
    for (const meter of update.meters ?? []) {
      if (finite(meter.delta) && meter.delta !== 0) send(this.name(meter.name, meter.labels), String(meter.delta), 'c');
      if (due()) yield;
    }
    for (const gauge of update.gauges ?? []) {
      if (!finite(gauge.value)) continue;
      const name = this.name(gauge.name, gauge.labels);
      if (gauge.value < 0) send(name, '0', 'g');
      send(name, String(gauge.value), 'g');
      if (due()) yield;
    }
    const histograms = (update.histograms ?? []).filter((h) => h.count > 0 && Array.isArray(h.values) && h.values.length > 0);
    let offered = 0;
    for (const h of histograms) offered += h.values.length;
    let budget = this.maxValuesPerUpdate;
    // Share the bound in proportion to what each histogram offers, at least one value each while room remains.
    const share = offered <= budget ? 1 : budget / offered;
    for (const h of histograms) {
      const type = h.unit === 'ms' ? 'ms' : 'h';
      const want = share === 1 ? h.values.length : Math.max(1, Math.floor(h.values.length * share));
      const take = Math.min(want, budget);
      if (take === 0) {
        result.dropped++;
        continue;
      }
      budget -= take;
      const count = Math.max(h.count, h.values.length);
      const rate = take >= count ? undefined : formatRate(take / count);
      if (rate !== undefined) result.sampled++;
      const name = this.name(h.name, h.labels);
      const values = h.values;
      // An even stride keeps the sample spread over the interval (values come in time order).
      const step = values.length / take;
      for (let i = 0; i < take; i++) {
        const value = values[Math.floor(i * step)];
        if (finite(value) && value >= 0) send(name, String(value), type, rate);
        if (due()) yield;
      }
    }
  }

  private name(path: string, labels: LabelPairs | undefined): Name {
    const key = labels === undefined || labels.length === 0 ? path : path + '\u0000' + labels.map(([k, v]) => `${k}\u0001${v}`).join('\u0000');
    let name = this.names.get(key);
    if (name === undefined) {
      let full = String(path).split('.').map(sanitizeSegment).join('.');
      let tags: string[] | undefined;
      if (labels !== undefined && labels.length > 0) {
        if (this.tagged) tags = labels.map(([k, v]) => `${sanitizeSegment(k)}:${sanitizeSegment(v)}`);
        else for (const [, v] of labels) full += '.' + sanitizeSegment(v);
      }
      name = { name: full, tags };
      // Bounded like span names: past the cap the cache starts over rather than grow.
      if (this.names.size >= this.maxNames) this.names = new Map();
      this.names.set(key, name);
    }
    return name;
  }
}

// The clock is read every this many entries or values (each line is a few microseconds of hot-shots' work).
const LINES_PER_CHECK = 128;

/** An update being sent (`StatsdMetricsWriter.start`). */
export class MetricsWriting {
  constructor(
    private readonly steps: Generator<void, void, void>,
    /** What was sent so far; final once `run` returned true. */
    readonly result: MetricsWriteResult,
  ) {}

  /** Sends until done (returns true) or until `budgetMs` has passed (false: call again later). */
  run(budgetMs: number): boolean {
    const until = performance.now() + budgetMs;
    for (;;) {
      if (this.steps.next().done === true) return true;
      if (performance.now() >= until) return false;
    }
  }
}

function finite(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * A sample rate in plain decimal (the etsy daemon reads `@[\d.]+`, no exponent) with 12
 * significant digits, so `1 / rate` per line adds up to the true count.
 */
export function formatRate(rate: number): string {
  const digits = Math.min(20, Math.max(1, 11 - Math.floor(Math.log10(rate))));
  return rate.toFixed(digits).replace(/0+$/, '').replace(/\.$/, '');
}
