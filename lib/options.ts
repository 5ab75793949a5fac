import { codes } from './codes';
import { exporterSpecsFromEnv, exportersFromEnv, RUNS_IN_WORKER, workerExporterFactory } from './env-exporters';
import type { ContextStoreName } from './context';
import type { Clock } from './clock';
import type { DiagnosticListener } from './diagnostics';
import type { IdGenerator } from './ids';
import type { Sampler } from './sampling';
import type { Exporter, ExporterSpec, PropagationFormat } from './types';

/** Everything `configure` takes. Every field is optional. */
export interface TracerOptions {
  /** The service recorded on every span. Default: `TOMOGRAPH_SERVICE_NAME`, else `unknown_service`. */
  serviceName?: string;
  /**
   * Where finished spans go. Default: those the environment asks for (`TOMOGRAPH_ZIPKIN_URL`,
   * `TOMOGRAPH_STATSD_HOST`), else none (spans are then counted as dropped, `noExporter`).
   */
  exporters?: readonly (Exporter | ExporterSpec)[];
  /**
   * Where exporters run: `'main'`, or `'worker'`: in one worker thread (`tomograph/worker`), so
   * encoding and sending never take the app's event loop. With `'worker'`, `exporters` are
   * described by data (`{ zipkin: {...} }`, `{ statsd: {...} }`, `{ module, export, options }`),
   * or are `WorkerExporter`s. Default: `TOMOGRAPH_EXPORT_IN`, else `'main'`.
   */
  exportIn?: 'main' | 'worker';
  /** The async-context store. Default `'async-local-storage'`. */
  context?: ContextStoreName;
  /** With `context: 'cls-hooked'`: the name of an existing namespace to share. */
  clsNamespace?: string;
  /**
   * Root sampling: a ratio from 0 to 1, or a function of the span name. Spans with a parent
   * follow the parent. Default: `TOMOGRAPH_SAMPLE_RATE`, else 1.
   */
  sampler?: Sampler;
  /**
   * At most this many new traces a second start recording in this process (a token bucket with
   * one second's burst), counting new roots the sampler chose and requests whose incoming token
   * says sampled, which any client can send. Past it a trace is not recorded and downstream
   * hears "not sampled" (counted in `stats().tracesRateLimited`). Default: no cap.
   */
  maxTracesPerSecond?: number;
  /** Headers `inject` writes. Default `['x-trace-info', 'traceparent', 'b3']`. */
  propagation?: readonly PropagationFormat[];
  /** Spans held for export at most. Default 2048. */
  maxQueueSize?: number;
  /** Spans per export call at most. Default 512. */
  maxBatchSize?: number;
  /** Longest wait for a batch to fill, in milliseconds. Default 1000. */
  scheduledDelayMs?: number;
  /**
   * Longest time one export call may take, and `flush()` or `shutdown()` as a whole whatever the
   * backlog, in milliseconds (shutdown drops what it could not send in time, counted as
   * `spansDropped.shutdownTimeout`). Default 10000.
   */
  exportTimeoutMs?: number;
  /** Receives every SDK-side fault. Without it, each code becomes one `process.emitWarning`. */
  onDiagnostic?: DiagnosticListener;
  /**
   * When the event loop empties (`beforeExit`), flush what is queued, once, so a script that
   * just ends loses nothing. `process.exit()` and signals skip `beforeExit`: call `shutdown()`
   * there. Default true.
   */
  flushOnExit?: boolean;
  /**
   * Attributes of this service, recorded once and sent with every span: Zipkin tags on each
   * span, StatsD global tags (`tags: true` mode). Keys as OpenTelemetry names them
   * (`service.version`, `deployment.environment`, `service.instance.id`); values strings,
   * numbers or booleans. A span's own tag of the same key wins. Default none.
   */
  resource?: Readonly<Record<string, string | number | boolean>>;
  /** Turns tracing off: every call is a no-op. Default: `TOMOGRAPH_DISABLED` is `1` or `true`. */
  disabled?: boolean;
  /** Where this process runs, recorded on spans. Default: the first external IPv4 address. */
  host?: { address?: string; port?: number };
  /** Time source. Default: a monotonic clock anchored once to the epoch. */
  clock?: Clock;
  /** Id source. Default: crypto-seeded random ids. */
  idGenerator?: IdGenerator;
  /** Random numbers in [0, 1) for ratio sampling. Default `Math.random`. */
  random?: () => number;
  /**
   * Copy W3C baggage entries onto recording spans as tags `baggage.<key>`: `true` for every
   * entry, or a list of keys. Default `false`: baggage may carry user data, so it never
   * becomes a tag (and so never reaches an exporter) unless asked for here.
   */
  baggageTags?: boolean | readonly string[];
}

