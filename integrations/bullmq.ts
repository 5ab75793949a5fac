/**
 * `tomograph/bullmq`: traces through BullMQ job queues (Redis). A PRODUCER span per job added,
 * its token in the job's options (see `bullmq-spans.ts` for where and why), and a CONSUMER span
 * per attempt at processing the job, a child of the producer's span.
 *
 *   const undo = instrumentQueue(queue);
 *   new Worker('mail', tracedProcessor(async (job) => send(job.data)), { connection });
 */
import { defaultTracer } from '../lib/api';
import { invalidOption } from '../lib/options';
import type { Span } from '../lib/span';
import type { Tracer } from '../lib/tracer';
import { endConsumerFailed, endProducer, startConsumer, startProducer, type TracedJob, withToken } from './bullmq-spans';
import { type MessagingOptions, type MethodPatch, patchMethod, reportFault, resolveMessagingOptions, restoreMethods } from './messaging-options';

/** Options for `instrumentQueue` and `instrumentFlowProducer`. */
export interface BullmqInstrumentationOptions extends MessagingOptions {}

/** Options for `tracedProcessor`. */
export interface TracedProcessorOptions {
  /** The tracer that records the spans. Default: the default tracer (`configure`). */
  tracer?: Tracer;
}

/** A BullMQ `Queue` (tested with BullMQ 6.7), as far as instrumenting it goes. */
export interface BullmqQueue {
  readonly name: string;
  add: Function;
  addBulk: Function;
}

/** A BullMQ `FlowProducer`. */
export interface BullmqFlowProducer {
  add: Function;
  addBulk: Function;
}

/** A flow as `FlowProducer.add` takes it. */
interface FlowNode {
  name?: unknown;
  queueName?: unknown;
  opts?: unknown;
  children?: unknown;
  [field: string]: unknown;
}

const KNOWN_OPTIONS = ['tracer', 'root'] as const;
const INSTRUMENTED: unique symbol = Symbol('tomograph.bullmq');

/**
 * Traces the jobs added through one `Queue` instance, by wrapping its `add`, `addBulk` and
 * `upsertJobScheduler` (on this object only): a PRODUCER span `add <queue>` per job, a child of
 * the current span, ended when Redis has the job (tag `messaging.message.id`: the job id) or
 * failed when adding fails. The span's token goes into a copy of the job's options, at
 * `opts.telemetry.metadata`, unless the job sets `telemetry.omitContext`. A job scheduler's
 * template gets the token of the `upsertJobScheduler` call, so every job it makes continues that
 * one trace. Throws a TypeError (code `TOMOGRAPH_ERR_INVALID_OPTION`) on a wrong argument.
 *
 * @returns undo: restores the methods. Idempotent.
 */
export function instrumentQueue(queue: BullmqQueue, options: BullmqInstrumentationOptions = {}): () => void {
  if (queue === null || typeof queue !== 'object' || typeof queue.add !== 'function' || typeof queue.addBulk !== 'function' || typeof queue.name !== 'string') {
    throw invalidOption('instrumentQueue() takes a BullMQ Queue');
  }
  const { tracer, root } = resolveMessagingOptions('instrumentQueue', options, KNOWN_OPTIONS);
  return instrument(queue, tracer, 'instrumentQueue', (patches, on) => {
    const queueName = queue.name;
    patchMethod(patches, queue, 'add', (previous) =>
      function add(this: unknown, name: unknown, data: unknown, opts?: unknown) {
        const span = on() ? safeStart(tracer, () => startProducer(tracer, root, queueName, name, opts)) : undefined;
        const traced = span === undefined ? undefined : safeStart(tracer, () => withToken(tracer, span, opts));
        if (span === undefined || traced === undefined) {
          span?.end();
          return previous.apply(this, arguments);
        }
        return settleProducers([span], () => previous.call(this, name, data, traced), (job) => [job]);
      },
    );
    patchMethod(patches, queue, 'addBulk', (previous) =>
      function addBulk(this: unknown, jobs: unknown) {
        if (!on() || !Array.isArray(jobs)) return previous.apply(this, arguments);
        const spans: Span[] = [];
        const traced = safeStart(tracer, () =>
          jobs.map((job: { name?: unknown; opts?: unknown } | null) => {
            const span = job !== null && typeof job === 'object' ? startProducer(tracer, root, queueName, job.name, job.opts) : undefined;
            if (span === undefined) return job;
            spans.push(span);
            return { ...job, opts: withToken(tracer, span, job!.opts) };
          }),
        );
        if (traced === undefined || spans.length === 0) {
          for (const span of spans) span.end();
          return previous.apply(this, arguments);
        }
        return settleProducers(spans, () => previous.call(this, traced), (added) => (Array.isArray(added) ? added : []));
      },
    );
    patchMethod(patches, queue, 'upsertJobScheduler', (previous) =>
      function upsertJobScheduler(this: unknown, id: unknown, repeat: unknown, template?: unknown) {
        const t = template !== null && typeof template === 'object' ? (template as { name?: unknown; opts?: unknown }) : undefined;
        const span = on() ? safeStart(tracer, () => startProducer(tracer, root, queueName, t?.name ?? id, t?.opts)) : undefined;
        const traced = span === undefined ? undefined : safeStart(tracer, () => ({ ...t, opts: withToken(tracer, span, t?.opts) }));
        if (span === undefined || traced === undefined) {
          span?.end();
          return previous.apply(this, arguments);
        }
        if (span.recording && typeof id === 'string') span.tag('bullmq.job_scheduler.id', id);
        return settleProducers([span], () => previous.call(this, id, repeat, traced), (job) => [job]);
      },
    );
  });
}

