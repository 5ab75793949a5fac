/**
 * The conformance suite every context store runs (`context-als.test.ts`, `context-cls.test.ts`).
 *
 * It holds a store to one contract: a span started anywhere gets as parent the span current
 * where it started, and no span is ever current in another flow. The main test runs 2,000
 * concurrent flows through random mixes of timers, promise chains, setImmediate, nextTick,
 * EventEmitter callbacks, streams, custom thenables, nested `trace`, `start`/`stop` and failures,
 * from a printed seed (replay with `TOMOGRAPH_TEST_SEED=<seed>`). Constructs that hand a callback
 * from one flow to another are not carried by any async-context store; `boundaries` says, per
 * store, what each one actually gives, and the suite pins exactly that.
 */
import { AsyncResource } from 'node:async_hooks';
import crypto from 'node:crypto';
import dns from 'node:dns';
import fs from 'node:fs';
import net from 'node:net';
import { setImmediate as immediate, setTimeout as sleep } from 'node:timers/promises';
import zlib from 'node:zlib';
import { EventEmitter, EventEmitterAsyncResource } from 'node:events';
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MessageChannel } from 'node:worker_threads';
import type { ContextStoreName } from '../../lib/context';
import type { Span } from '../../lib/span';
import type { Tracer } from '../../lib/tracer';
import type { FinishedSpan } from '../../lib/types';
import { deferred, pick, seededRandom, testSeed, testTracer } from './core-fixtures';

/** What a flow sees in a callback that another flow runs: its own span, or the other's. */
export type Boundary = 'carried' | 'lost';

/** Per store: what each cross-flow construct gives (README, "Context stores", lists the same). */
export interface BoundaryBehaviour {
  /** A plain callback that flow A hands to code that flow B calls (a connection pool's waiter). */
  callbackRunByOtherFlow: Boundary;
  /** The same callback wrapped with `AsyncResource.bind` in flow A. */
  boundCallbackRunByOtherFlow: Boundary;
  /** A listener that flow A adds to an EventEmitter that flow B emits. */
  listenerEmittedByOtherFlow: Boundary;
  /** The same with an `EventEmitterAsyncResource` made in flow A. */
  asyncResourceEmitterEmittedByOtherFlow: Boundary;
  /** A `data` listener in flow A on a Readable that flow B pushes into. */
  streamPushedByOtherFlow: Boundary;
  /** A `message` listener in flow A on a MessagePort made outside it. */
  messagePortMadeElsewhere: Boundary;
  /** `await` in flow A on a custom thenable that flow B resolves. */
  awaitThenableResolvedByOtherFlow: Boundary;
  /** `await` in flow A on a promise that flow B created and resolves. */
  awaitPromiseOfOtherFlow: Boundary;
}

/**
 * What both of tomograph's stores give: AsyncLocalStorage and cls-hooked (on async_hooks) follow
 * every async resource from where it was made, so a callback, listener, stream or port that
 * another flow drives runs in that flow's context unless bound (AsyncResource.bind,
 * EventEmitterAsyncResource); `await` keeps the awaiting flow's.
 */
export const ASYNC_RESOURCE_BOUNDARIES: BoundaryBehaviour = {
  callbackRunByOtherFlow: 'lost',
  boundCallbackRunByOtherFlow: 'carried',
  listenerEmittedByOtherFlow: 'lost',
  asyncResourceEmitterEmittedByOtherFlow: 'carried',
  streamPushedByOtherFlow: 'lost',
  messagePortMadeElsewhere: 'lost',
  awaitThenableResolvedByOtherFlow: 'carried',
  awaitPromiseOfOtherFlow: 'carried',
};

const FLOWS = 2000;
const MAX_STEPS = 5;
const MAX_DEPTH = 2;

/** Runs the whole conformance suite against one context store. */
export function contextConformance(context: ContextStoreName, boundaries: BoundaryBehaviour): void {
  describe(`context store conformance: ${context}`, () => {
    randomFlows(context);
    nodeCallbacks(context);
    scoping(context);
    startStop(context);
    boundaryConstructs(context, boundaries);
  });
}

/* ------------------------------------------------------------------------------------------ */

