/**
 * A custom exporter, the smallest kind: it sends each batch of finished spans to the parent
 * process over the IPC channel, so the demo's main process sees both services' spans and can
 * print each trace whole, across the process boundary.
 */
import type { Exporter, FinishedSpan } from 'tomograph';
import type { ServiceMessage, WireSpan } from './protocol';

/** Sends finished spans to the parent process (`process.send`); for forked services. */
export class ParentProcessExporter implements Exporter {
  /**
   * Resolves once Node has handed the batch to the channel, so `flush()` and `shutdown()` of the
   * tracer wait for it. Throws (the tracer counts the batch as failed) when there is no parent.
   */
  export(spans: readonly FinishedSpan[]): Promise<void> {
    if (process.send === undefined || !process.connected) throw new Error('no parent process to send spans to');
    const message: ServiceMessage = { type: 'spans', spans: spans.map(toWire) };
    return new Promise((resolve, reject) => {
      process.send!(message, undefined, undefined, (error: Error | null) => (error ? reject(error) : resolve()));
    });
  }
}

/** The contract's fields only: the span object also holds in-process links (`localParent`, its tracer's sink). */
function toWire(span: FinishedSpan): WireSpan {
  const wire: { -readonly [K in keyof WireSpan]: WireSpan[K] } = {
    traceId: span.traceId,
    id: span.id,
    name: span.name,
    service: span.service,
    timestamp: span.timestamp,
    duration: span.duration,
    notes: span.notes,
    tags: span.tags,
    sampled: span.sampled,
  };
  if (span.parentId !== undefined) wire.parentId = span.parentId;
  if (span.kind !== undefined) wire.kind = span.kind;
  if (span.host !== undefined) wire.host = span.host;
  if (span.remote !== undefined) wire.remote = span.remote;
  if (span.error !== undefined) wire.error = span.error;
  return wire;
}
