/**
 * The spans of one instrumented amqplib channel: a PRODUCER span per publish, a CONSUMER span
 * per delivery, and the table of deliveries whose span waits for an ack, nack or reject.
 */
import { NOOP_SPAN, type Span } from '../lib/span';
import type { Tracer } from '../lib/tracer';
import type { Endpoint, HeaderCarrier } from '../lib/types';
import { reportFault } from './messaging-options';

/** A delivered message as amqplib hands it to a consumer (fields read defensively). */
export interface AmqpMessage {
  content?: { length?: number };
  fields?: { deliveryTag?: number; redelivered?: boolean; exchange?: string; routingKey?: string; consumerTag?: string };
  properties?: { headers?: Record<string, unknown>; messageId?: unknown; correlationId?: unknown };
}

/** Publish options as amqplib takes them; only `headers`, `messageId` and `correlationId` are read. */
export interface AmqpPublishOptions {
  headers?: Record<string, unknown>;
  messageId?: unknown;
  correlationId?: unknown;
  [option: string]: unknown;
}

/**
 * Deliveries waiting for their ack, per channel. A consumer that never acks (a bug, or acks
 * sent on another channel, which AMQP refuses) must not grow this without bound: past it the
 * oldest span is ended with a note `ack not seen`.
 */
export const MAX_UNACKED = 10_000;

/** One `instrumentAmqplib` call: its tracer and switch, and the channel's open consumer spans. */
export class ChannelTracing {
  active = true;
  /** Consumer spans of deliveries not yet acked, nacked or rejected, by delivery tag (in order). */
  readonly unacked = new Map<number, Span>();

  constructor(
    readonly tracer: Tracer,
    readonly root: boolean,
    readonly remote: Endpoint,
    readonly confirm: boolean,
  ) {}

  get on(): boolean {
    return this.active && this.tracer.isEnabled;
  }

  /**
   * The PRODUCER span of a publish, a child of the current span; undefined when none should be
   * made (outside a span without `root`, tracing suppressed or off).
   */
  startProducer(exchange: unknown, routingKey: unknown, content: unknown, options: AmqpPublishOptions | undefined): Span | undefined {
    const tracer = this.tracer;
    const current = tracer.currentSpan();
    if (current === undefined && !this.root) return undefined;
    const ex = typeof exchange === 'string' ? exchange : '';
    const key = typeof routingKey === 'string' ? routingKey : '';
    const span = tracer.startSpan('publish ' + (ex === '' ? key : ex), {
      kind: 'PRODUCER',
      remote: this.remote,
      parent: current ?? null,
    });
    if (span === NOOP_SPAN) return undefined;
    if (span.recording) {
      span.tag('messaging.system', 'rabbitmq');
      span.tag('messaging.operation.type', 'send');
      span.tag('messaging.destination.name', ex);
      span.tag('messaging.rabbitmq.destination.routing_key', key);
      const size = (content as { length?: unknown } | null | undefined)?.length;
      if (typeof size === 'number') span.tag('messaging.message.body.size', size);
      tagIds(span, options?.messageId, options?.correlationId);
    }
    return span;
  }

