import ts from 'typescript';
import type { HistogramSnapshot, MetricsRegistry } from 'tomograph/metrics';
import { testRegistry } from './fixtures';

describe('countMe / timeMe as wrappers', () => {
  it('keep this, arguments and return values; countMe counts calls', () => {
    const { registry } = testRegistry();
    const target = {
      factor: 3,
      scale(this: { factor: number }, a: number, b: number): number {
        return (a + b) * this.factor;
      },
    };
    const scale = registry.countMe('calls', target.scale);
    expect(scale.name).toBe('scale');
    expect(scale.length).toBe(2);
    expect(scale.call(target, 1, 2)).toBe(9);
    expect(scale.call({ factor: 10 }, 1, 1)).toBe(20);
    expect(registry.snapshot()).toEqual({ calls: 2 });
  });

  it('timeMe records ms into the histogram and counts failures in name.errors, sync and async; errors pass unchanged', async () => {
    const { registry } = testRegistry();
    const error = new RangeError('bad');
    const stack = error.stack;
    const sync = registry.timeMe('op', (fail: boolean) => {
      if (fail) throw error;
      return 'ok';
    });
    const async = registry.timeMe('op', async (fail: boolean) => {
      await new Promise((resolve) => setImmediate(resolve));
      if (fail) throw error;
      return 'later';
    });
    expect(sync(false)).toBe('ok');
    expect(() => sync(true)).toThrow(error);
    const promise = async(false);
    expect(promise).toBeInstanceOf(Promise);
    await expect(promise).resolves.toBe('later');
    let caught: unknown;
    try {
      await async(true);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBe(error);
    expect((caught as Error).stack).toBe(stack);
    await new Promise((resolve) => setImmediate(resolve));
    const op = registry.snapshot().op as HistogramSnapshot & { errors: number };
    expect(op.count).toBe(4);
    expect(op.errors).toBe(2);
    expect(op.min).toBeGreaterThanOrEqual(0);
    expect(registry.collect().find((m) => m.name === 'op')?.unit).toBe('ms');
  });

  it('returns the very promise fn returned, and a rejection the caller handles is not reported as unhandled', async () => {
    const { registry } = testRegistry();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const original = Promise.reject(new Error('no'));
      original.catch(() => undefined);
      const wrapped = registry.timeMe('x', () => original);
      expect(wrapped()).toBe(original);
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
      expect((registry.snapshot().x as { errors: number }).errors).toBe(1);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a custom thenable is adopted, settled once', async () => {
    const { registry } = testRegistry();
    let thens = 0;
    const thenable = {
      then(resolve: (v: number) => void) {
        thens++;
        resolve(7);
      },
    };
    const wrapped = registry.timeMe('t', () => thenable);
    await expect(wrapped()).resolves.toBe(7);
    expect(thens).toBe(1);
    expect((registry.snapshot().t as HistogramSnapshot).count).toBe(1);
  });

  it('wrapping a non-function is a TypeError; a disabled metric hands the function back unwrapped', () => {
    const { registry } = testRegistry();
    expect(() => registry.countMe('x', 5 as never)).toThrow(TypeError);
    registry.configure({ level: 'error' });
    const fn = (): number => 1;
    expect(registry.countMe('quiet', fn)).toBe(fn);
    expect(registry.timeMe('quiet2', fn)).toBe(fn);
  });
});

describe('countMe / timeMe as decorators', () => {
  it('standard (TC39) method decorators keep this and results', async () => {
    const { registry } = testRegistry();
    class Repository {
      constructor(private readonly table: string) {}

      @registry.timeMe('repo.find')
      async find(id: number): Promise<string> {
        await new Promise((resolve) => setImmediate(resolve));
        return `${this.table}:${id}`;
      }

      @registry.countMe('repo.count')
      count(): number {
        return this.table.length;
      }
    }
    const repository = new Repository('users');
    await expect(repository.find(3)).resolves.toBe('users:3');
    expect(repository.count()).toBe(5);
    expect(repository.count()).toBe(5);
    await new Promise((resolve) => setImmediate(resolve));
    expect(registry.snapshot()).toMatchObject({ repo: { find: { count: 1 }, count: 2 } });
  });

  it('experimentalDecorators (compiled here with TypeScript)', () => {
    const { registry } = testRegistry();
    const source = `
      import type { MetricsRegistry } from '../../../lib/metrics/registry';
      export function makeService(registry: MetricsRegistry) {
        class Service {
          factor = 10;
          @registry.countMe('svc.scale')
          scale(n: number): number { return n * this.factor; }
          @registry.timeMe('svc.explode')
          explode(error: Error): never { throw error; }
          @registry.countMe('svc.make')
          static make(): string { return 'made'; }
        }
        return Service;
      }
    `;
    const output = ts.transpileModule(source, {
      compilerOptions: { experimentalDecorators: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS },
    });
    expect(output.outputText).toContain('__decorate(');
    expect(output.outputText).not.toContain('__esDecorate');
    interface LegacyService { scale(n: number): number; explode(error: Error): never }
    const moduleObject = { exports: {} as { makeService(registry: MetricsRegistry): (new () => LegacyService) & { make(): string } } };
    new Function('exports', 'require', 'module', output.outputText)(moduleObject.exports, require, moduleObject);
    const Service = moduleObject.exports.makeService(registry);
    const service = new Service();
    expect(service.scale(4)).toBe(40);
    const error = new Error('legacy');
    expect(() => service.explode(error)).toThrow(error);
    expect(Service.make()).toBe('made');
    expect(registry.snapshot()).toMatchObject({ svc: { scale: 1, make: 1, explode: { count: 1, errors: 1 } } });
  });
});
