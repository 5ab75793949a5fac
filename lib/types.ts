import type { Baggage } from './baggage';

/** Kinds of span, as Zipkin and OpenTelemetry name them. Absent on a span of local work. */
export type SpanKind = 'SERVER' | 'CLIENT' | 'PRODUCER' | 'CONSUMER';

/** Where a span ran, or the peer it talked to. */
export interface Endpoint {
  service?: string;
  address?: string;
  port?: number;
}

/** A timestamped event on a span (tomograph's annotation). */
export interface Note {
  /** Epoch microseconds (integer). */
  timestamp: number;
  value: string;
  /** Microseconds (integer), when the event itself took time (a query in `mode: 'note'`). */
  duration?: number;
}

/** A tag value as exporters receive it. */
export type TagValue = string | number | boolean;

/** A span as every exporter receives it: the contract of DESIGN.md, "The model". */
export interface FinishedSpan {
  /** 32 lower-case hex. */
  readonly traceId: string;
  /** 16 lower-case hex, never all zeros. */
  readonly id: string;
  /** 16 hex; absent on a root span. */
  readonly parentId?: string;
  readonly name: string;
  /** The service that recorded the span. */
  readonly service: string;
  readonly kind?: SpanKind;
  readonly host?: { address?: string; port?: number };
  /** The peer, for CLIENT spans. */
  readonly remote?: Endpoint;
  /** Start, epoch microseconds (integer). */
  readonly timestamp: number;
  /** Microseconds (integer, >= 1). */
  readonly duration: number;
  readonly notes: readonly Note[];
  readonly tags: Readonly<Record<string, TagValue>>;
  /** The failure's message, when the operation failed. */
  readonly error?: string;
  readonly sampled: boolean;
  /**
   * The span that was current in this process when this one started (absent on the local
   * root). Exporters that name things by their place in the local tree (StatsD) walk it.
   */
  readonly localParent?: FinishedSpan;
}

/**
 * What crosses a process boundary: the ids of the calling span and its sampling decision, and,
 * when they came with it, the W3C random flag, `tracestate` and baggage.
 */
export interface TraceContext {
  /** 32 lower-case hex. */
  traceId: string;
  /** 16 lower-case hex: the span on the sending side, the parent of the receiving span. */
  spanId: string;
  sampled: boolean;
  /**
   * W3C Trace Context Level 2 `random` flag (trace-flags bit 1): the trace id's right-most 7 bytes
   * are random. Absent or `false`: nothing is known about how the id was made.
   */
  readonly random?: boolean;
  /** The W3C `tracestate` that came with the context (members joined by `,`), if any. */
  readonly traceState?: string;
  /** The W3C baggage that came with the context, if any. */
  readonly baggage?: Baggage;
}

/** A sink for finished spans. Keep it tiny: only `export` is required. */
export interface Exporter {
  /** Called with a batch of finished, sampled spans. May return a promise; may throw. */
  export(spans: readonly FinishedSpan[]): void | Promise<void>;
  /** Send whatever the exporter buffers itself. */
  flush?(): Promise<void>;
  /** Flush, then release sockets and timers. Called once, by the tracer's shutdown. */
  shutdown?(): Promise<void>;
  /**
   * Called once when a tracer takes the exporter, with the tracer's diagnostics: an exporter that
   * has faults of its own to report (a socket error between exports) sends them there, so users
   * set `onDiagnostic` once, on the tracer.
   */
  attach?(tracer: ExporterHost): void;
}

/**
 * An exporter described by data, for `exportIn: 'worker'` (made inside the export worker, since
 * an exporter holds sockets): a built-in one by its options, or a class by module. The full
 * option types are in `tomograph/worker` (`WorkerExporterSpec`).
 */
export type ExporterSpec =
  | { readonly zipkin: object }
  | { readonly statsd: object }
  | { readonly module: string; readonly export?: string; readonly options?: unknown };

/** What a tracer offers the exporters it takes. */
export interface ExporterHost {
  /** Reports a fault through the tracer's `onDiagnostic` (or its one-warning-per-code fallback). */
  report(code: string, message: string, detail?: unknown): void;
  /**
   * The tracer's `resource`: attributes of the service (`service.version`, …) to send with
   * every span, as the backend allows (Zipkin: tags; StatsD: global tags). Empty when none.
   */
  readonly resource?: Readonly<Record<string, string | number | boolean>>;
}

/** One SDK-side fault or notice, as `onDiagnostic` receives it. */
export interface DiagnosticEvent {
  /** Stable code, `TOMOGRAPH_…`; never reused for another meaning. */
  code: string;
  message: string;
  detail?: unknown;
}

/** Header formats that `inject` can write. */
export type PropagationFormat = 'x-trace-info' | 'traceparent' | 'b3' | 'b3-multi';

/**
 * Headers as users hold them: a plain object, Node's `IncomingHttpHeaders` /
 * `OutgoingHttpHeaders`, a WHATWG `Headers`, or anything with `get`/`set` or `setHeader`.
 */
export type HeaderCarrier =
  | Record<string, string | string[] | number | undefined>
  | { get(name: string): string | null | undefined; set?(name: string, value: string): void }
  | { getHeader(name: string): unknown; setHeader(name: string, value: string): unknown };
