import type { ContextStore } from './context';
import type { Span } from './span';

/** The parts of a cls-hooked namespace that the store uses. */
export interface ClsNamespace {
  active: unknown;
  get(key: string): unknown;
  set<T>(key: string, value: T): T;
  runAndReturn<T>(fn: (context: unknown) => T): T;
  createContext(): object;
  enter(context: object): void;
}

const KEY = 'tomograph.span';
let storeCount = 0;

/**
 * A store on a cls-hooked namespace, for apps that already keep their own request state in one
 * (pass its name as `clsNamespace`, and the span sits beside that state). cls-hooked is loaded
 * only when this store is chosen. It is slower than AsyncLocalStorage and can lose context
 * across some constructs (see README, "Context stores").
 */
export function clsHookedStore(namespaceName?: string): ContextStore {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cls = require('cls-hooked') as {
    getNamespace(name: string): ClsNamespace | undefined;
    createNamespace(name: string): ClsNamespace;
  };
  const name = namespaceName ?? `tomograph-${++storeCount}`;
  const ns = cls.getNamespace(name) ?? cls.createNamespace(name);
  return {
    name: 'cls-hooked',
    active: () => (ns.active ? (ns.get(KEY) as Span | undefined) : undefined),
    run: (span, fn) =>
      ns.runAndReturn(() => {
        ns.set(KEY, span);
        return fn();
      }),
    enter: (span) => {
      // A fresh child context rather than a set() on the active one: the active context object
      // is shared with every callback created under it, and mutating it would leak the span
      // into sibling flows.
      const context = ns.createContext() as Record<string, unknown>;
      context[KEY] = span;
      ns.enter(context);
    },
  };
}
