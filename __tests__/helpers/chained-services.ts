/**
 * Two traced services in one process, A calling B over HTTP, each with its own Tracer (its own
 * context store), its own `expressMiddleware` and its own `instrumentHttp`; B calls a plain,
 * untraced server C. For tests of cross-service propagation and for the interop benchmarks.
 *
 *   const chain = await startChain({ client: 'fetch' });
 *   await send(`${chain.a.url}/a/7`);          // A: GET /a/:n  ->  B: GET /b/:n  ->  C
 *   ...
 *   await chain.close();
 */
import { instrumentHttp } from '../../integrations/http';
import { expressMiddleware } from '../../middleware/express';
import type http from 'node:http';
import { getText, listen, type TestServer } from './http-servers';
import { collectingTracer, type CollectingTracer } from './span-collector';

/** One traced service: its server, tracer and collected spans. */
export interface Service extends CollectingTracer {
  server: TestServer;
  url: string;
}

/** A running A -> B -> C chain. */
export interface Chain {
  a: Service;
  b: Service;
  /** The untraced leaf B calls. */
  c: TestServer;
  /** Undoes both instrumentations and closes the three servers. */
  close(): Promise<void>;
}

/** How a service calls the next one. */
export type ClientKind = 'http' | 'fetch';

function call(kind: ClientKind, url: string): Promise<string> {
  return kind === 'fetch' ? fetch(url).then((res) => res.text()) : getText(url);
}

/**
 * Starts C, then B (`GET /b/:n` calls C), then A (`GET /a/:n` calls B `/b/:n`), each service
 * with `express` (default: Express 5) and calling the next with `client` (default `http`).
 * B is instrumented after A, so a subscriber that took the latest instrumentation instead of
 * the one whose span is current would trace A's calls with B's tracer.
 */
export async function startChain(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  options: { client?: ClientKind; express?: any } = {},
): Promise<Chain> {
  const kind = options.client ?? 'http';
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const express = options.express ?? require('express');
  const c = await listen((_req, res) => res.end('c'));

  const aTracer = collectingTracer({ serviceName: 'service-a' });
  const bTracer = collectingTracer({ serviceName: 'service-b' });
  let bUrl = '';

  const appA = express();
  appA.use(expressMiddleware({ tracer: aTracer.tracer }));
  appA.get('/a/:n', async (req: { params: { n: string } }, res: http.ServerResponse) => {
    res.end('a>' + (await call(kind, `${bUrl}/b/${req.params.n}`)));
  });
  const undoA = instrumentHttp({ tracer: aTracer.tracer, remoteServiceName: () => 'service-b' });

  const appB = express();
  appB.use(expressMiddleware({ tracer: bTracer.tracer }));
  appB.get('/b/:n', async (_req: unknown, res: http.ServerResponse) => {
    res.end('b>' + (await call(kind, `${c.url}/c`)));
  });
  const undoB = instrumentHttp({ tracer: bTracer.tracer, remoteServiceName: () => 'service-c' });

  const serverB = await listen(appB);
  bUrl = serverB.url;
  const serverA = await listen(appA);
  return {
    a: { ...aTracer, server: serverA, url: serverA.url },
    b: { ...bTracer, server: serverB, url: serverB.url },
    c,
    async close() {
      undoA();
      undoB();
      await Promise.all([serverA.close(), serverB.close(), c.close()]);
    },
  };
}