function randomFlows(context: ContextStoreName): void {
  const seed = testSeed();

  it(`${FLOWS} concurrent flows with random awaits keep every parent and leak nothing (seed ${seed})`, async () => {
    const random = seededRandom(seed);
    const { tracer, spans } = testTracer({ context });
    /** Child span name -> the id of the span that was current where it started. */
    const expectedParent = new Map<string, string | undefined>();
    /** Child span name -> the trace it must be in. */
    const expectedTrace = new Map<string, string>();
    const problems: string[] = [];
    let counter = 0;

    const check = (where: string, expected: Span | undefined): void => {
      const current = tracer.currentSpan();
      if (current !== expected) {
        problems.push(`${where}: expected ${expected?.name ?? 'no span'}, current ${current?.name ?? 'no span'}`);
      }
    };

    /** Starts a child of whatever is current, recording what its parent must be. */
    const child = <R>(label: string, expected: Span, fn: (span: Span) => R): R => {
      check(`before ${label}`, expected);
      const name = `c${++counter}-${label}`;
      expectedParent.set(name, expected.id);
      expectedTrace.set(name, expected.traceId);
      return tracer.trace(name, (span) => {
        check(`inside ${name}`, span);
        return fn(span);
      });
    };

    // One random awaitable construct, checked on resumption: `current` must be what it was.
    const construct = async (current: Span, depth: number): Promise<void> => {
      switch (pick(random, depth < MAX_DEPTH ? 12 : 10)) {
        case 0:
          await new Promise((resolve) => setTimeout(resolve, pick(random, 3)));
          check('after setTimeout', current);
          return;
        case 1:
          await new Promise((resolve) => setImmediate(resolve));
          check('after setImmediate', current);
          return;
        case 2:
          await new Promise<void>((resolve) => process.nextTick(resolve));
          check('after nextTick', current);
          return;
        case 3:
          await Promise.resolve()
            .then(() => check('in then', current))
            .then(() => new Promise((resolve) => setTimeout(resolve, 0)))
            .then(() => child('then', current, () => undefined));
          check('after promise chain', current);
          return;
        case 4: {
          const emitter = new EventEmitter();
          const done = deferred();
          emitter.once('ping', () => {
            child('listener', current, () => undefined);
            done.resolve();
          });
          setImmediate(() => emitter.emit('ping'));
          await done.promise;
          check('after emitter', current);
          return;
        }
        case 5: {
          const items = Array.from({ length: 1 + pick(random, 3) }, (_, i) => i);
          await pipeline(
            Readable.from(items),
            new Transform({
              objectMode: true,
              transform(chunk, _encoding, callback) {
                child('transform', current, () => undefined);
                setTimeout(() => callback(null, chunk), pick(random, 2));
              },
            }),
            new Writable({
              objectMode: true,
              write(_chunk, _encoding, callback) {
                check('in writable', current);
                callback();
              },
            }),
          );
          check('after stream pipeline', current);
          return;
        }
        case 6: {
          // A custom thenable that settles later, awaited directly and returned from trace().
          const later = (value: number): PromiseLike<number> => ({
            then(onFulfilled) {
              setTimeout(() => onFulfilled?.(value), pick(random, 2));
              return undefined as never;
            },
          });
          const got = await later(1);
          check('after custom thenable', current);
          const viaTrace = await child('thenable', current, () => later(2));
          if (got !== 1 || viaTrace !== 2) problems.push(`thenable values ${got}, ${viaTrace}`);
          check('after traced thenable', current);
          return;
        }
        case 7: {
          // start/stop between awaits: current for this flow until stop, then back. It starts
          // after an await, as start() before an async function's first await would also be
          // current in its caller (pinned below, "start before the first await").
          await new Promise<void>((resolve) => process.nextTick(resolve));
          const started = tracer.start(`s${++counter}`);
          expectedParent.set(started.name, current.id);
          expectedTrace.set(started.name, current.traceId);
          check('after start', started);
          await new Promise((resolve) => setTimeout(resolve, pick(random, 2)));
          check('start survives await', started);
          child('under-start', started, () => undefined);
          tracer.stop(started.name);
          check('after stop', current);
          return;
        }
        case 8: {
          // A failing child, sync or async: the error comes back and the context is restored.
          const error = new Error('boom');
          const failing = random() < 0.5
            ? Promise.resolve().then(() => child('fail-sync', current, () => { throw error; }))
            : child('fail-async', current, async () => {
                await new Promise((resolve) => setImmediate(resolve));
                throw error;
              });
          const caught = await failing.then(() => undefined, (e: unknown) => e);
          if (caught !== error) problems.push('error object changed');
          check('after failure', current);
          return;
        }
        case 9: {
          // withSpan with an explicit other span, then back.
          const other = tracer.startSpan(`w${++counter}`);
          expectedParent.set(other.name, current.id);
          expectedTrace.set(other.name, current.traceId);
          await tracer.withSpan(other, async () => {
            await new Promise((resolve) => setImmediate(resolve));
            check('inside withSpan', other);
            child('under-with', other, () => undefined);
          });
          other.end();
          check('after withSpan', current);
          return;
        }
        default: {
          // Two concurrent sub-flows inside this one.
          await Promise.all([subFlow(current, depth + 1), subFlow(current, depth + 1)]);
          check('after sub-flows', current);
        }
      }
    };

    const subFlow = (parent: Span, depth: number): Promise<void> =>
      child('sub', parent, async (span) => {
        const steps = 1 + pick(random, MAX_STEPS - depth * 2);
        for (let i = 0; i < steps; i++) await construct(span, depth);
        check('end of sub-flow', span);
      });

    const roots: string[] = [];
    const flows = Array.from({ length: FLOWS }, (_, i) => {
      const name = `flow-${i}`;
      roots.push(name);
      return tracer.trace(name, async (span) => {
        check(`start of ${name}`, span);
        const steps = 1 + pick(random, MAX_STEPS);
        for (let k = 0; k < steps; k++) await construct(span, 0);
        check(`end of ${name}`, span);
      });
    });
    check('beside the flows', undefined);
    await Promise.all(flows);
    check('after the flows', undefined);

    const exported = await spans();
    expect(problems.slice(0, 10)).toEqual([]);
    expect(tracer.stats().spansStarted).toBe(exported.length);
    const byName = new Map<string, FinishedSpan>(exported.map((span) => [span.name, span]));
    expect(byName.size).toBe(exported.length);
    for (const name of roots) {
      const root = byName.get(name);
      expect(root?.parentId).toBeUndefined();
    }
    const wrong: string[] = [];
    for (const [name, parentId] of expectedParent) {
      const span = byName.get(name);
      if (span === undefined) wrong.push(`${name} not exported`);
      else if (span.parentId !== parentId || span.traceId !== expectedTrace.get(name)) wrong.push(name);
    }
    expect(wrong.slice(0, 10)).toEqual([]);
    expect(exported.length).toBe(roots.length + expectedParent.size);
    expect(new Set(exported.map((span) => span.traceId)).size).toBe(FLOWS);
  });
}

