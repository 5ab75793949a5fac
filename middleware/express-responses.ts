/**
 * What the Express middleware keeps per traced request, and when each response ends.
 *
 * Express re-prototypes every response (`Object.setPrototypeOf(res, app.response)`), and V8
 * stores a property added to such an object slowly (a fresh hidden class or a dictionary per
 * request). So nothing is added to a response: its `Exchange` sits in a module-level WeakMap
 * keyed by the response, and goes when the response does.
 *
 * A traced response ends in one of three ways, none of which costs a listener per request:
 * - it finished (the last byte went to the socket; for a streamed response, when the stream
 *   ended): Node publishes `http.server.response.finish`, which one subscriber per process hears;
 * - its connection closed first (the client went away, a timeout, `res.destroy()`): one `close`
 *   listener per connection ends the exchanges still in flight on it, pipelined ones whose
 *   responses were still queued included (those never emit `close` themselves);
 * - a response the channel does not cover (not an `http.ServerResponse`, as with HTTP/2's
 *   compatibility API, or one without a socket) gets a `close` listener of its own.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Span } from '../lib/span';

/** One traced request and its response, until the response ends. One hidden class. */
export class Exchange {
  readonly span: Span;
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  /** Called once, when the response ends; `aborted`: before it was complete. Must not throw. */
  readonly onEnd: (exchange: Exchange, aborted: boolean) => void;
  /** The connection it is in flight on, when its end comes from the finish channel. */
  connection: Connection | undefined;

  constructor(span: Span, request: IncomingMessage, response: ServerResponse, onEnd: (exchange: Exchange, aborted: boolean) => void) {
    this.span = span;
    this.request = request;
    this.response = response;
    this.onEnd = onEnd;
    this.connection = undefined;
  }
}

/** A server connection that carried a traced request: its local address and what is in flight. */
export class Connection {
  /** The server's own address, recorded as the span's host. */
  readonly host: { address?: string; port?: number };
  /** Traced exchanges not yet ended, oldest first (more than one only when pipelining). */
  readonly inFlight: Exchange[];

  constructor(socket: Socket) {
    this.host = { address: socket.localAddress, port: socket.localPort };
    this.inFlight = [];
  }
}

/** The Node channel published when a server response has finished. */
export const RESPONSE_FINISH_CHANNEL = 'http.server.response.finish';

/**
 * The exchange of every traced response until it ends; `null` for a response seen unsampled.
 * An entry goes as soon as its response ends: an entry whose value holds its own key (the
 * exchange holds the response) makes V8 keep the whole request alive until a full GC, which
 * cost more than all the rest of the middleware.
 */
const exchanges = new WeakMap<object, Exchange | null>();
const connections = new WeakMap<object, Connection>();
let subscribed = false;

/** Whether a tomograph middleware already saw this response (an outer one traces it). */
export function isSeen(response: object): boolean {
  return exchanges.has(response);
}

/** Marks a response seen by a middleware that does not record it (an unsampled trace). */
export function markSeen(response: object): void {
  exchanges.set(response, null);
}

/** The exchange of a traced response that has not ended yet. */
export function exchangeOf(response: object): Exchange | undefined {
  return exchanges.get(response) ?? undefined;
}

/**
 * The connection record of a socket, made (with its one `close` listener) on the first traced
 * request: keep-alive connections carry many. Undefined without a socket.
 */
export function connectionOf(socket: Socket | null | undefined): Connection | undefined {
  if (socket === null || socket === undefined) return undefined;
  let connection = connections.get(socket);
  if (connection === undefined) {
    connection = new Connection(socket);
    connections.set(socket, connection);
    socket.on('close', onConnectionClose);
  }
  return connection;
}

/** Registers the exchange of a recording span: it is ended exactly once, when its response ends. */
export function track(exchange: Exchange, connection: Connection | undefined): void {
  exchanges.set(exchange.response, exchange);
  if (connection !== undefined && subscribed && exchange.response instanceof ServerResponse) {
    exchange.connection = connection;
    connection.inFlight.push(exchange);
  } else {
    exchange.response.on('close', onResponseClose);
  }
}

/** Only for an exchange in `exchanges`: removes it, then calls its `onEnd`. */
function end(exchange: Exchange, aborted: boolean): void {
  exchanges.delete(exchange.response);
  const connection = exchange.connection;
  if (connection !== undefined) {
    const inFlight = connection.inFlight;
    // Responses on one connection finish in order: this is nearly always the first.
    if (inFlight[0] === exchange) inFlight.shift();
    else {
      const i = inFlight.indexOf(exchange);
      if (i !== -1) inFlight.splice(i, 1);
    }
  }
  exchange.onEnd(exchange, aborted);
}

function onResponseFinish(message: unknown): void {
  const response = (message as { response?: object } | null | undefined)?.response;
  if (response === undefined || response === null) return;
  const exchange = exchanges.get(response);
  if (exchange !== undefined && exchange !== null) end(exchange, false);
}

function onConnectionClose(this: Socket): void {
  const connection = connections.get(this);
  if (connection === undefined) return;
  const inFlight = connection.inFlight;
  while (inFlight.length > 0) end(inFlight[0], true);
}

function onResponseClose(this: ServerResponse): void {
  const exchange = exchanges.get(this);
  // 'close' without 'finish': the client left before the response was complete.
  if (exchange !== undefined && exchange !== null) end(exchange, !this.writableFinished);
}

/** Subscribes to the finish channel (once per process). Never throws. */
export function listenToResponses(): void {
  if (subscribed) return;
  try {
    diagnosticsChannel.subscribe(RESPONSE_FINISH_CHANNEL, onResponseFinish);
    subscribed = true;
  } catch {
    // Without the channel, every response gets its own `close` listener.
  }
}
