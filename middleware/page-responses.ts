import type { ServerResponse } from 'node:http';
import { JSON_CSP } from './trace-page-html';
import { safeJson } from './trace-page-json';

/**
 * How the trace page and the stats page answer: every response carries the same hardening
 * headers (its own CSP, no sniffing, no framing, no referrer, not cached), so both pages share
 * one writer rather than two lists that could drift apart.
 */
export function send(res: ServerResponse, status: number, type: string, body: string, csp: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Content-Security-Policy', csp);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Cache-Control', 'no-store');
  // Node leaves the body out on its own for HEAD requests.
  res.end(body);
}

/** 403 for a caller the access rule refused (nothing when a response already started). */
export function forbid(res: ServerResponse): void {
  if (res.headersSent) return;
  send(res, 403, 'text/plain; charset=utf-8', 'Forbidden\n', JSON_CSP);
}

/** JSON with `<`, `>` and `&` escaped, so no value can become markup. */
export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', safeJson(value), JSON_CSP);
}
