import { codes } from '../lib/codes';
import { errorMessage, setExportedMessage } from '../lib/diagnostics';
import type { Span } from '../lib/span';
import type { Tracer } from '../lib/tracer';
import { databaseInfo, type DatabaseInfo } from './knex-endpoint';
import { scrubErrorMessage, sqlComment, truncate } from './knex-sql';

/** Options after defaults: what every part of the Knex integration reads. */
export interface ResolvedKnexOptions {
  readonly mode: 'span' | 'note';
  readonly includeBindings: boolean;
  readonly maxStatementLength: number;
  readonly comment: boolean;
  readonly remoteService: string | undefined;
}

/** A Knex client as this integration sees it: any object; fields are read defensively. */
export type KnexClient = Record<string | symbol, unknown>;

/** On a builder: the span current when the builder was made (absent: none was). */
export const PARENT: unique symbol = Symbol('tomograph.knex.parent');

/**
 * One `instrumentKnex` call: its tracer, options and on/off switch, shared by the patches on the
 * client, on clones of it (`withUserParams`) and on transaction clients, and by the listeners on
 * builders. `detach()` turns `active` off: patches then pass straight through, and only queries
 * already running still finish their spans.
 */
export class KnexTracing {
  active = true;
  /** Set by the patcher: instruments a transaction's own client (made by Knex per transaction). */
  patchTransactionClient: (client: KnexClient) => void = () => undefined;
  private readonly infoByObject = new WeakMap<object, DatabaseInfo>();
  private infoByString: { settings: string; info: DatabaseInfo } | undefined;
  // The comment for the statement whose builder just emitted `query`: Knex calls `client.query`
  // with that same statement synchronously right after, where the comment is appended.
  private pendingSql: string | undefined;
  private pendingComment = '';

  constructor(
    readonly tracer: Tracer,
    readonly options: ResolvedKnexOptions,
  ) {}

  /** Whether new queries and transactions are traced now. */
  get on(): boolean {
    return this.active && this.tracer.isEnabled;
  }

  /** `db.system`, `db.name` and the peer for a client, computed once per connection settings. */
  dbInfo(client: KnexClient): DatabaseInfo {
    const settings = client.connectionSettings;
    if (typeof settings === 'string') {
      if (this.infoByString?.settings !== settings) {
        this.infoByString = { settings, info: databaseInfo(client, this.options.remoteService) };
      }
      return this.infoByString.info;
    }
    const key = settings !== null && typeof settings === 'object' ? settings : client;
    let info = this.infoByObject.get(key);
    if (info === undefined) {
      info = databaseInfo(client, this.options.remoteService);
      this.infoByObject.set(key, info);
    }
    return info;
  }

  /** The span a builder should report to: the one current when it was made, if any. */
  capturedParent(builder: KnexClient): Span | undefined {
    return builder[PARENT] as Span | undefined;
  }

  /** Remembers that the statement `sql`, about to be sent, carries `span`'s trace token. */
  expectStatement(sql: string, span: Span | undefined): void {
    const token = span === undefined ? undefined : this.tracer.getTraceInfo(span);
    this.pendingSql = sql;
    this.pendingComment = token === undefined ? '' : sqlComment({ traceparent: token });
  }

  /** The comment for the query object Knex is about to send, or '' (each is handed out once). */
  takeComment(sql: string): string {
    if (this.pendingSql !== sql) return '';
    this.pendingSql = undefined;
    return this.pendingComment;
  }

  /**
   * What spans may show for a failed query's error: Knex's prefix dropped, binding values
   * replaced (unless `includeBindings`), cut to `maxStatementLength`. Registered for the error
   * object, so a parent span that fails with the same error (the request) shows this text too.
   */
  exportedError(error: unknown, sql: unknown, bindings: unknown): string {
    const text = truncate(
      scrubErrorMessage(errorMessage(error), typeof sql === 'string' ? sql : '', bindings, this.options.includeBindings),
      this.options.maxStatementLength,
    );
    setExportedMessage(error, text);
    return text;
  }

  /** Reports a fault in this integration's own code; the query goes on untraced. */
  fault(error: unknown, where: string): void {
    try {
      this.tracer.report(codes.INTEGRATION_ERROR, `tomograph: knex integration failed in ${where}; query not traced`, error);
    } catch {
      // report() does not throw; this is the last line before the app.
    }
  }
}

/** A driver's error code (`23505`, `ER_DUP_ENTRY`, `SQLITE_CONSTRAINT_UNIQUE`), if it has one. */
export function errorCode(error: unknown): string | number | undefined {
  try {
    if (error === null || typeof error !== 'object') return undefined;
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    if (typeof code === 'number') return code;
    const errno = (error as { errno?: unknown }).errno;
    return typeof errno === 'number' ? errno : undefined;
  } catch {
    return undefined;
  }
}
