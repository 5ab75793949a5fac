import { randomUUID } from 'node:crypto';
import { ASYNC_RESOURCE_BOUNDARIES, contextConformance } from '../helpers/context-conformance';
import { testTracer } from '../helpers/core-fixtures';

// cls-hooked, on Node's async_hooks, carries and loses context through the same constructs as
// AsyncLocalStorage (README, "Context stores"); what differs is cost, and sharing a namespace.
contextConformance('cls-hooked', ASYNC_RESOURCE_BOUNDARIES);

interface Namespace {
  run(fn: () => void): void;
  set(key: string, value: unknown): void;
  get(key: string): unknown;
  active: object | null;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const cls = require('cls-hooked') as { createNamespace(name: string): Namespace };

describe('cls-hooked: a namespace shared with the app (clsNamespace)', () => {
  it("keeps the app's own values visible inside spans, and the span beside them", async () => {
    const name = `app-${randomUUID()}`;
    const ns = cls.createNamespace(name);
    const { tracer } = testTracer({ context: 'cls-hooked', clsNamespace: name });
    const seen: unknown[] = [];
    await new Promise<void>((resolve) => {
      ns.run(() => {
        ns.set('user', 'alice');
        void tracer.trace('request', async (span) => {
          await new Promise((r) => setTimeout(r, 1));
          seen.push(ns.get('user'), tracer.currentSpan() === span);
          ns.set('user', 'bob'); // written in the span's own context: does not reach the app's
        }).then(() => {
          seen.push(ns.get('user'));
          resolve();
        });
      });
    });
    expect(seen).toEqual(['alice', true, 'alice']);
  });

  it("start() directly inside the app's own ns.run() ends with that run", async () => {
    const name = `app-${randomUUID()}`;
    const ns = cls.createNamespace(name);
    const { tracer } = testTracer({ context: 'cls-hooked', clsNamespace: name });
    let inside: string | undefined;
    ns.run(() => {
      tracer.start('in-app-run');
      inside = tracer.currentSpan()?.name;
    });
    expect(inside).toBe('in-app-run');
    expect(tracer.currentSpan()).toBeUndefined();
    expect(ns.active).toBeNull();
    const later = await new Promise((resolve) => setTimeout(() => resolve(tracer.currentSpan()), 1));
    expect(later).toBeUndefined();
  });

  it('two tracers on one namespace share the current span', () => {
    const name = `app-${randomUUID()}`;
    cls.createNamespace(name);
    const a = testTracer({ context: 'cls-hooked', clsNamespace: name }).tracer;
    const b = testTracer({ context: 'cls-hooked', clsNamespace: name }).tracer;
    a.trace('a', (spanA) => {
      // One namespace, one key: the innermost scope's span is current for both tracers.
      b.trace('b', (spanB) => {
        expect(b.currentSpan()).toBe(spanB);
        expect(a.currentSpan()).toBe(spanB);
      });
      expect(a.currentSpan()).toBe(spanA);
    });
    expect(a.currentSpan()).toBeUndefined();
  });
});