/**
 * Traces the flows added through one `FlowProducer`, by wrapping its `add` and `addBulk`: a
 * PRODUCER span `add <queue>` per job of the flow, nested as the flow is (a child job's span is
 * a child of its parent job's), each job carrying its own span's token. So a whole flow, parent
 * and children, is one trace, whichever queues and workers run its jobs.
 *
 * @returns undo: restores the methods. Idempotent.
 */
export function instrumentFlowProducer(flowProducer: BullmqFlowProducer, options: BullmqInstrumentationOptions = {}): () => void {
  if (flowProducer === null || typeof flowProducer !== 'object' || typeof flowProducer.add !== 'function' || typeof flowProducer.addBulk !== 'function') {
    throw invalidOption('instrumentFlowProducer() takes a BullMQ FlowProducer');
  }
  const { tracer, root } = resolveMessagingOptions('instrumentFlowProducer', options, KNOWN_OPTIONS);
  return instrument(flowProducer, tracer, 'instrumentFlowProducer', (patches, on) => {
    const tracedFlows = (flows: unknown[], spans: Span[]): unknown[] | undefined =>
      safeStart(tracer, () => flows.map((flow) => traceFlow(tracer, root, flow, undefined, spans)));
    patchMethod(patches, flowProducer, 'add', (previous) =>
      function add(this: unknown, flow: unknown) {
        if (!on()) return previous.apply(this, arguments);
        const spans: Span[] = [];
        const traced = tracedFlows([flow], spans);
        if (traced === undefined || spans.length === 0) {
          for (const span of spans) span.end();
          return previous.apply(this, arguments);
        }
        const args = Array.prototype.slice.call(arguments);
        args[0] = traced[0];
        return settleProducers(spans, () => previous.apply(this, args), () => []);
      },
    );
    patchMethod(patches, flowProducer, 'addBulk', (previous) =>
      function addBulk(this: unknown, flows: unknown) {
        if (!on() || !Array.isArray(flows)) return previous.apply(this, arguments);
        const spans: Span[] = [];
        const traced = tracedFlows(flows, spans);
        if (traced === undefined || spans.length === 0) {
          for (const span of spans) span.end();
          return previous.apply(this, arguments);
        }
        return settleProducers(spans, () => previous.call(this, traced), () => []);
      },
    );
  });
}

/**
 * Wraps a BullMQ processor: each attempt at a job runs in a CONSUMER span `process <queue>`, a
 * child of the span that added the job (a new root when the job carries no token; a malformed
 * one is counted in `stats().malformedHeaders`), with tags `messaging.message.id` (job id),
 * `bullmq.job.name` and `bullmq.job.attempt` (1 for the first attempt). The span ends when the
 * processor returns or settles; a throw or rejection marks it failed and reaches BullMQ
 * unchanged (BullMQ's own `DelayedError`, `WaitingChildrenError`, `WaitingError` and
 * `RateLimitError` are control flow: a note, not a failure). Works for sandboxed processors
 * too, wrapped inside the processor file of a child process that configured its tracer.
 */
