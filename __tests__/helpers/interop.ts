/**
 * Helpers for the interop tests (`__tests__/interop/`): a peer service (OpenTelemetry JS,
 * zipkin-js) running in a child process and answering over IPC, and the tomograph service in
 * the test process that calls it and is called by it.
 *
 *   const peer = await startPeer('interop-otel-service.js');
 *   const ours = await startOurService({ peerUrl: `${peer.url}/otel` });
 *   await peer.ask({ type: 'config', nextUrl: ours.url });
 *   await send(`${ours.url}/front/1`);      // ours -> peer -> ours
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { instrumentHttp } from '../../integrations/http';
import { expressMiddleware } from '../../middleware/express';
import type { TracerOptions } from '../../lib/options';
import type { FinishedSpan, PropagationFormat } from '../../lib/types';
import type http from 'node:http';
import { getText, listen, type TestServer } from './http-servers';
import { collectingTracer, type CollectingTracer } from './span-collector';

const FIXTURES = path.join(__dirname, '..', 'fixtures');

/** A peer service in a child process. */
export interface Peer {
  child: ChildProcess;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** What the child said when ready (its library versions, ...). */
  ready: Record<string, unknown>;
  /** Sends `message` with a fresh `id` and resolves with the child's answer of that id. */
  ask<T = Record<string, unknown>>(message: Record<string, unknown>): Promise<T>;
  /** Disconnects the child (it exits on disconnect) and waits for it to exit. */
  close(): Promise<void>;
}

/** Forks `__tests__/fixtures/<fixture>` and waits for its `{ type: 'ready', port }`. */
export async function startPeer(fixture: string, env: Record<string, string> = {}): Promise<Peer> {
  const child = fork(path.join(FIXTURES, fixture), [], {
    env: { ...process.env, ...env },
    // Jest's own flags are not for the child.
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // Settles on exit; an 'error' event (spawn failure) is reported by the ready wait below.
  const exited = once(child, 'exit').catch(() => undefined);
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${fixture} exited (${code}) before it was ready`));
    child.once('exit', onExit);
    child.once('error', reject);
    child.on('message', function onReady(message: { type?: string }) {
      if (message?.type !== 'ready') return;
      child.off('message', onReady);
      child.off('exit', onExit);
      resolve(message as Record<string, unknown>);
    });
  });
  let nextId = 0;
  return {
    child,
    url: `http://127.0.0.1:${ready.port as number}`,
    ready,
    ask<T>(message: Record<string, unknown>): Promise<T> {
      const id = ++nextId;
      return new Promise<T>((resolve, reject) => {
        const onMessage = (answer: { id?: number }) => {
          if (answer?.id !== id) return;
          child.off('message', onMessage);
          child.off('exit', onExit);
          resolve(answer as T);
        };
        const onExit = () => reject(new Error(`${fixture} exited while asked ${JSON.stringify(message)}`));
        child.on('message', onMessage);
        child.once('exit', onExit);
        child.send({ ...message, id });
      });
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        if (child.connected) child.disconnect();
        await exited;
      }
    },
  };
}

/** The tomograph service of an interop test. */
export interface OurService extends CollectingTracer {
  server: TestServer;
  url: string;
  close(): Promise<void>;
}


/**
 * Starts the tomograph service (Express 5, `expressMiddleware`, `instrumentHttp`, a collecting
 * tracer with `tracerOptions`) with two routes:
 *   GET /front/:n   calls `${peerPath}/:n` and answers `front>` + its body
 *   GET /back/:n    answers `back[<the trace headers it received, as JSON>]`
 */
export async function startOurService(peerPath: () => string, tracerOptions: TracerOptions = {}): Promise<OurService> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const express = require('express');
  const traced = collectingTracer({ serviceName: 'tomograph-service', ...tracerOptions });
  const app = express();
  app.use(expressMiddleware({ tracer: traced.tracer }));
  app.get('/front/:n', async (req: { params: { n: string } }, res: http.ServerResponse) => {
    res.end('front>' + (await getText(`${peerPath()}/${req.params.n}`)));
  });
  app.get('/back/:n', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const seen: Record<string, unknown> = {};
    for (const name of ['traceparent', 'x-trace-info', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags']) {
      if (req.headers[name] !== undefined) seen[name] = req.headers[name];
    }
    res.end('back[' + JSON.stringify(seen) + ']');
  });
  const undo = instrumentHttp({ tracer: traced.tracer });
  const server = await listen(app);
  return {
    ...traced,
    server,
    url: server.url,
    async close() {
      undo();
      await server.close();
      await traced.tracer.shutdown();
    },
  };
}

/** The headers `/back/:n` reported, from a body ending in `back[{...}]`. */
export function backHeaders(body: string): Record<string, string> {
  const start = body.indexOf('back[');
  if (start === -1 || !body.endsWith(']')) throw new Error(`no back[...] in ${JSON.stringify(body)}`);
  return JSON.parse(body.slice(start + 5, -1)) as Record<string, string>;
}

/** A peer and the tomograph service that calls it, for one test file or `describe`. */
export interface PeerPair {
  readonly peer: Peer;
  readonly ours: OurService;
  /** The peer's SERVER and CLIENT spans of `traceIds`, as its `collect` answers them. */
  collect<S>(traceIds: string[]): Promise<{ spans: S[]; timedOut: boolean }>;
}

/**
 * Starts the peer (`fixture`, with `env`) and our service calling `${peer.url}${peerPath}` before
 * the tests, points the peer back at ours, clears our spans before each test and closes both
 * after the last.
 */
export function usePeerPair(
  fixture: string,
  peerPath: string,
  options: { env?: Record<string, string>; tracerOptions?: TracerOptions } = {},
): PeerPair {
  let peer: Peer | undefined;
  let ours: OurService | undefined;
  beforeAll(async () => {
    const started = await startPeer(fixture, options.env);
    peer = started;
    ours = await startOurService(() => `${started.url}${peerPath}`, options.tracerOptions);
    await started.ask({ type: 'config', nextUrl: ours.url });
  });
  afterAll(async () => {
    await ours?.close();
    await peer?.close();
  });
  beforeEach(() => ours?.spans.reset());
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the peer pair starts in beforeAll');
    return value;
  };
  return {
    get peer() {
      return started(peer);
    },
    get ours() {
      return started(ours);
    },
    collect: (traceIds) => started(peer).ask({ type: 'collect', traceIds, kinds: ['SERVER', 'CLIENT'] }),
  };
}

/**
 * A round trip whose first leg leaves through a second service of ours that does not send the
 * header the peer reads (`propagation` without it): GET /front/blind there, the peer, then
 * /back/blind on the pair's service. Resolves with our front and back SERVER spans.
 */
export async function blindRoundTrip(
  pair: PeerPair,
  peerPath: string,
  propagation: readonly PropagationFormat[],
): Promise<{ front: FinishedSpan; back: FinishedSpan }> {
  const blind = await startOurService(() => `${pair.peer.url}${peerPath}`, { propagation });
  try {
    const res = await getText(`${blind.url}/front/blind`);
    if (!res.startsWith('front>')) throw new Error(`unexpected answer ${JSON.stringify(res)}`);
    const front = await blind.spans.waitFor((s) => s.kind === 'SERVER' && s.tags['http.path'] === '/front/blind');
    // /back/blind was called by the peer, to the pair's service (the `nextUrl` it was given).
    const back = await pair.ours.spans.waitFor((s) => s.kind === 'SERVER' && s.tags['http.path'] === '/back/blind');
    return { front, back };
  } finally {
    await blind.close();
  }
}
