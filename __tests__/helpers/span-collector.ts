/**
 * Test helpers for integration tests: an exporter that lets a test await the span it expects
 * (no sleeps, no polling), and a tracer wired to it.
 *
 *   const { tracer, spans } = collectingTracer({ serviceName: 'a' });
 *   ...make a request...
 *   const span = await spans.waitFor((s) => s.kind === 'SERVER');
 */
import { Tracer } from '../../lib/tracer';
import type { TracerOptions } from '../../lib/options';
import type { DiagnosticEvent, Exporter, FinishedSpan } from '../../lib/types';

type Predicate = (span: FinishedSpan) => boolean;

interface Waiter {
  predicate: Predicate;
  count: number;
  resolve: (spans: FinishedSpan[]) => void;
}

/** Keeps every exported span and resolves `waitFor` promises as matching spans arrive. */
export class SpanCollector implements Exporter {
  /** Every exported span, in export order. */
  readonly spans: FinishedSpan[] = [];
  private waiters: Waiter[] = [];

  export(spans: readonly FinishedSpan[]): void {
    for (const span of spans) this.spans.push(span);
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((waiter) => {
      const found = this.spans.filter(waiter.predicate);
      if (found.length < waiter.count) return true;
      waiter.resolve(found);
      return false;
    });
  }

  /**
   * The first exported span that matches, now or when it arrives. Rejects after `timeoutMs`
   * (default 10000) with the names of the spans seen, so a missing span fails loudly instead
   * of hitting the Jest timeout.
   */
  async waitFor(predicate: Predicate, timeoutMs = 10000): Promise<FinishedSpan> {
    const [span] = await this.waitForCount(1, predicate, timeoutMs);
    return span;
  }

  /** Resolves with all matching spans once at least `count` of them have been exported. */
  waitForCount(count: number, predicate: Predicate = () => true, timeoutMs = 10000): Promise<FinishedSpan[]> {
    const found = this.spans.filter(predicate);
    if (found.length >= count) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const seen = this.spans.map((s) => `${s.kind ?? 'LOCAL'} ${s.name}`).join(', ');
        reject(new Error(`waited ${timeoutMs} ms for ${count} matching span(s); exported: [${seen}]`));
      }, timeoutMs);
      timer.unref();
      const waiter: Waiter = {
        predicate,
        count,
        resolve: (spans) => {
          clearTimeout(timer);
          resolve(spans);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Spans with this name. */
  named(name: string): FinishedSpan[] {
    return this.spans.filter((s) => s.name === name);
  }

  /** Forgets every span (pending waiters stay). */
  reset(): void {
    this.spans.length = 0;
  }
}

/** A tracer exporting at once (`scheduledDelayMs: 0`) to a `SpanCollector`, with its diagnostics. */
export interface CollectingTracer {
  tracer: Tracer;
  spans: SpanCollector;
  /** Every `onDiagnostic` event, in order. */
  diagnostics: DiagnosticEvent[];
}

/** Makes a configured tracer for one test file or test. `options` override the defaults. */
export function collectingTracer(options: TracerOptions = {}): CollectingTracer {
  const spans = new SpanCollector();
  const diagnostics: DiagnosticEvent[] = [];
  const tracer = new Tracer({
    serviceName: 'test-service',
    exporters: [spans],
    scheduledDelayMs: 0,
    onDiagnostic: (event) => diagnostics.push(event),
    ...options,
  });
  return { tracer, spans, diagnostics };
}