/** Options after defaults and the environment are applied. */
export interface ResolvedOptions {
  serviceName: string;
  exporters: readonly Exporter[];
  context: ContextStoreName;
  clsNamespace: string | undefined;
  sampler: Sampler;
  maxTracesPerSecond: number | undefined;
  propagation: readonly PropagationFormat[];
  maxQueueSize: number;
  maxBatchSize: number;
  scheduledDelayMs: number;
  exportTimeoutMs: number;
  onDiagnostic: DiagnosticListener | undefined;
  disabled: boolean;
  host: { address?: string; port?: number } | undefined;
  flushOnExit: boolean;
  /** Frozen; empty when none was given. */
  resource: Readonly<Record<string, string | number | boolean>>;
  /** `true` for all keys, the keys to copy, or undefined for none. */
  baggageTags: true | ReadonlySet<string> | undefined;
}

const FORMATS: readonly PropagationFormat[] = ['x-trace-info', 'traceparent', 'b3', 'b3-multi'];
const KNOWN_OPTIONS = new Set([
  'serviceName', 'exporters', 'context', 'clsNamespace', 'sampler', 'maxTracesPerSecond', 'propagation', 'maxQueueSize',
  'maxBatchSize', 'scheduledDelayMs', 'exportTimeoutMs', 'onDiagnostic', 'disabled', 'host',
  'clock', 'idGenerator', 'random', 'flushOnExit', 'resource', 'baggageTags', 'exportIn',
]);

/**
 * A value as an option error quotes it, with its type when that is what went wrong: `8125` for
 * a number, `the string "8125"` for a string, `an object`, `an array`, `null`. So "must be an
 * integer, not the string "8125"" never reads as a contradiction.
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return `the string ${JSON.stringify(value.length > 60 ? value.slice(0, 60) + '…' : value)}`;
    case 'number':
      return String(value);
    case 'boolean':
      return `the boolean ${value}`;
    case 'bigint':
      return `the bigint ${value}n`;
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default:
      return 'an object';
  }
}

/** A TypeError with the stable code `TOMOGRAPH_ERR_INVALID_OPTION`. */
export function invalidOption(message: string): TypeError {
  const error = new TypeError(`tomograph: ${message}`) as TypeError & { code: string };
  error.code = codes.INVALID_OPTION;
  return error;
}

