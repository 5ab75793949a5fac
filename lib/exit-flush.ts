/**
 * The flush at `beforeExit`: when the event loop empties, every configured tracer (that did not
 * turn it off with `flushOnExit: false`) flushes what is queued, so a script that just ends
 * loses nothing. One process listener for all tracers, which it holds weakly: a tracer the
 * app dropped is not kept alive by being registered here.
 *
 * `beforeExit` is not emitted on `process.exit()`, on an uncaught exception, or when a signal
 * kills the process: those need an explicit `await shutdown()` (README, "Before the process
 * exits").
 */

/** What takes part in the exit flush. */
export interface ExitFlushTarget {
  beforeExit(): void;
}

const targets = new Set<WeakRef<ExitFlushTarget>>();
let listening = false;
let pruneAt = 64;

function onBeforeExit(): void {
  for (const ref of targets) {
    const target = ref.deref();
    if (target === undefined) {
      targets.delete(ref);
      continue;
    }
    try {
      target.beforeExit();
    } catch {
      // A target never throws; if one did, the others still flush and the process still exits.
    }
  }
}

/** Flushes `target` at `beforeExit` from now on; returns the function that stops it. */
export function flushAtExit(target: ExitFlushTarget): () => void {
  if (!listening) {
    listening = true;
    process.on('beforeExit', onBeforeExit);
  }
  // Prune refs to collected tracers now and then, so many short-lived tracers do not pile up.
  if (targets.size >= pruneAt) {
    for (const ref of targets) if (ref.deref() === undefined) targets.delete(ref);
    pruneAt = Math.max(64, targets.size * 2);
  }
  const ref = new WeakRef(target);
  targets.add(ref);
  return () => {
    targets.delete(ref);
  };
}