export function tracedProcessor<P extends (job: any, ...rest: any[]) => unknown>(processor: P, options: TracedProcessorOptions = {}): P {
  if (typeof processor !== 'function') throw invalidOption('tracedProcessor() takes a processor function (job, token?, signal?) => Promise');
  if (options === null || typeof options !== 'object') throw invalidOption('tracedProcessor() options must be an object');
  for (const key of Object.keys(options)) {
    if (key !== 'tracer') throw invalidOption(`tracedProcessor(): unknown option "${key}"`);
  }
  const tracer = options.tracer ?? defaultTracer;
  if (tracer === null || typeof tracer !== 'object' || typeof tracer.startSpan !== 'function') {
    throw invalidOption('tracedProcessor(): tracer must be a Tracer');
  }
  const traced = function (this: unknown, job: TracedJob) {
    if (!tracer.isEnabled || job === null || typeof job !== 'object') return processor.apply(this, arguments as never);
    let span: Span;
    try {
      span = startConsumer(tracer, job);
    } catch (fault) {
      reportFault(tracer, 'tracedProcessor', 'start a job span', fault);
      return processor.apply(this, arguments as never);
    }
    const self = this;
    const args = arguments;
    return tracer.withSpan(span, () => {
      let result: unknown;
      try {
        result = processor.apply(self, args as never);
      } catch (error) {
        endConsumerFailed(span, error);
        throw error;
      }
      if (result === null || typeof result !== 'object' || typeof (result as PromiseLike<unknown>).then !== 'function') {
        span.end();
        return result;
      }
      // BullMQ awaits what the processor returns: our chain hands it the same value or error.
      return Promise.resolve(result).then(
        (value) => {
          span.end();
          return value;
        },
        (error: unknown) => {
          endConsumerFailed(span, error);
          throw error;
        },
      );
    });
  };
  Object.defineProperty(traced, 'name', { value: processor.name });
  Object.defineProperty(traced, 'length', { value: processor.length });
  return traced as unknown as P;
}

// ---------------------------------------------------------------------------------------

function instrument(
  target: object,
  tracer: Tracer,
  fn: string,
  patch: (patches: MethodPatch[], on: () => boolean) => void,
): () => void {
  const t = target as Record<symbol, unknown>;
  if (t[INSTRUMENTED] === true) {
    reportFault(tracer, fn, 'instrument an instance twice (already instrumented; nothing done)', undefined);
    return () => undefined;
  }
  let active = true;
  const patches: MethodPatch[] = [];
  patch(patches, () => active && tracer.isEnabled);
  t[INSTRUMENTED] = true;
  return function undo(): void {
    if (!active) return;
    active = false;
    restoreMethods(patches);
    delete t[INSTRUMENTED];
  };
}

/** Runs `start`; a fault in it is reported and yields undefined, so the call goes on untraced. */
function safeStart<T>(tracer: Tracer, start: () => T): T | undefined {
  try {
    return start();
  } catch (fault) {
    reportFault(tracer, 'tomograph/bullmq', 'start a job span', fault);
    return undefined;
  }
}

/**
 * Calls `call` (the original method) and ends `spans` when its promise settles: each with the
 * job at its index in what `jobsOf` finds in the result, or failed with the error, which then
 * reaches the caller unchanged.
 */
function settleProducers(spans: Span[], call: () => unknown, jobsOf: (result: unknown) => unknown[]): unknown {
  let result: unknown;
  try {
    result = call();
  } catch (error) {
    for (const span of spans) endProducer(span, undefined, true, error);
    throw error;
  }
  return Promise.resolve(result).then(
    (value) => {
      const jobs = jobsOf(value);
      for (let i = 0; i < spans.length; i++) endProducer(spans[i], jobs[i], false);
      return value;
    },
    (error: unknown) => {
      for (const span of spans) endProducer(span, undefined, true, error);
      throw error;
    },
  );
}

/** A copy of `flow` whose every job carries its own PRODUCER span's token (pushed to `spans`). */
function traceFlow(tracer: Tracer, root: boolean, flow: unknown, parent: Span | undefined, spans: Span[]): unknown {
  if (flow === null || typeof flow !== 'object') return flow;
  const node = flow as FlowNode;
  const queueName = typeof node.queueName === 'string' ? node.queueName : 'unknown';
  const span = startProducer(tracer, root, queueName, node.name, node.opts, parent);
  if (span === undefined) return flow;
  spans.push(span);
  const copy: FlowNode = { ...node, opts: withToken(tracer, span, node.opts) };
  if (Array.isArray(node.children)) copy.children = node.children.map((child) => traceFlow(tracer, root, child, span, spans));
  return copy;
}
