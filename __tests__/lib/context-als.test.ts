import { contextConformance } from '../helpers/context-conformance';

// AsyncLocalStorage follows every async resource from where it was made. A callback that one flow
// hands to another, and emitters, streams and ports that another flow drives, run in the context
// of the flow that runs them, unless bound (AsyncResource.bind, EventEmitterAsyncResource).
contextConformance('async-local-storage', {
  callbackRunByOtherFlow: 'lost',
  boundCallbackRunByOtherFlow: 'carried',
  listenerEmittedByOtherFlow: 'lost',
  asyncResourceEmitterEmittedByOtherFlow: 'carried',
  streamPushedByOtherFlow: 'lost',
  messagePortMadeElsewhere: 'lost',
  awaitThenableResolvedByOtherFlow: 'carried',
  awaitPromiseOfOtherFlow: 'carried',
});
