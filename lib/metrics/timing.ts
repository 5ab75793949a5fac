import { performance } from 'node:perf_hooks';

/**
 * Calls `fn` with `thisArg` and `args`, and tells `done` how many milliseconds it took and
 * whether it failed: when it returns, throws, or (for a returned thenable) settles. What `fn`
 * returns is returned as it is (the same promise object: the handlers we attach form a separate
 * chain that swallows nothing of the caller's), and what it throws is rethrown as it is. Only a
 * custom thenable that is not a native promise (a Knex builder) is adopted into a promise first,
 * as `trace()` does, because calling its `then` twice could run it twice.
 */
export function timeCall<R>(
  fn: (...args: never[]) => R,
  thisArg: unknown,
  args: readonly unknown[],
  done: (ms: number, failed: boolean) => void,
): R {
  const start = performance.now();
  let result: R;
  try {
    result = Reflect.apply(fn, thisArg, args) as R;
  } catch (error) {
    safely(done, performance.now() - start, true);
    throw error;
  }
  if (result instanceof Promise) {
    result.then(
      () => safely(done, performance.now() - start, false),
      () => safely(done, performance.now() - start, true),
    );
    return result;
  }
  if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
    return Promise.resolve(result).then(
      (value) => {
        safely(done, performance.now() - start, false);
        return value;
      },
      (error: unknown) => {
        safely(done, performance.now() - start, true);
        throw error;
      },
    ) as R;
  }
  safely(done, performance.now() - start, false);
  return result;
}

function safely(done: (ms: number, failed: boolean) => void, ms: number, failed: boolean): void {
  try {
    done(ms, failed);
  } catch {
    // Recording never throws by contract; this guards the contract, not a known path.
  }
}
