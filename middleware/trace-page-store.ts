import { describeValue, invalidOption } from '../lib/options';
import type { Exporter, FinishedSpan } from '../lib/types';

/** Options for `RecentTracesExporter`. */
export interface RecentTracesOptions {
  /** Traces kept at most; the least recently updated goes first. Default 200. */
  maxTraces?: number;
  /** Spans kept per trace at most; later spans of a full trace are counted and dropped. Default 500. */
  maxSpansPerTrace?: number;
  /** Spans kept over all traces at most; whole traces are evicted, oldest first. Default 10000. */
  maxSpans?: number;
}

/** One trace as the list on the page shows it. Times in microseconds. */
export interface TraceSummary {
  /** 32 lower-case hex. */
  traceId: string;
  /** The root span's name (the earliest span whose parent is not in this trace). */
  name: string;
  /** The root span's service. */
  service: string;
  /** The root span's kind, if any. */
  kind?: string;
  /** Start of the earliest span, epoch microseconds. */
  timestamp: number;
  /** From the earliest start to the latest end, microseconds (at least 1). */
  duration: number;
  /** Spans kept. */
  spanCount: number;
  /** Spans that failed. */
  errorCount: number;
  /** The first failure's message (the root's, if the root failed). */
  error?: string;
  /** Services seen in the trace, at most 10. */
  services: string[];
  /** Spans dropped because the trace was full. */
  droppedSpans: number;
}

/** Counts of a `RecentTracesExporter`. */
export interface RecentTracesStats {
  /** Traces held now. */
  traces: number;
  /** Spans held now. */
  spans: number;
  maxTraces: number;
  maxSpansPerTrace: number;
  maxSpans: number;
  /** Calls to `export` so far: 0 means the exporter was never added to `configure`. */
  batches: number;
  /** Spans received by `export`. */
  spansReceived: number;
  /** Spans dropped because their trace already held `maxSpansPerTrace`. */
  spansDropped: number;
  /** Traces evicted to stay within `maxTraces` / `maxSpans`. */
  tracesEvicted: number;
  /** Traces of the page's own requests, left out. */
  pageTracesIgnored: number;
}

/** The tag the page sets on the span of its own requests, so the store can leave them out. */
export const PAGE_TAG = 'tomograph.page';

interface TraceEntry {
  readonly traceId: string;
  readonly spans: FinishedSpan[];
  startUs: number;
  endUs: number;
  errorCount: number;
  droppedSpans: number;
  /** Cached until the next span arrives. */
  summary: TraceSummary | undefined;
}

const MAX_SERVICES = 10;

/**
 * A bounded in-memory exporter that groups spans by trace for the trace page: it keeps the
 * last `maxTraces` traces (least recently updated go first), at most `maxSpansPerTrace` spans
 * each and `maxSpans` in all, and ranks them by start, duration and failure. `export` is a few
 * map operations per span and never throws; nothing is copied (the spans are the tracer's own,
 * immutable once ended).
 */
export class RecentTracesExporter implements Exporter {
  readonly maxTraces: number;
  readonly maxSpansPerTrace: number;
  readonly maxSpans: number;
  /** Insertion order is update order: the first entry is the least recently updated. */
  private readonly traces = new Map<string, TraceEntry>();
  private spanTotal = 0;
  private counts = { batches: 0, spansReceived: 0, spansDropped: 0, tracesEvicted: 0, pageTracesIgnored: 0 };

  constructor(options: RecentTracesOptions = {}) {
    if (options === null || typeof options !== 'object') throw invalidOption('RecentTracesExporter takes an options object');
    this.maxTraces = positive('maxTraces', options.maxTraces, 200);
    this.maxSpansPerTrace = positive('maxSpansPerTrace', options.maxSpansPerTrace, 500);
    this.maxSpans = positive('maxSpans', options.maxSpans, 10000);
    if (this.maxSpansPerTrace > this.maxSpans) throw invalidOption('maxSpansPerTrace must not exceed maxSpans');
  }

  /** Takes a batch of finished spans. Never throws. */
  export(spans: readonly FinishedSpan[]): void {
    this.counts.batches++;
    for (const span of spans) this.add(span);
  }

  /** Every trace held, newest start first. */
  recent(limit = Infinity): TraceSummary[] {
    return this.summaries().sort((a, b) => b.timestamp - a.timestamp).slice(0, limit);
  }

  /** Traces held, longest first. */
  slowest(limit = Infinity): TraceSummary[] {
    return this.summaries().sort((a, b) => b.duration - a.duration || b.timestamp - a.timestamp).slice(0, limit);
  }

  /** Traces held with at least one failed span, newest start first. */
  failed(limit = Infinity): TraceSummary[] {
    return this.summaries()
      .filter((summary) => summary.errorCount > 0)
      .sort((a, b) => b.timestamp - a.timestamp)
      .slice(0, limit);
  }