/** Applies defaults and the environment, and throws a clear TypeError on any wrong option. */
export function resolveOptions(options: TracerOptions, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw invalidOption('configure() takes an options object');
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw invalidOption(`unknown option "${key}"`);
  }

  const serviceName = options.serviceName ?? nonEmpty(env.TOMOGRAPH_SERVICE_NAME) ?? 'unknown_service';
  if (typeof serviceName !== 'string' || serviceName.trim() === '') {
    throw invalidOption(`serviceName must be a non-empty string, not ${describeValue(serviceName)}`);
  }

  const context = options.context ?? 'async-local-storage';
  if (context !== 'async-local-storage' && context !== 'cls-hooked') {
    throw invalidOption(`context must be 'async-local-storage' or 'cls-hooked', not ${describeValue(context)}`);
  }

  const sampler = options.sampler ?? sampleRateFromEnv(env.TOMOGRAPH_SAMPLE_RATE) ?? 1;
  if (typeof sampler === 'number') {
    if (!(sampler >= 0 && sampler <= 1)) throw invalidOption(`sampler ratio must be within 0..1, not ${sampler}`);
  } else if (typeof sampler !== 'function') {
    throw invalidOption(`sampler must be a ratio from 0 to 1 or a function, not ${describeValue(sampler)}`);
  }

  const maxTracesPerSecond = options.maxTracesPerSecond;
  if (maxTracesPerSecond !== undefined &&
    !(typeof maxTracesPerSecond === 'number' && maxTracesPerSecond > 0 && Number.isFinite(maxTracesPerSecond))) {
    throw invalidOption(`maxTracesPerSecond must be a positive number, not ${describeValue(maxTracesPerSecond)}`);
  }

  const propagation = options.propagation ?? ['x-trace-info', 'traceparent', 'b3'];
  if (!Array.isArray(propagation)) throw invalidOption(`propagation must be an array of header formats, not ${describeValue(propagation)}`);
  for (const format of propagation) {
    if (!FORMATS.includes(format)) {
      throw invalidOption(`unknown propagation format ${describeValue(format)} (known: ${FORMATS.join(', ')})`);
    }
  }

  const maxQueueSize = positiveInteger('maxQueueSize', options.maxQueueSize, 2048);
  const maxBatchSize = positiveInteger('maxBatchSize', options.maxBatchSize, 512);
  if (maxBatchSize > maxQueueSize) throw invalidOption('maxBatchSize must not exceed maxQueueSize');
  const scheduledDelayMs = positiveInteger('scheduledDelayMs', options.scheduledDelayMs, 1000, true, MAX_TIMER_MS);
  const exportTimeoutMs = positiveInteger('exportTimeoutMs', options.exportTimeoutMs, 10000, false, MAX_TIMER_MS);

  if (options.onDiagnostic !== undefined && typeof options.onDiagnostic !== 'function') {
    throw invalidOption(`onDiagnostic must be a function, not ${describeValue(options.onDiagnostic)}`);
  }
  const disabled = options.disabled ?? isTrue(env.TOMOGRAPH_DISABLED);
  if (typeof disabled !== 'boolean') throw invalidOption(`disabled must be a boolean, not ${describeValue(disabled)}`);
  const flushOnExit = options.flushOnExit ?? true;
  if (typeof flushOnExit !== 'boolean') throw invalidOption(`flushOnExit must be a boolean, not ${describeValue(flushOnExit)}`);
  const resource = resolveResource(options.resource);
  const host = options.host;
  if (
    host !== undefined &&
    (host === null ||
      typeof host !== 'object' ||
      (host.address !== undefined && typeof host.address !== 'string') ||
      (host.port !== undefined && !(Number.isInteger(host.port) && host.port >= 0 && host.port <= 65535)))
  ) {
    throw invalidOption(
      `host must be an object { address?: string, port?: integer 0..65535 }, not ${describeHost(host)}`,
    );
  }
  // Injected parts are called on every span: a wrong one must fail here, not in the app later.
  if (options.clsNamespace !== undefined && (typeof options.clsNamespace !== 'string' || options.clsNamespace === '')) {
    throw invalidOption('clsNamespace must be a non-empty string');
  }
  if (options.clock !== undefined && !hasMethods(options.clock, 'nowUs')) {
    throw invalidOption('clock must be an object with a nowUs() method');
  }
  if (options.idGenerator !== undefined && !hasMethods(options.idGenerator, 'traceId', 'spanId')) {
    throw invalidOption('idGenerator must be an object with traceId() and spanId() methods');
  }
  if (options.random !== undefined && typeof options.random !== 'function') {
    throw invalidOption('random must be a function returning numbers in [0, 1)');
  }

  const baggageTags = options.baggageTags ?? false;
  if (
    typeof baggageTags !== 'boolean' &&
    !(Array.isArray(baggageTags) && baggageTags.every((key) => typeof key === 'string' && key !== ''))
  ) {
    throw invalidOption('baggageTags must be a boolean or an array of baggage keys');
  }

  // Last: with exportIn 'worker' this starts a thread, so only once every other option is right.
  const exporters = resolveExporters(options, env, exportTimeoutMs);
  return {
    serviceName,
    exporters,
    context,
    clsNamespace: options.clsNamespace,
    sampler,
    maxTracesPerSecond,
    propagation: [...new Set(propagation)],
    maxQueueSize,
    maxBatchSize,
    scheduledDelayMs,
    exportTimeoutMs,
    onDiagnostic: options.onDiagnostic,
    disabled,
    host: options.host,
    flushOnExit,
    resource,
    baggageTags: baggageTags === true ? true : Array.isArray(baggageTags) && baggageTags.length > 0 ? new Set(baggageTags) : undefined,
  };
}

/**
 * The exporters, checked: Exporter objects on the main thread; with `exportIn: 'worker'`, every
 * exporter described by data goes into one worker exporter (WorkerExporters given ready-made stay).
 */
