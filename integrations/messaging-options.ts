/**
 * What the queue integrations (`tomograph/amqplib`, `tomograph/bullmq`) share: option checks,
 * the patching of methods on an instance the user hands in (undone by restoring them), and the
 * faults they report.
 */
import { defaultTracer } from '../lib/api';
import { codes } from '../lib/codes';
import { invalidOption } from '../lib/options';
import type { Tracer } from '../lib/tracer';

/** Options every queue integration takes. */
export interface MessagingOptions {
  /** The tracer that records the spans. Default: the default tracer (`configure`). */
  tracer?: Tracer;
  /**
   * Also trace messages published outside any span, each as a new root trace. Default `false`:
   * only messages published while a span is current (a traced request, `trace()`, ...) get a
   * PRODUCER span and a trace token. Consumers always record a span.
   */
  root?: boolean;
}

/** Checks `options` (an object, known keys only, `tracer` and `root` of the right type). */
export function resolveMessagingOptions(
  fn: string,
  options: unknown,
  known: readonly string[],
): { tracer: Tracer; root: boolean } {
  if (options === null || typeof options !== 'object') throw invalidOption(`${fn}() options must be an object`);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw invalidOption(`${fn}(): unknown option "${key}"`);
  }
  const o = options as MessagingOptions;
  const tracer = o.tracer ?? defaultTracer;
  if (tracer === null || typeof tracer !== 'object' || typeof tracer.startSpan !== 'function' || typeof tracer.inject !== 'function') {
    throw invalidOption(`${fn}(): tracer must be a Tracer`);
  }
  if (o.root !== undefined && typeof o.root !== 'boolean') throw invalidOption(`${fn}(): root must be a boolean`);
  return { tracer, root: o.root ?? false };
}

/** One method replaced on an instance, and what undoing it must restore. */
export interface MethodPatch {
  readonly target: Record<string, unknown>;
  readonly key: string;
  readonly hadOwn: boolean;
  readonly previous: unknown;
  readonly wrapper: Function;
}

/**
 * Replaces `target[key]` (an own property shadowing the prototype's method, so nothing shared
 * is touched) with `make(previous)`. Nothing when the method is missing.
 */
export function patchMethod(
  patches: MethodPatch[],
  target: object,
  key: string,
  make: (previous: Function) => Function,
): void {
  const t = target as Record<string, unknown>;
  const previous = t[key];
  if (typeof previous !== 'function') return;
  const wrapper = make(previous);
  patches.push({ target: t, key, hadOwn: Object.prototype.hasOwnProperty.call(t, key), previous, wrapper });
  t[key] = wrapper;
}

/**
 * Restores what `patchMethod` replaced, newest first. A method someone wrapped again after us is
 * left in place (theirs calls ours, which by then passes straight through).
 */
export function restoreMethods(patches: MethodPatch[]): void {
  for (let i = patches.length - 1; i >= 0; i--) {
    const { target, key, hadOwn, previous, wrapper } = patches[i];
    if (target[key] !== wrapper) continue;
    if (hadOwn) target[key] = previous;
    else delete target[key];
  }
  patches.length = 0;
}

/** Reports a fault in the integration's own code; the app carries on. */
export function reportFault(tracer: Tracer, integration: string, what: string, error: unknown): void {
  try {
    tracer.report(codes.INTEGRATION_ERROR, `tomograph: ${integration} failed to ${what}; the message is not traced`, error);
  } catch {
    // Reporting must not be able to break the publish or the delivery either.
  }
}

/**
 * Calls `onSettled(failed, error?)` when `result` (the return value of a handler whose caller
 * ignores it, as amqplib does with a consumer's) settles; sync results settle at once. Watching
 * a promise marks it handled, so our branch rethrows the same error: a rejection the app never
 * handled still reaches `unhandledRejection`, as it would have without us.
 */
export function whenSettled(result: unknown, onSettled: (failed: boolean, error?: unknown) => void): void {
  if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
    Promise.resolve(result as PromiseLike<unknown>).then(
      () => onSettled(false),
      (error: unknown) => {
        onSettled(true, error);
        throw error;
      },
    );
  } else {
    onSettled(false);
  }
}
