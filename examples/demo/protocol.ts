/**
 * The messages the demo's processes exchange over Node's IPC channel (`child_process.fork`).
 * The main process starts the services, relays spans, and prints whole traces; the services
 * only serve requests and send their finished spans up.
 */
import type { FinishedSpan, TracerStats } from 'tomograph';

/** A finished span as it crosses the IPC channel: the contract fields, without `localParent`. */
export type WireSpan = Omit<FinishedSpan, 'localParent'>;

/** From a service to the main process. */
export type ServiceMessage =
  /** Listening on `port` of 127.0.0.1. */
  | { type: 'ready'; port: number }
  /** A batch of finished spans (what the service's tracer exported). */
  | { type: 'spans'; spans: WireSpan[] }
  /** Shut down: server closed, database closed, every exporter flushed; its last message. */
  | { type: 'stopped'; stats: TracerStats };

/** From the main process to a service. */
export type MainMessage =
  /** Spans another service recorded, for the shop's trace page. */
  | { type: 'spans'; spans: WireSpan[] }
  /** Stop serving, flush, and exit. */
  | { type: 'shutdown' };

/** Whether `value` is a message at all (the IPC channel carries anything); then switch on `type`. */
export function isMessage<M extends { type: string }>(value: unknown): value is M {
  return value !== null && typeof value === 'object' && typeof (value as { type?: unknown }).type === 'string';
}
