import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * Decides whether a request may see the trace page. Return (or resolve to) `true` to allow;
 * anything else, a throw or a rejection answers 403.
 */
export type Authorize = (req: IncomingMessage) => boolean | Promise<boolean>;

// A proxy on the same host makes every request look local; these headers betray it.
const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip', 'x-forwarded-host', 'via'];

/**
 * Whether `address` is a loopback address: 127.0.0.0/8, `::1`, or an IPv4-mapped
 * `::ffff:127.x.x.x` (Node reports IPv4 clients of a dual-stack server that way).
 */
export function isLoopback(address: string | undefined): boolean {
  if (typeof address !== 'string') return false;
  let ip = address.toLowerCase();
  if (ip.startsWith('::ffff:')) ip = ip.slice(7);
  if (ip === '::1' || ip === '0:0:0:0:0:0:0:1') return true;
  return isIP(ip) === 4 && ip.startsWith('127.');
}

/**
 * The default `authorize`: the peer of the socket (never `X-Forwarded-For`, which any client can
 * write) is a loopback address, and no proxy forwarded the request. Behind a reverse proxy on the
 * same host, pass your own `authorize` instead.
 */
export function loopbackOnly(req: IncomingMessage): boolean {
  if (!isLoopback(req.socket?.remoteAddress)) return false;
  for (const name of FORWARDING_HEADERS) if (req.headers[name] !== undefined) return false;
  return true;
}