  /**
   * The CONSUMER span of a delivery: a child of the span named by the message's trace headers,
   * else (none, or malformed: counted by the tracer) a new root. Never the span that happens to
   * be current where the socket delivered, which belongs to whoever opened the connection.
   */
  startConsumer(queue: string, message: AmqpMessage, noAck: boolean): Span {
    const tracer = this.tracer;
    const headers = message.properties?.headers;
    const parent = headers !== null && typeof headers === 'object' ? tracer.extractContext(headers as HeaderCarrier) : undefined;
    const span = tracer.startSpan('process ' + queue, { kind: 'CONSUMER', remote: this.remote, parent: parent ?? null });
    const fields = message.fields;
    if (span.recording) {
      span.tag('messaging.system', 'rabbitmq');
      span.tag('messaging.operation.type', 'process');
      span.tag('messaging.rabbitmq.queue', queue);
      if (fields !== undefined) {
        if (typeof fields.exchange === 'string') span.tag('messaging.destination.name', fields.exchange);
        if (typeof fields.routingKey === 'string') span.tag('messaging.rabbitmq.destination.routing_key', fields.routingKey);
        if (typeof fields.deliveryTag === 'number') span.tag('messaging.rabbitmq.message.delivery_tag', fields.deliveryTag);
        span.tag('messaging.rabbitmq.message.redelivered', fields.redelivered === true);
      }
      const size = message.content?.length;
      if (typeof size === 'number') span.tag('messaging.message.body.size', size);
      tagIds(span, message.properties?.messageId, message.properties?.correlationId);
    }
    const tag = fields?.deliveryTag;
    if (!noAck && typeof tag === 'number' && span !== NOOP_SPAN) {
      this.unacked.set(tag, span);
      if (this.unacked.size > MAX_UNACKED) {
        for (const [oldest, oldSpan] of this.unacked) {
          this.unacked.delete(oldest);
          oldSpan.annotate('ack not seen');
          oldSpan.end();
          break;
        }
      }
    }
    return span;
  }

  /**
   * The handler of a delivery settled. A failure ends its span at once (failed); success ends it
   * only when nothing will ack the message (`noAck`), else the ack, nack or reject does.
   */
  handlerSettled(span: Span, message: AmqpMessage, noAck: boolean, failed: boolean, error: unknown): void {
    try {
      if (!failed && !noAck) return;
      const tag = message.fields?.deliveryTag;
      if (typeof tag === 'number' && this.unacked.get(tag) === span) this.unacked.delete(tag);
      if (failed) span.fail(error);
      span.end();
    } catch (fault) {
      reportFault(this.tracer, 'instrumentAmqplib', 'end a consumer span', fault);
    }
  }

  /**
   * `ack`, `nack` or `reject` of `message` (with `allUpTo`, of every delivery up to it): ends
   * their spans, failed for a nack or reject (with the `requeue` decision as a tag).
   */
  settle(message: unknown, allUpTo: unknown, outcome: 'ack' | 'nack' | 'reject', requeue: unknown): void {
    try {
      const tag = (message as AmqpMessage | null | undefined)?.fields?.deliveryTag;
      if (typeof tag !== 'number') return;
      if (allUpTo === true) {
        for (const [t, span] of this.unacked) {
          if (t > tag) break;
          this.unacked.delete(t);
          endSettled(span, outcome, requeue);
        }
        return;
      }
      const span = this.unacked.get(tag);
      if (span === undefined) return;
      this.unacked.delete(tag);
      endSettled(span, outcome, requeue);
    } catch (fault) {
      reportFault(this.tracer, 'instrumentAmqplib', 'end a consumer span', fault);
    }
  }

  /** `ackAll`/`nackAll`, channel close, undo: ends every waiting span. */
  settleAll(outcome: 'ack' | 'nack' | 'channel closed' | 'untraced', requeue?: unknown): void {
    for (const span of this.unacked.values()) {
      if (outcome === 'ack' || outcome === 'nack') endSettled(span, outcome, requeue);
      else {
        span.annotate(outcome);
        span.end();
      }
    }
    this.unacked.clear();
  }
}

function endSettled(span: Span, outcome: 'ack' | 'nack' | 'reject', requeue: unknown): void {
  if (outcome !== 'ack') {
    // amqplib's default for both is to requeue.
    const requeued = requeue !== false;
    span.tag('messaging.rabbitmq.requeue', requeued);
    span.fail(outcome === 'nack' ? 'message nacked' : 'message rejected');
  }
  span.end();
}

function tagIds(span: Span, messageId: unknown, correlationId: unknown): void {
  if (typeof messageId === 'string' && messageId !== '') span.tag('messaging.message.id', messageId);
  if (typeof correlationId === 'string' && correlationId !== '') span.tag('messaging.message.conversation_id', correlationId);
}
