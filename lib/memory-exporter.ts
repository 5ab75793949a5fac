import type { Exporter, FinishedSpan } from './types';

/** Options for `MemoryExporter`. */
export interface MemoryExporterOptions {
  /** Spans kept at most; the oldest go first. Default 10000. */
  maxSpans?: number;
}

/**
 * Keeps exported spans in memory, for an app's own tests (`await flush()`, then look at
 * `spans`) and for pages that show recent traces. Bounded: the oldest spans go first.
 */
export class MemoryExporter implements Exporter {
  /** Exported spans, oldest first. */
  spans: FinishedSpan[] = [];
  private readonly maxSpans: number;

  constructor(options: MemoryExporterOptions = {}) {
    this.maxSpans = options.maxSpans ?? 10000;
  }

  export(spans: readonly FinishedSpan[]): void {
    for (const span of spans) this.spans.push(span);
    if (this.spans.length > this.maxSpans) this.spans.splice(0, this.spans.length - this.maxSpans);
  }

  /** The spans of one trace, in start order. */
  trace(traceId: string): FinishedSpan[] {
    return this.spans.filter((span) => span.traceId === traceId).sort((a, b) => a.timestamp - b.timestamp);
  }

  /** The first span with this name, if any. */
  find(name: string): FinishedSpan | undefined {
    return this.spans.find((span) => span.name === name);
  }

  /** Forgets every span. */
  reset(): void {
    this.spans = [];
  }
}
