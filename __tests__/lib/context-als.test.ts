import { ASYNC_RESOURCE_BOUNDARIES, contextConformance } from '../helpers/context-conformance';

// AsyncLocalStorage follows every async resource from where it was made. A callback that one flow
// hands to another, and emitters, streams and ports that another flow drives, run in the context
// of the flow that runs them, unless bound (AsyncResource.bind, EventEmitterAsyncResource).
contextConformance('async-local-storage', ASYNC_RESOURCE_BOUNDARIES);

describe('the default store', () => {
  it('carries the span across an await, beside an app\'s own AsyncLocalStorage', () => {
    const { Tracer } = jest.requireActual('../../lib/tracer') as typeof import('../../lib/tracer');
    const tracer = new Tracer({ serviceName: 'store-check', onDiagnostic: () => undefined });
    const { AsyncLocalStorage } = jest.requireActual('node:async_hooks') as typeof import('node:async_hooks');
    const outside = new AsyncLocalStorage<number>();
    return outside.run(1, () =>
      tracer.trace('check', async (span) => {
        await Promise.resolve();
        expect(tracer.currentSpan()).toBe(span);
        expect(outside.getStore()).toBe(1);
      }),
    );
  });
});
