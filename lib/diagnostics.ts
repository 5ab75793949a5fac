import type { DiagnosticEvent } from './types';

/** The user's diagnostics listener. */
export type DiagnosticListener = (event: DiagnosticEvent) => void;

/**
 * The one way an SDK-side fault leaves the SDK. With a listener, every event goes to it (and a
 * listener that throws is ignored); without one, each code becomes one `process.emitWarning`
 * for the life of this configuration, so a fault that repeats per request cannot flood the log.
 */
export class Diagnostics {
  private readonly warned = new Set<string>();

  constructor(private readonly listener?: DiagnosticListener) {}

  /** Reports a fault. Never throws. */
  report(code: string, message: string, detail?: unknown): void {
    if (this.listener !== undefined) {
      try {
        this.listener(detail === undefined ? { code, message } : { code, message, detail });
      } catch {
        // A broken listener must not turn a reported fault into a thrown one.
      }
      return;
    }
    if (this.warned.has(code)) return;
    this.warned.add(code);
    try {
      process.emitWarning(message, { type: 'TomographWarning', code });
    } catch {
      // emitWarning can throw under --throw-deprecation-like flags; we still must not.
    }
  }
}

// Messages that integrations registered for errors whose own message must not be exported.
const exportedMessages = new WeakMap<object, string>();

/**
 * Registers the text that spans show for `error` instead of its own message: an integration
 * calls it when the message holds secrets (Knex writes a failed query's binding values into its
 * errors), so that every span the same error object fails, up to the request, shows the safe
 * text. The error object itself is left untouched. Weakly held: no leak.
 */
export function setExportedMessage(error: unknown, message: string): void {
  if (error !== null && typeof error === 'object') exportedMessages.set(error, message);
}

/** A message for any thrown value, without ever throwing itself (a getter may throw). */
export function errorMessage(error: unknown): string {
  try {
    if (error !== null && typeof error === 'object') {
      const registered = exportedMessages.get(error);
      if (registered !== undefined) return registered;
    }
    if (typeof error === 'string') return error;
    // Duck-typed rather than `instanceof Error`: errors from another realm (a vm context, a
    // worker, Jest's sandbox) are still errors with a message.
    if (error !== null && typeof error === 'object') {
      const { message, name } = error as { message?: unknown; name?: unknown };
      if (typeof message === 'string' && message !== '') return message;
      if (typeof name === 'string' && name !== '') return name;
    }
    return String(error);
  } catch {
    return 'unknown error';
  }
}
