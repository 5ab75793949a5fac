import { codes } from '../lib/codes';
import { errorMessage, setExportedMessage } from '../lib/diagnostics';
import type { Span } from '../lib/span';
import type { SpanOptions, Tracer } from '../lib/tracer';
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

const TOKEN = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

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
  /** Statements sent and not yet answered. */
  inflight = 0;
  /** After `detach()`, run once no statement is in flight (the client's listener goes then). */
  private whenIdle: (() => void) | undefined = undefined;
  /** Set by the patcher: instruments a transaction's own client (made by Knex per transaction). */
  patchTransactionClient: (client: KnexClient) => void = () => undefined;
  private readonly infoByObject = new WeakMap<object, DatabaseInfo>();
  private infoByString: { settings: string; info: DatabaseInfo } | undefined;
  private lastSettings: unknown = undefined;
  private lastInfo: DatabaseInfo | undefined = undefined;
  // The comment for the statement whose builder just emitted `query`: Knex calls `client.query`
  // with that same statement synchronously right after, where the comment is appended.
  private pendingSql: string | undefined;
  private pendingComment = '';
  /**
   * The options of every query span, filled in just before each `startSpan` (which reads them
   * synchronously and keeps none of the object): one allocation less per query.
   */
  readonly spanOptions: SpanOptions = { kind: 'CLIENT', parent: undefined, remote: undefined, timestamp: undefined };

  constructor(
    readonly tracer: Tracer,
    readonly options: ResolvedKnexOptions,
  ) {}

  /** Whether new queries and transactions are traced now. */
  get on(): boolean {
    return this.active && this.tracer.isEnabled;
  }

  /** Stops new work; `cleanUp` runs now, or when the last statement in flight is answered. */
  detach(cleanUp: () => void): void {
    this.active = false;
    if (this.inflight <= 0) cleanUp();
    else this.whenIdle = cleanUp;
  }

  /** Called when the last statement in flight after `detach()` is answered. */
  idle(): void {
    const cleanUp = this.whenIdle;
    this.whenIdle = undefined;
    cleanUp?.();
  }

  /** `db.system`, `db.name` and the peer for a client, computed once per connection settings. */
  dbInfo(client: KnexClient): DatabaseInfo {
    const settings = client.connectionSettings;
    // Nearly always the same settings object as last time (a transaction's client shares it).
    if (settings === this.lastSettings && settings !== undefined) return this.lastInfo!;
    const info = this.lookUpInfo(client, settings);
    this.lastSettings = settings;
    this.lastInfo = info;
    return info;
  }

  private lookUpInfo(client: KnexClient, settings: unknown): DatabaseInfo {
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
    // A token made here is hex and dashes, which sqlcommenter's escaping leaves as they are.
    this.pendingComment =
      token === undefined ? '' : TOKEN.test(token) ? "/*traceparent='" + token + "'*/" : sqlComment({ traceparent: token });
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