/* ------------------------------------------------------------------------------------------ */

function nodeCallbacks(context: ContextStoreName): void {
  it('carries the span through Node I/O callbacks, intervals and timers/promises', async () => {
    const { tracer } = testTracer({ context });
    const server = net.createServer((socket) => socket.end('hello'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const seen = await tracer.trace('io', async (span) => {
        const names: Record<string, boolean> = {};
        const mark = (what: string) => (names[what] = tracer.currentSpan() === span);
        await new Promise<void>((resolve) => fs.stat(__filename, () => resolve(void mark('fs callback'))));
        await fs.promises.readFile(__filename);
        mark('fs promise');
        await new Promise<void>((resolve) => crypto.randomBytes(8, () => resolve(void mark('crypto callback'))));
        await new Promise<void>((resolve) => zlib.gzip('x', () => resolve(void mark('zlib callback'))));
        await new Promise<void>((resolve) => dns.lookup('127.0.0.1', () => resolve(void mark('dns callback'))));
        await new Promise<void>((resolve) => {
          const socket = net.connect(port, '127.0.0.1');
          socket.on('data', () => mark('socket data'));
          socket.on('close', () => resolve(void mark('socket close')));
        });
        await new Promise<void>((resolve) => {
          let ticks = 0;
          const interval = setInterval(() => {
            if (++ticks < 3) return;
            clearInterval(interval);
            resolve(void mark('setInterval'));
          }, 1);
        });
        await sleep(1);
        mark('timers/promises setTimeout');
        await immediate();
        mark('timers/promises setImmediate');
        await new Promise<void>((resolve) => queueMicrotask(() => resolve(void mark('queueMicrotask'))));
        for await (const chunk of Readable.from(['a'])) if (chunk === 'a') mark('for await over a stream');
        return names;
      });
      expect(Object.values(seen)).toHaveLength(12);
      expect(Object.entries(seen).filter(([, ok]) => !ok).map(([what]) => what)).toEqual([]);
    } finally {
      server.close();
    }
  });
}

/* ------------------------------------------------------------------------------------------ */

function scoping(context: ContextStoreName): void {
  describe('scopes', () => {
    it('trace makes its span current inside only, sync and async', async () => {
      const { tracer } = testTracer({ context });
      let inside: Span | undefined;
      const value = tracer.trace('sync', (span) => {
        inside = tracer.currentSpan();
        expect(inside).toBe(span);
        return 7;
      });
      expect(value).toBe(7);
      expect(tracer.currentSpan()).toBeUndefined();

      const pending = tracer.trace('async', async (span) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        return tracer.currentSpan() === span;
      });
      expect(tracer.currentSpan()).toBeUndefined();
      await expect(pending).resolves.toBe(true);
      expect(tracer.currentSpan()).toBeUndefined();
    });

    it('withSpan restores the previous span when fn throws', () => {
      const { tracer } = testTracer({ context });
      const error = new Error('x');
      tracer.trace('outer', (outer) => {
        const other = tracer.startSpan('other', { parent: null });
        expect(() => tracer.withSpan(other, () => { throw error; })).toThrow(error);
        expect(tracer.currentSpan()).toBe(outer);
        tracer.withSpan(undefined, () => expect(tracer.currentSpan()).toBeUndefined());
        expect(tracer.currentSpan()).toBe(outer);
        other.end();
      });
    });

    it('a thrown primitive or frozen error reaches the caller unchanged', async () => {
      const { tracer } = testTracer({ context });
      const frozen = Object.freeze(new Error('frozen'));
      expect(() => tracer.trace('a', () => { throw frozen; })).toThrow(frozen);
      let caught: unknown;
      try {
        tracer.trace('b', () => { throw 'plain string'; });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBe('plain string');
      await expect(tracer.trace('c', async () => { throw frozen; })).rejects.toBe(frozen);
      expect(Object.keys(frozen)).toEqual([]);
      expect(tracer.currentSpan()).toBeUndefined();
    });

    it('callbacks scheduled inside a scope keep its span after the scope returned', async () => {
      const { tracer } = testTracer({ context });
      const seen = deferred<Span | undefined>();
      const span = tracer.trace('scheduler', (span) => {
        setTimeout(() => seen.resolve(tracer.currentSpan()), 1);
        return span;
      });
      expect(tracer.currentSpan()).toBeUndefined();
      expect(await seen.promise).toBe(span);
    });
  });
}

/* ------------------------------------------------------------------------------------------ */

function startStop(context: ContextStoreName): void {
  describe('start/stop never leaks out of a scope', () => {
    it('start without stop inside a sync trace ends with the trace scope', () => {
      const { tracer } = testTracer({ context });
      tracer.trace('outer', (outer) => {
        const a = tracer.start('a');
        expect(tracer.currentSpan()).toBe(a);
        tracer.start('b');
        tracer.stop('b');
        expect(tracer.currentSpan()).toBe(a);
        tracer.withSpan(outer, () => tracer.start('in-with'));
        expect(tracer.currentSpan()).toBe(a);
      });
      expect(tracer.currentSpan()).toBeUndefined();
    });

    it('start and stop in a loop leave the scope as it was', () => {
      const { tracer } = testTracer({ context });
      tracer.trace('outer', (outer) => {
        for (let i = 0; i < 1000; i++) {
          tracer.start('x');
          tracer.stop('x');
        }
        expect(tracer.currentSpan()).toBe(outer);
      });
      expect(tracer.currentSpan()).toBeUndefined();
    });

    it('start in a callback inside a scope does not leak past it, nor into later callbacks', async () => {
      const { tracer } = testTracer({ context });
      const started = deferred<Span>();
      await tracer.trace('outer', async (outer) => {
        setTimeout(() => started.resolve(tracer.start('in-timer')), 1);
        await started.promise;
        expect(tracer.currentSpan()).toBe(outer);
        await new Promise((resolve) => setTimeout(resolve, 1));
        expect(tracer.currentSpan()).toBe(outer);
      });
      expect(tracer.currentSpan()).toBeUndefined();
      await new Promise((resolve) => setTimeout(resolve, 1));
      expect(tracer.currentSpan()).toBeUndefined();
      await new Promise((resolve) => setImmediate(resolve));
      expect(tracer.currentSpan()).toBeUndefined();
    });

    it('start in a bare callback (no scope) stays in that callback', async () => {
      const { tracer } = testTracer({ context });
      const laterCallback = deferred<Span | undefined>();
      const insideCallback = deferred<Span | undefined>();
      // Both timers are made here, outside any span, so neither should see the other's start.
      setTimeout(() => {
        const span = tracer.start('bare');
        setImmediate(() => insideCallback.resolve(tracer.currentSpan()));
        void span;
      }, 1);
      setTimeout(() => laterCallback.resolve(tracer.currentSpan()), 5);
      const scheduledByStarter = await insideCallback.promise;
      expect(scheduledByStarter?.name).toBe('bare');
      expect(await laterCallback.promise).toBeUndefined();
      expect(tracer.currentSpan()).toBeUndefined();
    });

    it('start before the first await is current in the caller too, and stays so after stop (README)', async () => {
      const { tracer } = testTracer({ context });
      let started: Span | undefined;
      const callee = async (): Promise<void> => {
        started = tracer.start('early');
        await new Promise((resolve) => setImmediate(resolve));
        tracer.stop('early');
        expect(tracer.currentSpan()?.name).toBe('outer');
      };
      await tracer.trace('outer', async (outer) => {
        const pending = callee();
        // The caller's own synchronous run goes on under the span its callee started ...
        expect(tracer.currentSpan()).toBe(started);
        await pending;
        // ... and so does its continuation, made before stop ran in the callee's own flow.
        expect(tracer.currentSpan()).toBe(started);
        expect(tracer.currentSpan()).not.toBe(outer);
      });
      // The enclosing trace still bounds it.
      expect(tracer.currentSpan()).toBeUndefined();
    });

    it('sibling flows that start and stop concurrently see only their own spans', async () => {
      const { tracer, spans } = testTracer({ context });
      await tracer.trace('parent', async (parent) => {
        const sibling = async (name: string): Promise<void> => {
          await new Promise((resolve) => setImmediate(resolve));
          const own = tracer.start(name);
          for (let i = 0; i < 5; i++) {
            await new Promise((resolve) => setTimeout(resolve, i % 2));
            expect(tracer.currentSpan()).toBe(own);
            tracer.trace(`${name}-child-${i}`, () => undefined);
          }
          tracer.stop(name);
          expect(tracer.currentSpan()).toBe(parent);
        };
        await Promise.all([sibling('left'), sibling('right')]);
        expect(tracer.currentSpan()).toBe(parent);
      });
      const exported = await spans();
      const byName = new Map(exported.map((span) => [span.name, span]));
      for (const side of ['left', 'right']) {
        for (let i = 0; i < 5; i++) expect(byName.get(`${side}-child-${i}`)?.parentId).toBe(byName.get(side)?.id);
        expect(byName.get(side)?.parentId).toBe(byName.get('parent')?.id);
      }
    });
  });
}

/* ------------------------------------------------------------------------------------------ */

function boundaryConstructs(context: ContextStoreName, behaviour: BoundaryBehaviour): void {
  describe('constructs that cross flows (pinned per store)', () => {
    /**
     * Runs `setup` inside flow A (which hands something to flow B), then runs flow B, and
     * returns the span A's code saw when B triggered it, as 'carried' (A's span) or 'lost'.
     */
    async function across(
      setup: (tracer: Tracer, report: (span: Span | undefined) => void) => (() => void) | Promise<() => void>,
    ): Promise<Boundary> {
      const { tracer } = testTracer({ context });
      const seen = deferred<Span | undefined>();
      let trigger: () => void = () => undefined;
      const a = await tracer.trace('flow-a', async (span) => {
        trigger = await setup(tracer, (seenSpan) => seen.resolve(seenSpan));
        return span;
      });
      const b = tracer.trace('flow-b', (span) => {
        trigger();
        return span;
      });
      const got = await seen.promise;
      if (got === a) return 'carried';
      // "Lost" means it ran in flow B's context (or none), never in some third span.
      expect(got === b || got === undefined).toBe(true);
      return 'lost';
    }

    it('a callback run by another flow', async () => {
      const result = await across((tracer, report) => {
        const callback = () => report(tracer.currentSpan());
        return () => callback();
      });
      expect(result).toBe(behaviour.callbackRunByOtherFlow);
    });

    it('a callback bound with AsyncResource.bind, run by another flow', async () => {
      const result = await across((tracer, report) => {
        const callback = AsyncResource.bind(() => report(tracer.currentSpan()));
        return () => callback();
      });
      expect(result).toBe(behaviour.boundCallbackRunByOtherFlow);
    });

    it('an EventEmitter listener, emitted by another flow', async () => {
      const emitter = new EventEmitter();
      const result = await across((tracer, report) => {
        emitter.once('event', () => report(tracer.currentSpan()));
        return () => emitter.emit('event');
      });
      expect(result).toBe(behaviour.listenerEmittedByOtherFlow);
    });

    it('an EventEmitterAsyncResource listener, emitted by another flow', async () => {
      const result = await across((tracer, report) => {
        const emitter = new EventEmitterAsyncResource({ name: 'conformance' });
        emitter.once('event', () => report(tracer.currentSpan()));
        return () => {
          emitter.emit('event');
          emitter.emitDestroy();
        };
      });
      expect(result).toBe(behaviour.asyncResourceEmitterEmittedByOtherFlow);
    });

    it('a stream data listener, pushed by another flow', async () => {
      const stream = new PassThrough();
      const result = await across((tracer, report) => {
        stream.once('data', () => report(tracer.currentSpan()));
        return () => stream.write('x');
      });
      stream.destroy();
      expect(result).toBe(behaviour.streamPushedByOtherFlow);
    });

    it('a MessagePort message listener, port made outside the flow', async () => {
      const { port1, port2 } = new MessageChannel();
      try {
        const result = await across((tracer, report) => {
          port2.once('message', () => report(tracer.currentSpan()));
          return () => port1.postMessage('x');
        });
        expect(result).toBe(behaviour.messagePortMadeElsewhere);
      } finally {
        port1.close();
      }
    });

    it('await on a custom thenable that another flow resolves', async () => {
      const result = await across((tracer, report) => {
        let resolveThenable: () => void = () => undefined;
        const thenable = { then: (onFulfilled: () => void) => { resolveThenable = onFulfilled; } };
        const awaited = (async () => {
          await thenable;
          report(tracer.currentSpan());
        })();
        void awaited;
        return new Promise<() => void>((resolve) => setImmediate(() => resolve(() => resolveThenable())));
      });
      expect(result).toBe(behaviour.awaitThenableResolvedByOtherFlow);
    });

    it("await on another flow's promise", async () => {
      let resolveOther: () => void = () => undefined;
      const { tracer: other } = testTracer({ context });
      const promise = other.trace('maker', () => new Promise<void>((resolve) => { resolveOther = resolve; }));
      const result = await across((tracer, report) => {
        void (async () => {
          await promise;
          report(tracer.currentSpan());
        })();
        return () => resolveOther();
      });
      expect(result).toBe(behaviour.awaitPromiseOfOtherFlow);
    });
  });
}
