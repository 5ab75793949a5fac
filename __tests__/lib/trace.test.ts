import ts from 'typescript';
import type { Span } from '../../lib/span';
import type { Tracer } from '../../lib/tracer';
import type { FinishedSpan } from '../../lib/types';
import { testTracer } from '../helpers/core-fixtures';

function byName(spans: readonly FinishedSpan[]): Map<string, FinishedSpan> {
  return new Map(spans.map((span) => [span.name, span]));
}

function expectFailed(span: FinishedSpan | undefined, message: string): void {
  expect(span?.error).toBe(message);
  expect(span?.notes.map((note) => note.value)).toContain('error');
  expect(span?.duration).toBeGreaterThanOrEqual(1);
}

describe('trace', () => {
  it('returns what fn returns, sync and async, and ends the span', async () => {
    const { tracer, spans } = testTracer();
    expect(tracer.trace('sync', () => 42)).toBe(42);
    await expect(tracer.trace('async', async () => 'v')).resolves.toBe('v');
    const exported = byName(await spans());
    expect([...exported.keys()].sort()).toEqual(['async', 'sync']);
    expect(exported.get('sync')?.error).toBeUndefined();
  });

  it('a sync throw reaches the caller as the same object, with the same stack', async () => {
    const { tracer, spans } = testTracer();
    const error = new TypeError('bad input');
    const stack = error.stack;
    let caught: unknown;
    try {
      tracer.trace('sync-fail', () => {
        throw error;
      });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBe(error);
    expect((caught as Error).stack).toBe(stack);
    expect(Object.keys(error)).toEqual([]);
    expectFailed(byName(await spans()).get('sync-fail'), 'bad input');
  });

  it('a rejection reaches the caller as the same object, with the same stack', async () => {
    const { tracer, spans } = testTracer();
    const error = new Error('no route');
    const stack = error.stack;
    const caught = await tracer
      .trace('async-fail', async () => {
        await new Promise((resolve) => setImmediate(resolve));
        throw error;
      })
      .catch((e: unknown) => e);
    expect(caught).toBe(error);
    expect((caught as Error).stack).toBe(stack);
    expectFailed(byName(await spans()).get('async-fail'), 'no route');
  });

  it('non-Error throws and errors with hostile getters still pass through', async () => {
    const { tracer, spans } = testTracer();
    const hostile = new Error('x');
    Object.defineProperty(hostile, 'message', { get() { throw new Error('getter'); } });
    let caught: unknown;
    try {
      tracer.trace('hostile', () => { throw hostile; });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBe(hostile);
    await expect(tracer.trace('string', async () => { throw 'just a string'; })).rejects.toBe('just a string');
    await expect(tracer.trace('undefined', () => Promise.reject(undefined))).rejects.toBeUndefined();
    const exported = byName(await spans());
    expectFailed(exported.get('hostile'), 'unknown error');
    expectFailed(exported.get('string'), 'just a string');
    expectFailed(exported.get('undefined'), 'undefined');
  });

  it('a custom thenable result is adopted: its value, its failure, a then() that throws', async () => {
    const { tracer, spans } = testTracer();
    const resolving = { then: (ok: (v: number) => void) => void setTimeout(() => ok(5), 1) };
    await expect(tracer.trace('thenable', () => resolving)).resolves.toBe(5);
    const failure = new Error('thenable failed');
    const rejecting = { then: (_ok: unknown, fail: (e: unknown) => void) => fail(failure) };
    await expect(tracer.trace('thenable-fail', () => rejecting)).rejects.toBe(failure);
    const thrower = { then: () => { throw failure; } };
    await expect(tracer.trace('thenable-throws', () => thrower)).rejects.toBe(failure);
    const exported = byName(await spans());
    expect(exported.get('thenable')?.error).toBeUndefined();
    expectFailed(exported.get('thenable-fail'), 'thenable failed');
    expectFailed(exported.get('thenable-throws'), 'thenable failed');
  });

  it('passes the span to fn and takes options (kind, tags, remote, parent)', async () => {
    const { tracer, spans } = testTracer();
    tracer.trace('outer', () => {
      tracer.trace('call', (span) => {
        span.tag('extra', true);
        expect(tracer.currentSpan()).toBe(span);
      }, { kind: 'CLIENT', tags: { 'peer.service': 'db' }, remote: { service: 'db', port: 5432 } });
      tracer.trace('detached', () => undefined, { parent: null });
    });
    const exported = byName(await spans());
    const call = exported.get('call');
    expect(call?.kind).toBe('CLIENT');
    expect(call?.tags).toEqual({ 'peer.service': 'db', extra: true });
    expect(call?.remote).toEqual({ service: 'db', port: 5432 });
    expect(call?.parentId).toBe(exported.get('outer')?.id);
    expect(exported.get('detached')?.parentId).toBeUndefined();
    expect(exported.get('detached')?.traceId).not.toBe(exported.get('outer')?.traceId);
  });

  it('continueTrace joins the trace of a token, or starts a new one', async () => {
    const { tracer, spans, events } = testTracer();
    const token = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    tracer.continueTrace(token, 'consumer', () => undefined);
    tracer.continueTrace(undefined, 'fresh', () => undefined);
    tracer.continueTrace('garbage', 'after-garbage', () => undefined);
    const exported = byName(await spans());
    expect(exported.get('consumer')?.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(exported.get('consumer')?.parentId).toBe('b7ad6b7169203331');
    expect(exported.get('fresh')?.parentId).toBeUndefined();
    expect(exported.get('after-garbage')?.parentId).toBeUndefined();
    expect(tracer.stats().malformedHeaders).toBe(1);
    expect(events.map((e) => e.code)).toEqual(['TOMOGRAPH_MALFORMED_HEADER']);
  });
});

describe('traced', () => {
  it('wraps a function: same this, args, result, name and length; span named after it', async () => {
    const { tracer, spans } = testTracer();
    function loadUser(this: { prefix: string }, id: number, suffix: string): string {
      return `${this.prefix}${id}${suffix}`;
    }
    const wrapped = tracer.traced()(loadUser);
    expect(wrapped.name).toBe('loadUser');
    expect(wrapped.length).toBe(2);
    expect(wrapped.call({ prefix: 'u' }, 7, '!')).toBe('u7!');
    const named = tracer.traced('custom name', { tags: { a: 1 } })(async (x: number) => x * 2);
    await expect(named(21)).resolves.toBe(42);
    const exported = byName(await spans());
    expect(exported.has('loadUser')).toBe(true);
    expect(exported.get('custom name')?.tags).toEqual({ a: 1 });
  });

  it('a wrapped function that throws or rejects passes the same error', async () => {
    const { tracer, spans } = testTracer();
    const error = new Error('wrapped');
    const syncFail = tracer.traced()(function syncFail(): never {
      throw error;
    });
    const asyncFail = tracer.traced()(async function asyncFail(): Promise<never> {
      throw error;
    });
    expect(() => syncFail()).toThrow(error);
    await expect(asyncFail()).rejects.toBe(error);
    const exported = byName(await spans());
    expectFailed(exported.get('syncFail'), 'wrapped');
    expectFailed(exported.get('asyncFail'), 'wrapped');
  });

  it('an anonymous function gets the name "anonymous"', async () => {
    const { tracer, spans } = testTracer();
    const fns = [(x: number) => x];
    tracer.traced()(fns[0])(1);
    expect((await spans()).map((span) => span.name)).toEqual(['anonymous']);
  });

  it('is a standard (TC39) method decorator: name from the method, this kept', async () => {
    const { tracer, spans } = testTracer();
    class Repository {
      constructor(private readonly table: string) {}

      @tracer.traced()
      async find(id: number): Promise<string> {
        await new Promise((resolve) => setImmediate(resolve));
        expect(tracer.currentSpan()?.name).toBe('find');
        return `${this.table}:${id}`;
      }

      @tracer.traced('repository.count')
      count(): number {
        return this.table.length;
      }

      @tracer.traced()
      fail(error: Error): never {
        throw error;
      }
    }
    const repository = new Repository('users');
    await expect(repository.find(3)).resolves.toBe('users:3');
    expect(repository.count()).toBe(5);
    const error = new Error('decorated failure');
    expect(() => repository.fail(error)).toThrow(error);
    const exported = byName(await spans());
    expect([...exported.keys()].sort()).toEqual(['fail', 'find', 'repository.count']);
    expectFailed(exported.get('fail'), 'decorated failure');
  });

  it('is a method decorator under experimentalDecorators (compiled here with TypeScript)', async () => {
    const { tracer, spans } = testTracer();
    const source = `
      import type { Tracer } from '../../lib/tracer';
      export function makeService(tracer: Tracer) {
        class Service {
          factor = 10;
          @tracer.traced()
          scale(n: number): number { return n * this.factor; }
          @tracer.traced('service.load')
          async load(): Promise<string> { return 'loaded'; }
          @tracer.traced()
          static make(): string { return 'made'; }
          @tracer.traced()
          explode(error: Error): never { throw error; }
        }
        return Service;
      }
    `;
    const output = ts.transpileModule(source, {
      compilerOptions: {
        experimentalDecorators: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.CommonJS,
      },
    });
    // The legacy form really is what we run: TypeScript's __decorate helper, not __esDecorate.
    expect(output.outputText).toContain('__decorate(');
    expect(output.outputText).not.toContain('__esDecorate');
    const moduleObject = { exports: {} as { makeService(tracer: Tracer): new () => LegacyService } };
    interface LegacyService { scale(n: number): number; load(): Promise<string>; explode(error: Error): never }
    new Function('exports', 'require', 'module', output.outputText)(moduleObject.exports, require, moduleObject);
    const Service = moduleObject.exports.makeService(tracer) as (new () => LegacyService) & { make(): string };
    const service = new Service();
    expect(service.scale(4)).toBe(40);
    await expect(service.load()).resolves.toBe('loaded');
    expect(Service.make()).toBe('made');
    const error = new Error('legacy failure');
    expect(() => service.explode(error)).toThrow(error);
    const exported = byName(await spans());
    expect([...exported.keys()].sort()).toEqual(['explode', 'make', 'scale', 'service.load']);
    expectFailed(exported.get('explode'), 'legacy failure');
  });

  it('nests: a traced method called inside trace is its child', async () => {
    const { tracer, spans } = testTracer();
    const inner = tracer.traced('inner')(() => tracer.currentSpan());
    let innerSpan: Span | undefined;
    tracer.trace('outer', () => {
      innerSpan = inner();
    });
    const exported = byName(await spans());
    expect(innerSpan?.name).toBe('inner');
    expect(exported.get('inner')?.parentId).toBe(exported.get('outer')?.id);
  });
});
