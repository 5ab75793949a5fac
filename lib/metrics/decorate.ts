import { invalidOption } from './names';

/** A function `countMe`/`timeMe` can wrap. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyFunction = (this: any, ...args: any[]) => any;

/**
 * What `countMe(name)` and `timeMe(name)` return: a wrapper for plain functions, a standard
 * (TC39) method decorator, and an `experimentalDecorators` method decorator, all in one.
 */
export interface MetricDecorator {
  /** Wraps `fn`; also the standard decorator form, `(method, context)`. */
  <F extends AnyFunction>(fn: F, context?: ClassMethodDecoratorContext): F;
  /** The `experimentalDecorators` form. */
  (target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor): PropertyDescriptor;
}

/** Builds the three-in-one decorator around `wrap`, which must keep `this`, arguments and results. */
export function metricDecorator(what: string, wrap: <F extends AnyFunction>(fn: F) => F): MetricDecorator {
  function decorator(...args: unknown[]): unknown {
    const [value, second, third] = args;
    if (args.length === 3 && typeof second !== 'object' && third !== null && typeof third === 'object') {
      // experimentalDecorators: (prototype, key, descriptor)
      const descriptor = third as PropertyDescriptor;
      if (typeof descriptor.value === 'function') descriptor.value = wrap(descriptor.value as AnyFunction);
      return descriptor;
    }
    if (typeof value !== 'function') throw invalidOption(`${what}() wraps a function or decorates a method`);
    return wrap(value as AnyFunction);
  }
  return decorator as MetricDecorator;
}

/** Gives `wrapped` the name and arity of `fn`, so stack traces and `length`-reading frameworks see the original. */
export function keepIdentity<F extends AnyFunction>(wrapped: AnyFunction, fn: F): F {
  Object.defineProperty(wrapped, 'name', { value: fn.name, configurable: true });
  Object.defineProperty(wrapped, 'length', { value: fn.length, configurable: true });
  return wrapped as F;
}
