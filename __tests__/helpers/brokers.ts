/**
 * The shared brokers the queue tests use (RabbitMQ 127.0.0.1:5672 guest/guest, Redis
 * 127.0.0.1:6379): a reachability check made once when a test file loads (an absent broker skips
 * its suites with a message, except under `CI=true`), names unique to this process and run, and a
 * TCP proxy on loopback that a test can cut, so "the broker went away" never stops the broker the
 * other test files (and engineers) share.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { describeIfService, isServiceReachable } from './service-reachable';

/** The brokers the tests know, and where they listen. */
export const brokers = {
  rabbitmq: { host: '127.0.0.1', port: Number(process.env.TOMOGRAPH_TEST_RABBITMQ_PORT ?? 5672) },
  redis: { host: '127.0.0.1', port: Number(process.env.TOMOGRAPH_TEST_REDIS_PORT ?? 6379) },
} as const;

export type BrokerName = keyof typeof brokers;

/** An amqp URL for the shared RabbitMQ, or for `port` (a proxy in front of it). */
export function amqpUrl(port: number = brokers.rabbitmq.port): string {
  return `amqp://guest:guest@127.0.0.1:${port}`;
}

/** Whether the broker accepts a TCP connection within a second (checked synchronously, once). */
export function isBrokerReachable(name: BrokerName): boolean {
  return isServiceReachable(brokers[name]);
}

/** `describe` for a suite that needs the broker: skipped with a message when it is absent, unless `CI=true`. */
export function describeBroker(name: BrokerName, title: string, fn: () => void): void {
  describeIfService(name, brokers[name], isBrokerReachable(name), title, fn);
}

/** A name for a queue, exchange or key prefix that no other process or run uses. */
export function uniqueName(what: string): string {
  return `tomograph-test-${what}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** A TCP proxy on 127.0.0.1 (port 0) in front of a broker. */
export interface CuttableProxy {
  readonly port: number;
  /** Destroys every connection through the proxy, as a broker that died would, and refuses new ones. */
  cut(): void;
  /** Accepts connections again after `cut`, as a broker that came back would. */
  restore(): void;
  /** Cuts and stops listening; resolves when the server is closed. */
  close(): Promise<void>;
}

/** Starts a proxy to `target` on an ephemeral loopback port. */
export async function cuttableProxy(target: { host: string; port: number }): Promise<CuttableProxy> {
  const sockets = new Set<net.Socket>();
  let refusing = false;
  const server = net.createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const cut = (): void => {
    refusing = true;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };
  return {
    port,
    cut,
    restore: () => {
      refusing = false;
    },
    close: () => {
      cut();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
