/**
 * Node < 22.12 only: `request`/`get` of the `http` and `https` modules, wrapped so a new
 * `ClientRequest` is handed to the integration before its headers are rendered (Node 20 has no
 * channel early enough; see `http-client.ts`). A wrapper calls the original with the caller's
 * own `this` and arguments and returns its request unchanged; `get` is rebuilt as Node builds
 * it (`request(...)` then `end()`), since Node's own `get` calls the unwrapped `request`.
 *
 * Installed on the module objects, reversibly: removal puts the originals back where our
 * wrappers are still in place (if someone wrapped ours since, theirs keeps calling ours, which
 * then find no instrumentation and just pass through). `syncBuiltinESMExports` carries the swap
 * to ESM named imports (`import { request } from 'node:http'`).
 */
import type { ClientRequest } from 'node:http';
import { syncBuiltinESMExports } from 'node:module';
import http = require('node:http');
import https = require('node:https');

type RequestFunction = (...args: unknown[]) => ClientRequest;

interface Swap {
  target: Record<string, unknown>;
  name: 'request' | 'get';
  original: unknown;
  wrapper: RequestFunction;
}

let swaps: Swap[] | undefined;

/** Wraps `http.request`, `http.get`, `https.request`, `https.get` (once). Never throws. */
export function installRequestWrappers(onCreated: (request: ClientRequest) => void): void {
  if (swaps !== undefined) return;
  swaps = [];
  try {
    for (const mod of [http, https]) {
      const target = mod as unknown as Record<string, unknown>;
      const originalRequest = target.request as RequestFunction;
      const request = wrapRequest(originalRequest, onCreated);
      const get = wrapGet(request);
      swaps.push({ target, name: 'request', original: originalRequest, wrapper: request });
      swaps.push({ target, name: 'get', original: target.get, wrapper: get });
    }
    for (const swap of swaps) swap.target[swap.name] = swap.wrapper;
    syncBuiltinESMExports();
  } catch {
    // A frozen module (a hardened runtime): requests still get spans at request.start, unheaded.
  }
}

/** Puts the originals back where our wrappers are still installed. Never throws. */
export function removeRequestWrappers(): void {
  if (swaps === undefined) return;
  try {
    for (const swap of swaps) if (swap.target[swap.name] === swap.wrapper) swap.target[swap.name] = swap.original;
    syncBuiltinESMExports();
  } catch {
    // As above: nothing to undo on a module we could not change.
  }
  swaps = undefined;
}

function wrapRequest(original: RequestFunction, onCreated: (request: ClientRequest) => void): RequestFunction {
  return function request(this: unknown): ClientRequest {
    // eslint-disable-next-line prefer-rest-params
    const req = Reflect.apply(original, this, arguments) as ClientRequest;
    onCreated(req);
    return req;
  };
}

function wrapGet(request: RequestFunction): RequestFunction {
  return function get(this: unknown): ClientRequest {
    // eslint-disable-next-line prefer-rest-params
    const req = Reflect.apply(request, this, arguments) as ClientRequest;
    req.end();
    return req;
  };
}
