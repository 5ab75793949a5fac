import { renderTraceTree, type TreeOptions } from './trace-tree';
import type { Exporter, FinishedSpan } from './types';

/** Options for `ConsoleExporter`. */
export interface ConsoleExporterOptions extends TreeOptions {
  /** Where the text goes. Default: `process.stdout`. */
  write?: (text: string) => void;
  /** Traces waiting for their local root at most; the oldest is printed as it stands. Default 1000. */
  maxPendingTraces?: number;
}

/**
 * Prints each finished trace as an indented tree with durations. Spans wait until the span
 * that began the trace in this process (its local root) ends, so a request prints once, whole.
 */
export class ConsoleExporter implements Exporter {
  private readonly pending = new Map<string, FinishedSpan[]>();
  private readonly write: (text: string) => void;
  private readonly maxPending: number;

  constructor(private readonly options: ConsoleExporterOptions = {}) {
    this.write = options.write ?? ((text) => process.stdout.write(text));
    this.maxPending = options.maxPendingTraces ?? 1000;
  }

  export(spans: readonly FinishedSpan[]): void {
    for (const span of spans) {
      let list = this.pending.get(span.traceId);
      if (list === undefined) {
        list = [];
        this.pending.set(span.traceId, list);
      }
      list.push(span);
    }
    for (const span of spans) {
      if (span.localParent === undefined) this.print(span.traceId);
    }
    while (this.pending.size > this.maxPending) this.print(this.pending.keys().next().value as string);
  }

  /** Prints traces still waiting for their root (the root may be in another process). */
  async flush(): Promise<void> {
    for (const traceId of [...this.pending.keys()]) this.print(traceId);
  }

  async shutdown(): Promise<void> {
    await this.flush();
  }

  private print(traceId: string): void {
    const spans = this.pending.get(traceId);
    this.pending.delete(traceId);
    if (spans !== undefined && spans.length > 0) this.write(renderTraceTree(spans, this.options) + '\n\n');
  }
}
