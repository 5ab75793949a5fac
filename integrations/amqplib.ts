/**
 * `tomograph/amqplib`: traces through RabbitMQ. A PRODUCER span per `publish`/`sendToQueue`
 * with the trace in the message's headers, a CONSUMER span per delivered message continuing it.
 *
 *   const ch = await connection.createConfirmChannel();
 *   const undo = instrumentAmqplib(ch);
 */
import { invalidOption } from '../lib/options';
import { NOOP_SPAN, type Span } from '../lib/span';
import type { Endpoint, HeaderCarrier } from '../lib/types';
import { type AmqpMessage, type AmqpPublishOptions, ChannelTracing } from './amqplib-spans';
import {
  type MessagingOptions, type MethodPatch, patchMethod, reportFault, resolveMessagingOptions, restoreMethods, whenSettled,
} from './messaging-options';

/** Options for `instrumentAmqplib`. */
export interface AmqplibInstrumentationOptions extends MessagingOptions {}

/** An amqplib channel (promise or callback API, plain or confirm): what `createChannel` gives. */
export interface AmqpChannel {
  publish: Function;
  consume: Function;
  ack: Function;
  on: Function;
  removeListener: Function;
}

const KNOWN_OPTIONS = ['tracer', 'root'] as const;
/** On an instrumented channel: its `ChannelTracing`. */
const INSTRUMENTED: unique symbol = Symbol('tomograph.amqplib');

/**
 * Traces one amqplib channel (tested with amqplib 2.3; promise or callback API, `createChannel` or
 * `createConfirmChannel`), by wrapping methods on this channel object only:
 *
 * - `publish` and `sendToQueue`: a PRODUCER span `publish <exchange>` (`publish <queue>` on the
 *   default exchange), a child of the current span, whose token goes into a copy of the
 *   message's `headers` in the tracer's `propagation` formats. It ends when `publish` returns on
 *   a plain channel, and when the broker confirms (or nacks: `error`) on a confirm channel.
 * - `consume`: each delivery gets a CONSUMER span `process <queue>`, a child of the producer's
 *   span (a new root when the headers carry no valid token; malformed ones are counted in
 *   `stats().malformedHeaders`), current while the handler runs. It ends at the message's `ack`
 *   (or `nack`/`reject`, which mark it failed, or `ackAll`/`nackAll`, or an `ack` with `allUpTo`);
 *   when the handler throws or rejects (failed, the error passing through unchanged); with
 *   `noAck: true`, when the handler returns or its promise settles; at the latest when the
 *   channel closes (note `channel closed`).
 *
 * Consumers registered before this call are not traced. Throws a TypeError (code
 * `TOMOGRAPH_ERR_INVALID_OPTION`) on a wrong argument; never after.
 *
 * @returns undo: restores the channel's methods (consumers registered meanwhile pass messages
 *   straight through) and ends the spans still waiting for an ack (note `untraced`). Idempotent.
 */
export function instrumentAmqplib(channel: AmqpChannel, options: AmqplibInstrumentationOptions = {}): () => void {
  if (
    channel === null || typeof channel !== 'object' ||
    typeof channel.publish !== 'function' || typeof channel.consume !== 'function' ||
    typeof channel.ack !== 'function' || typeof channel.on !== 'function'
  ) {
    throw invalidChannel();
  }
  const { tracer, root } = resolveMessagingOptions('instrumentAmqplib', options, KNOWN_OPTIONS);
  const c = channel as unknown as Record<string | symbol, unknown>;
  const existing = c[INSTRUMENTED] as ChannelTracing | undefined;
  if (existing !== undefined && existing.active) {
    reportFault(tracer, 'instrumentAmqplib', 'instrument a channel twice (already instrumented; nothing done)', undefined);
    return () => undefined;
  }

  // A confirm channel's publish takes the broker's confirmation callback as a fifth argument.
  const t = new ChannelTracing(tracer, root, brokerEndpoint(channel), typeof c.waitForConfirms === 'function');
  const patches: MethodPatch[] = [];
  patchMethod(patches, channel, 'publish', (previous) => tracedPublish(t, previous));
  patchMethod(patches, channel, 'consume', (previous) => tracedConsume(t, previous));
  patchMethod(patches, channel, 'ack', (previous) =>
    function (this: unknown, message: unknown, allUpTo?: unknown) {
      if (t.active) t.settle(message, allUpTo, 'ack', undefined);
      return previous.apply(this, arguments);
    },
  );
  patchMethod(patches, channel, 'nack', (previous) =>
    function (this: unknown, message: unknown, allUpTo?: unknown, requeue?: unknown) {
      if (t.active) t.settle(message, allUpTo, 'nack', requeue);
      return previous.apply(this, arguments);
    },
  );
  patchMethod(patches, channel, 'reject', (previous) =>
    function (this: unknown, message: unknown, requeue?: unknown) {
      if (t.active) t.settle(message, false, 'reject', requeue);
      return previous.apply(this, arguments);
    },
  );
  patchMethod(patches, channel, 'ackAll', (previous) =>
    function (this: unknown) {
      if (t.active) t.settleAll('ack');
      return previous.apply(this, arguments);
    },
  );
  patchMethod(patches, channel, 'nackAll', (previous) =>
    function (this: unknown, requeue?: unknown) {
      if (t.active) t.settleAll('nack', requeue);
      return previous.apply(this, arguments);
    },
  );
  // Never an 'error' listener: one would stop the channel's errors from reaching the app.
  const onClose = (): void => t.settleAll('channel closed');
  channel.on('close', onClose);
  c[INSTRUMENTED] = t;

  return function undoInstrumentAmqplib(): void {
    if (!t.active) return;
    t.active = false;
    restoreMethods(patches);
    try {
      channel.removeListener('close', onClose);
    } catch {
      // A channel whose emitter was tampered with keeps a listener that only ends spans.
    }
    t.settleAll('untraced');
    if (c[INSTRUMENTED] === t) delete c[INSTRUMENTED];
  };
}