function resolveExporters(options: TracerOptions, env: NodeJS.ProcessEnv, exportTimeoutMs: number): Exporter[] {
  const exportIn = options.exportIn ?? (nonEmpty(env.TOMOGRAPH_EXPORT_IN) as TracerOptions['exportIn']) ?? 'main';
  if (exportIn !== 'main' && exportIn !== 'worker') {
    throw invalidOption(`exportIn must be 'main' or 'worker', not ${describeValue(exportIn)}${options.exportIn === undefined ? ' (from TOMOGRAPH_EXPORT_IN)' : ''}`);
  }
  let given: readonly unknown[];
  try {
    given = options.exporters ?? (exportIn === 'worker' ? exporterSpecsFromEnv(env) : exportersFromEnv(env));
  } catch (error) {
    if (error instanceof TypeError && (error as { code?: unknown }).code === undefined) throw invalidOption(error.message);
    throw error;
  }
  if (!Array.isArray(given)) throw invalidOption(`exporters must be an array, not ${describeValue(given)}`);
  const exporters: Exporter[] = [];
  const specs: ExporterSpec[] = [];
  given.forEach((exporter: unknown, i) => {
    const isExporter = exporter !== null && typeof exporter === 'object' && typeof (exporter as Exporter).export === 'function';
    if (exportIn === 'main') {
      if (!isExporter) throw invalidOption(`exporters[${i}] has no export(spans) method${exporter !== null && typeof exporter === 'object' ? " (an exporter described by data needs exportIn: 'worker')" : ''}`);
      exporters.push(exporter as Exporter);
    } else if (isExporter) {
      if ((exporter as { [RUNS_IN_WORKER]?: unknown })[RUNS_IN_WORKER] !== true) {
        throw invalidOption(`exporters[${i}] is an exporter object, which cannot run in the export worker (exportIn: 'worker'): describe it by data ({ zipkin: {...} }, { statsd: {...} }, { module, export, options }), or use exportIn: 'main'`);
      }
      exporters.push(exporter as Exporter);
    } else {
      specs.push(exporter as ExporterSpec);
    }
  });
  if (specs.length > 0) {
    const make = workerExporterFactory();
    if (make === undefined) throw invalidOption("exportIn: 'worker' needs the package entry (require('tomograph')) or a WorkerExporter from tomograph/worker");
    exporters.push(make(specs, exportTimeoutMs));
  }
  return exporters;
}

// setTimeout fires at once (with a TimeoutOverflowWarning) for longer delays.
const MAX_TIMER_MS = 2_147_483_647;

function positiveInteger(name: string, value: unknown, fallback: number, allowZero = false, max = Infinity): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < (allowZero ? 0 : 1) || value > max) {
    const range = max === Infinity ? '' : ` up to ${max}`;
    throw invalidOption(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer${range}, not ${describeValue(value)}`);
  }
  return value;
}

function describeHost(host: unknown): string {
  if (host === null || typeof host !== 'object' || Array.isArray(host)) return describeValue(host);
  const { address, port } = host as { address?: unknown; port?: unknown };
  if (address !== undefined && typeof address !== 'string') return `address ${describeValue(address)}`;
  return `port ${describeValue(port)}`;
}

const NO_RESOURCE: Readonly<Record<string, string | number | boolean>> = Object.freeze({});

function resolveResource(resource: unknown): Readonly<Record<string, string | number | boolean>> {
  if (resource === undefined) return NO_RESOURCE;
  if (resource === null || typeof resource !== 'object' || Array.isArray(resource)) {
    throw invalidOption(`resource must be an object of attributes, not ${describeValue(resource)}`);
  }
  const copy: Record<string, string | number | boolean> = {};
  for (const key of Object.keys(resource)) {
    const value = (resource as Record<string, unknown>)[key];
    if (key === '' || (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')) {
      throw invalidOption(
        `resource[${JSON.stringify(key)}] must be a string, number or boolean under a non-empty key, not ${describeValue(value)}`,
      );
    }
    copy[key] = value;
  }
  return Object.freeze(copy);
}

function hasMethods(value: unknown, ...names: string[]): boolean {
  if (value === null || typeof value !== 'object') return false;
  return names.every((name) => typeof (value as Record<string, unknown>)[name] === 'function');
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function isTrue(value: string | undefined): boolean {
  const v = value?.trim().toLowerCase();
  return v === '1' || v === 'true';
}

function sampleRateFromEnv(value: string | undefined): number | undefined {
  const text = nonEmpty(value);
  if (text === undefined) return undefined;
  const rate = Number(text);
  if (!Number.isFinite(rate) || rate < 0 || rate > 1) {
    throw invalidOption(`TOMOGRAPH_SAMPLE_RATE must be a number within 0..1, not ${JSON.stringify(value)}`);
  }
  return rate;
}
