import { executionAsyncId } from 'node:async_hooks';
import type { ContextStore } from './context';
import type { ContextValue } from './context';

/** The parts of a cls-hooked namespace that the store uses. */
export interface ClsNamespace {
  readonly name: string;
  active: object | null;
  enter(context: object): void;
  exit(context: object): void;
  /**
   * cls-hooked 4.x's map from an async resource's id to the context its callbacks enter (its
   * `before` hook enters it, its `after` hook exits it). Internal to cls-hooked, hence optional.
   */
  _contexts?: Map<number, object>;
}

type Context = Record<string | symbol, unknown>;

const KEY = 'tomograph.span';
/** Own property of a context that `enter` (not `run`) put on the namespace's stack. */
const ENTERED = Symbol.for('tomograph.cls.entered');
/** On a namespace whose `exit` is wrapped: the original `exit`. */
const ORIGINAL_EXIT = Symbol.for('tomograph.cls.exit');
let storeCount = 0;

function isEntered(context: object | null): context is Context {
  return context !== null && Object.prototype.hasOwnProperty.call(context, ENTERED);
}

/**
 * A store on a cls-hooked namespace, for apps that already keep their own request state in one
 * (pass its name as `clsNamespace`, and the span sits beside that state). cls-hooked is loaded
 * only when this store is chosen. It is slower than AsyncLocalStorage and can lose context
 * across some constructs (see README, "Context stores").
 *
 * `run` and `enter` work on the namespace's stack directly rather than through `runAndReturn`:
 * cls-hooked's `exit` of a context that is no longer on top leaves whatever is on top active,
 * so a span that `start()` entered would outlive the scope (and, from a callback, leak into
 * every later callback of the process); and its `run` writes a property onto any thrown value,
 * which throws anew for a frozen error or a primitive.
 */
export function clsHookedStore(namespaceName?: string): ContextStore {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cls = require('cls-hooked') as {
    getNamespace(name: string): ClsNamespace | undefined;
    createNamespace(name: string): ClsNamespace;
  };
  const name = namespaceName ?? `tomograph-${++storeCount}`;
  const ns = cls.getNamespace(name) ?? cls.createNamespace(name);
  const patched = ns as ClsNamespace & { [ORIGINAL_EXIT]?: ClsNamespace['exit'] };
  if (patched[ORIGINAL_EXIT] === undefined) {
    // Whoever leaves a context (our run, the app's own ns.run on a shared namespace, cls-hooked's
    // `after` hook) also leaves what start()/stop() entered on top of it, as AsyncLocalStorage
    // does. cls-hooked alone would leave the topmost context active. Wrapped on this namespace
    // instance only; the original stays under a symbol.
    const exit = ns.exit;
    patched[ORIGINAL_EXIT] = exit;
    ns.exit = function exitWithEntered(this: ClsNamespace, context: object): void {
      let active = this.active;
      while (isEntered(active) && active !== context) {
        exit.call(this, active);
        active = this.active;
      }
      exit.call(this, context);
    };
  }

  // A child of `parent`, so state that the app keeps in a shared namespace stays visible.
  function childContext(parent: object | null, span: ContextValue | undefined): Context {
    const context = Object.create(parent ?? Object.prototype) as Context;
    context._ns_name = ns.name;
    context[KEY] = span;
    return context;
  }

  return {
    name: 'cls-hooked',
    active: () => {
      const context = ns.active as Context | null;
      return context ? (context[KEY] as ContextValue | undefined) : undefined;
    },
    run: (span, fn) => {
      const context = childContext(ns.active, span);
      ns.enter(context);
      try {
        return fn();
      } finally {
        try {
          ns.exit(context); // and what start()/stop() entered inside fn
        } catch {
          // Foreign code entered a context inside fn and never left it, and cls-hooked's assert
          // cannot find ours. Nothing that we own is left to restore.
        }
      }
    },
    enter: (span) => {
      const active = ns.active as Context | null;
      const replacing = isEntered(active);
      // Replacing an entered context: derive from what it derived from, so repeated start/stop
      // in one flow does not grow a prototype chain.
      const context = childContext(replacing ? Object.getPrototypeOf(active) : active, span);
      context[ENTERED] = true;
      const asyncId = executionAsyncId();
      const contexts = ns._contexts instanceof Map ? ns._contexts : undefined;
      if (contexts !== undefined && (active === null || active === contexts.get(asyncId))) {
        // In a callback, on the context its `before` hook entered (or none): swap that context
        // at the same stack depth, and re-key the resource, so its `after` hook exits ours.
        if (active !== null) ns.exit(active);
        ns.enter(context);
        contexts.set(asyncId, context);
      } else if (replacing) {
        // On a context that an earlier start()/stop() entered in this synchronous run.
        ns.exit(active);
        ns.enter(context);
      } else {
        // Inside a run (ours, or the app's on a shared namespace): pushed on top; leaving that
        // run leaves it too (the wrapped `exit` above).
        ns.enter(context);
      }
    },
  };
}
