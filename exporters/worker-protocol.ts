import { join } from 'node:path';
import { describeValue, invalidOption } from '../lib/options';
import type { MetricsExporter } from '../lib/metrics/types';
import type { Exporter } from '../lib/types';
import type { PackedBatch } from './worker-format';
import type { PackedMetrics } from './worker-metrics';
import type { StatsdExporterOptions } from './statsd';
import type { ZipkinExporterOptions } from './zipkin';

/**
 * An exporter to make inside the export worker, described by data (exporters hold sockets, which
 * cannot cross threads): one of the built-in ones by its options, or a class of your own by module.
 * Options cross by structured clone once, at start: functions (`onDiagnostic`, `lookup`,
 * `random`, a ready-made `client`) cannot, and are refused at once.
 */
export type WorkerExporterSpec =
  | { zipkin: ZipkinExporterOptions }
  | { statsd: StatsdExporterOptions }
  | {
    /**
     * A module the worker can `require`: a package name or a path (a relative path is taken from
     * `process.cwd()`), resolved on the main thread so a wrong one fails at once.
     */
    module: string;
    /** The exported class, made with `new Class(options)`. Default `'default'`, else the module itself. */
    export?: string;
    /** Its options: anything structured clone can copy. */
    options?: unknown;
  };

/** A spec checked and resolved on the main thread, as the worker receives it. */
export interface ResolvedSpec {
  /** An absolute file the worker requires. */
  readonly file: string;
  readonly exportName: string | undefined;
  readonly options: unknown;
  /** How diagnostics name it: `zipkin`, `statsd`, or `module:export`. */
  readonly label: string;
}

/** Main thread to worker. */
export type ToWorker =
  | { type: 'attach'; resource: Readonly<Record<string, string | number | boolean>> }
  | (PackedBatch & { type: 'batch'; seq: number })
  | (PackedMetrics & { type: 'metrics'; seq: number; service: string })
  | { type: 'flush'; seq: number }
  | { type: 'shutdown'; seq: number }
  | { type: 'exit'; code: number };

/** Worker to main thread. */
export type ToMain =
  | { type: 'ready' }
  | { type: 'start-failed'; message: string; code: string | undefined }
  | { type: 'done'; seq: number; error: string | undefined }
  | { type: 'diagnostic'; code: string; message: string; detail?: unknown };

const BUILT_IN: Record<string, { file: string; exportName: string }> = {
  zipkin: { file: 'zipkin', exportName: 'ZipkinExporter' },
  statsd: { file: 'statsd', exportName: 'StatsdExporter' },
};

/** Checks `specs` and resolves their modules; throws a TypeError (`TOMOGRAPH_ERR_INVALID_OPTION`) on a wrong one. */
export function resolveSpecs(specs: unknown): ResolvedSpec[] {
  if (!Array.isArray(specs) || specs.length === 0) {
    throw invalidOption(`WorkerExporter: exporters must be a non-empty array of exporter specs, not ${describeValue(specs)}`);
  }
  return specs.map((spec: unknown, i) => {
    const where = `WorkerExporter: exporters[${i}]`;
    if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
      throw invalidOption(`${where} must be { zipkin: {...} }, { statsd: {...} } or { module, export?, options? }, not ${describeValue(spec)}`);
    }
    if (typeof (spec as { export?: unknown }).export === 'function') {
      throw invalidOption(`${where} is an exporter object: an exporter made on the main thread cannot run in the worker; describe it instead ({ zipkin: {...} }, { statsd: {...} } or { module, export, options })`);
    }
    const keys = Object.keys(spec);
    const kind = keys.find((key) => key in BUILT_IN);
    if (kind !== undefined) {
      if (keys.length !== 1) throw invalidOption(`${where} must have one key, ${kind}, not ${keys.join(', ')}`);
      const options = (spec as Record<string, unknown>)[kind] ?? {};
      checkCloneable(options, `${where}.${kind}`);
      return { file: join(__dirname, BUILT_IN[kind].file), exportName: BUILT_IN[kind].exportName, options, label: kind };
    }
    const { module, export: exportName, options } = spec as { module?: unknown; export?: unknown; options?: unknown };
    for (const key of keys) {
      if (key !== 'module' && key !== 'export' && key !== 'options') {
        throw invalidOption(`${where} has an unknown key "${key}" (known: zipkin, statsd, or module, export, options)`);
      }
    }
    if (typeof module !== 'string' || module === '') {
      throw invalidOption(`${where}.module must be a module name or path, not ${describeValue(module)}`);
    }
    if (exportName !== undefined && (typeof exportName !== 'string' || exportName === '')) {
      throw invalidOption(`${where}.export must be the name of an exported class, not ${describeValue(exportName)}`);
    }
    let file: string;
    try {
      file = require.resolve(module, { paths: [process.cwd()] });
    } catch {
      throw invalidOption(`${where}.module ${JSON.stringify(module)} cannot be found from ${process.cwd()}`);
    }
    checkCloneable(options, `${where}.options`);
    return { file, exportName, options, label: exportName === undefined ? module : `${module}:${exportName}` };
  });
}

/** An exporter made in the worker: of spans, of metrics updates, or both (StatsD). */
export type WorkerSideExporter = Partial<Exporter> & Partial<MetricsExporter>;

/** Makes the exporters in the worker; throws the constructor's own error on a wrong option. */
export function makeExporters(specs: readonly ResolvedSpec[]): { name: string; exporter: WorkerSideExporter }[] {
  return specs.map((spec) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loaded = require(spec.file) as Record<string, unknown>;
    const Class = spec.exportName === undefined
      ? (typeof loaded === 'function' ? loaded : loaded.default)
      : loaded[spec.exportName];
    if (typeof Class !== 'function') {
      throw invalidOption(`WorkerExporter: ${spec.label} is not a class (the module exports ${describeValue(Class)} there)`);
    }
    const exporter = new (Class as new (options: unknown) => WorkerSideExporter)(spec.options);
    if (exporter === null || typeof exporter !== 'object' || (typeof exporter.export !== 'function' && typeof exporter.exportMetrics !== 'function')) {
      throw invalidOption(`WorkerExporter: ${spec.label} made an object with neither an export(spans) nor an exportMetrics(update) method`);
    }
    return { name: spec.label, exporter };
  });
}

/** Refuses options structured clone cannot copy, naming the first offending field. */
function checkCloneable(value: unknown, where: string, depth = 0): void {
  if (typeof value === 'function') {
    throw invalidOption(`${where} is a function, which cannot cross to the export worker: leave it out, or make that exporter a module of your own ({ module, export, options })`);
  }
  if (value === null || typeof value !== 'object' || depth > 8) return;
  for (const key of Object.keys(value)) checkCloneable((value as Record<string, unknown>)[key], `${where}.${key}`, depth + 1);
  try {
    if (depth === 0) structuredClone(value);
  } catch (error) {
    throw invalidOption(`${where} cannot be copied to the export worker: ${(error as Error).message}`);
  }
}