  /** The summary of one trace, if held. */
  summary(traceId: string): TraceSummary | undefined {
    const entry = this.traces.get(traceId);
    return entry === undefined ? undefined : summarize(entry);
  }

  /** The spans of one trace in start order, or undefined when it is not held. */
  spans(traceId: string): FinishedSpan[] | undefined {
    const entry = this.traces.get(traceId);
    if (entry === undefined) return undefined;
    return entry.spans.slice().sort((a, b) => a.timestamp - b.timestamp);
  }

  /** Counts and bounds. */
  stats(): RecentTracesStats {
    return {
      traces: this.traces.size,
      spans: this.spanTotal,
      maxTraces: this.maxTraces,
      maxSpansPerTrace: this.maxSpansPerTrace,
      maxSpans: this.maxSpans,
      ...this.counts,
    };
  }

  /** Forgets every trace (the counts stay). */
  clear(): void {
    this.traces.clear();
    this.spanTotal = 0;
  }

  /** Nothing is buffered: spans are held as they arrive. */
  flush(): Promise<void> {
    return Promise.resolve();
  }

  /** Keeps what it holds, so the page can still show it after the tracer shut down. */
  shutdown(): Promise<void> {
    return Promise.resolve();
  }

  private add(span: FinishedSpan): void {
    this.counts.spansReceived++;
    let entry = this.traces.get(span.traceId);
    if (span.tags !== undefined && span.tags[PAGE_TAG] === true) {
      // The page's own request: polling it would otherwise fill the list with itself.
      this.counts.pageTracesIgnored++;
      if (entry !== undefined) this.evict(entry, false);
      return;
    }
    if (entry === undefined) {
      entry = {
        traceId: span.traceId,
        spans: [],
        startUs: span.timestamp,
        endUs: span.timestamp + span.duration,
        errorCount: 0,
        droppedSpans: 0,
        summary: undefined,
      };
    } else {
      // Re-inserting moves the trace to the young end of the map.
      this.traces.delete(span.traceId);
    }
    this.traces.set(span.traceId, entry);
    if (entry.spans.length >= this.maxSpansPerTrace) {
      entry.droppedSpans++;
      this.counts.spansDropped++;
    } else {
      entry.spans.push(span);
      this.spanTotal++;
      if (span.timestamp < entry.startUs) entry.startUs = span.timestamp;
      const endUs = span.timestamp + span.duration;
      if (endUs > entry.endUs) entry.endUs = endUs;
      if (span.error !== undefined) entry.errorCount++;
    }
    entry.summary = undefined;
    while (this.traces.size > this.maxTraces || this.spanTotal > this.maxSpans) {
      const oldest = this.traces.values().next().value as TraceEntry;
      this.evict(oldest, true);
    }
  }

  private evict(entry: TraceEntry, counted: boolean): void {
    this.traces.delete(entry.traceId);
    this.spanTotal -= entry.spans.length;
    if (counted) this.counts.tracesEvicted++;
  }

  private summaries(): TraceSummary[] {
    const list: TraceSummary[] = [];
    for (const entry of this.traces.values()) list.push(summarize(entry));
    return list;
  }
}

function summarize(entry: TraceEntry): TraceSummary {
  if (entry.summary !== undefined) return entry.summary;
  const ids = new Set<string>();
  for (const span of entry.spans) ids.add(span.id);
  let root: FinishedSpan | undefined;
  let firstError: FinishedSpan | undefined;
  const services: string[] = [];
  for (const span of entry.spans) {
    const isRoot = span.parentId === undefined || !ids.has(span.parentId);
    // A true root (no parent at all) beats a span whose parent ran in another process.
    if (isRoot && (root === undefined || rank(span) < rank(root) || (rank(span) === rank(root) && span.timestamp < root.timestamp))) {
      root = span;
    }
    if (span.error !== undefined && (firstError === undefined || span.timestamp < firstError.timestamp)) firstError = span;
    if (services.length < MAX_SERVICES && !services.includes(span.service)) services.push(span.service);
  }
  const head = root ?? entry.spans[0];
  const error = head?.error ?? firstError?.error;
  const summary: TraceSummary = {
    traceId: entry.traceId,
    name: head?.name ?? '',
    service: head?.service ?? '',
    timestamp: entry.startUs,
    duration: Math.max(1, entry.endUs - entry.startUs),
    spanCount: entry.spans.length,
    errorCount: entry.errorCount,
    services,
    droppedSpans: entry.droppedSpans,
  };
  if (head?.kind !== undefined) summary.kind = head.kind;
  if (error !== undefined) summary.error = error;
  // Frozen: the cached summary is handed to every caller until the trace changes.
  Object.freeze(services);
  entry.summary = Object.freeze(summary);
  return summary;
}

function rank(span: FinishedSpan): number {
  return span.parentId === undefined ? 0 : 1;
}

function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw invalidOption(`${name} must be a positive integer, not ${describeValue(value)}`);
  }
  return value;
}
