import type { Span } from './span';

/** A function that `traced` can wrap. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyFunction = (this: any, ...args: any[]) => any;

/**
 * What `traced(name?, options?)` returns: a wrapper for plain functions, a standard (TC39)
 * method decorator, and an `experimentalDecorators` method decorator, all in one.
 */
export interface TracedDecorator {
  /** Wraps `fn`; also the standard decorator form, `(method, context)`. */
  <F extends AnyFunction>(fn: F, context?: ClassMethodDecoratorContext): F;
  /** The `experimentalDecorators` form. */
  (target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor): PropertyDescriptor;
}

type RunTraced = <R>(name: string, fn: (span: Span) => R) => R;

/** Builds the decorator over a tracer's `trace`. */
export function tracedDecorator(run: RunTraced, name: string | undefined): TracedDecorator {
  function wrap<F extends AnyFunction>(fn: F, fallbackName: string): F {
    const spanName = name ?? (fallbackName || 'anonymous');
    const wrapped = function (this: unknown, ...args: unknown[]) {
      return run(spanName, () => fn.apply(this, args));
    };
    // Keep the wrapped function's name and arity, so stack traces and frameworks that
    // inspect `length` (Express error handlers) see the original.
    Object.defineProperty(wrapped, 'name', { value: fn.name, configurable: true });
    Object.defineProperty(wrapped, 'length', { value: fn.length, configurable: true });
    return wrapped as unknown as F;
  }

  function decorator(this: unknown, ...args: unknown[]): unknown {
    const [value, second, third] = args;
    if (args.length === 3 && typeof second !== 'object' && third !== null && typeof third === 'object') {
      // experimentalDecorators: (prototype, key, descriptor)
      const descriptor = third as PropertyDescriptor;
      if (typeof descriptor.value === 'function') {
        descriptor.value = wrap(descriptor.value as AnyFunction, String(second));
      }
      return descriptor;
    }
    if (typeof value !== 'function') {
      throw new TypeError('tomograph: traced() wraps a function or decorates a method');
    }
    const context = second as ClassMethodDecoratorContext | undefined;
    const contextName = context !== undefined && typeof context === 'object' ? String(context.name) : '';
    return wrap(value as AnyFunction, contextName || (value as AnyFunction).name);
  }

  return decorator as TracedDecorator;
}