function tracedPublish(t: ChannelTracing, previous: Function): Function {
  return function publish(this: unknown, exchange: unknown, routingKey: unknown, content: unknown, options?: unknown, confirmed?: unknown) {
    if (!t.on) return previous.apply(this, arguments);
    const args = arguments;
    let span: Span | undefined;
    let traced: AmqpPublishOptions;
    try {
      const given = options !== null && typeof options === 'object' ? (options as AmqpPublishOptions) : undefined;
      span = t.startProducer(exchange, routingKey, content, given);
      if (span === undefined) return previous.apply(this, arguments);
      // A copy: the caller may reuse its options (and headers) object for other messages.
      const headers: Record<string, unknown> = { ...given?.headers };
      t.tracer.inject(headers as HeaderCarrier, span);
      traced = { ...given, headers };
    } catch (fault) {
      reportFault(t.tracer, 'instrumentAmqplib', 'start a publish span', fault);
      span?.end();
      return previous.apply(this, arguments);
    }
    const producer = span;
    let result: unknown;
    try {
      if (t.confirm) {
        const callback = typeof confirmed === 'function' ? confirmed : undefined;
        result = previous.call(this, exchange, routingKey, content, traced, function onConfirm(this: unknown, error: unknown) {
          if (error !== null && error !== undefined) producer.fail(error);
          producer.end();
          if (callback !== undefined) return callback.apply(this, arguments);
        });
      } else {
        result = previous.call(this, exchange, routingKey, content, traced);
      }
    } catch (error) {
      // amqplib refuses a headers table over 64 KiB before sending anything: if ours tipped it
      // over, the message goes as the app made it, without a token, rather than not at all.
      if (error instanceof RangeError) return publishUntraced(t, producer, previous, this, args, error);
      // The app's error (a closed channel, say): recorded, then passed on as it is.
      producer.fail(error);
      producer.end();
      throw error;
    }
    // false: the socket's buffer is full and the app should wait for 'drain'.
    if (result === false) producer.annotate('buffer full');
    if (!t.confirm) producer.end();
    return result;
  };
}

/** Publishes with the caller's own arguments after the traced ones were refused as too large. */
function publishUntraced(t: ChannelTracing, producer: Span, previous: Function, self: unknown, args: IArguments, first: RangeError): unknown {
  let result: unknown;
  try {
    result = previous.apply(self, args);
  } catch (error) {
    // Too large without our headers too: the app's own error.
    producer.fail(error);
    producer.end();
    throw error;
  }
  reportFault(t.tracer, 'instrumentAmqplib', 'add trace headers (the message headers would be over 64 KiB)', first);
  producer.annotate('trace headers dropped');
  producer.end();
  return result;
}

function tracedConsume(t: ChannelTracing, previous: Function): Function {
  return function consume(this: unknown, queue: unknown, handler: unknown, options?: unknown) {
    if (!t.on || typeof handler !== 'function') return previous.apply(this, arguments);
    const queueName = typeof queue === 'string' ? queue : String(queue);
    const noAck = (options as { noAck?: unknown } | null | undefined)?.noAck === true;
    const userHandler = handler as (message: AmqpMessage | null) => unknown;
    const traced = function (this: unknown, message: AmqpMessage | null): unknown {
      // null: the broker cancelled the consumer.
      if (!t.on || message === null || typeof message !== 'object') return userHandler.apply(this, arguments as never);
      let span: Span;
      try {
        span = t.startConsumer(queueName, message, noAck);
      } catch (fault) {
        reportFault(t.tracer, 'instrumentAmqplib', 'start a delivery span', fault);
        return userHandler.apply(this, arguments as never);
      }
      if (span === NOOP_SPAN) return userHandler.apply(this, arguments as never);
      const self = this;
      return t.tracer.withSpan(span, () => {
        let result: unknown;
        try {
          result = userHandler.call(self, message);
        } catch (error) {
          t.handlerSettled(span, message, noAck, true, error);
          throw error;
        }
        whenSettled(result, (failed, error) => t.handlerSettled(span, message, noAck, failed, error));
        return result;
      });
    };
    const args = Array.prototype.slice.call(arguments);
    args[1] = traced;
    return previous.apply(this, args);
  };
}

/** The broker this channel talks to, from its connection's socket: every span's `remote`. */
function brokerEndpoint(channel: AmqpChannel): Endpoint {
  const remote: Endpoint = { service: 'rabbitmq' };
  try {
    const stream = (channel as { connection?: { stream?: { remoteAddress?: unknown; remotePort?: unknown } } }).connection?.stream;
    if (typeof stream?.remoteAddress === 'string') remote.address = stream.remoteAddress;
    if (typeof stream?.remotePort === 'number') remote.port = stream.remotePort;
  } catch {
    // No socket to read (a test double, a recovering wrapper): spans name the service only.
  }
  return Object.freeze(remote);
}

function invalidChannel(): TypeError {
  return invalidOption('instrumentAmqplib() takes an amqplib channel, what connection.createChannel() or createConfirmChannel() gives');
}
