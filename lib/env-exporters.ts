import type { Exporter, ExporterSpec } from './types';

/**
 * An exporter the environment can turn on: when `configure` (or `new Tracer`) is given no
 * `exporters` and `variable` is set to something other than blanks, `create(env)` makes one.
 */
export interface EnvExporterFactory {
  /** The environment variable that turns this exporter on, e.g. `TOMOGRAPH_ZIPKIN_URL`. */
  readonly variable: string;
  /** Makes the exporter from the environment; may throw a `TypeError` for a wrong value. */
  create(env: NodeJS.ProcessEnv): Exporter;
  /** The same exporter described by data, for the export worker (`exportIn: 'worker'`). */
  describe?(env: NodeJS.ProcessEnv): ExporterSpec;
}

/** Marks an exporter that runs its work in a worker thread itself (`WorkerExporter`): `exportIn: 'worker'` takes it as it is. */
export const RUNS_IN_WORKER: unique symbol = Symbol.for('tomograph.runsInWorker');

/**
 * The app's default `serviceName`, which an exporter made in the export worker cannot read there
 * (the worker's own default tracer is never configured): the worker sets this property, with
 * each metrics update, on an exporter that declares it (StatsD names metrics with it).
 */
export const APP_SERVICE_NAME: unique symbol = Symbol.for('tomograph.appServiceName');

/** Makes the one exporter that runs `specs` in a worker thread (`tomograph/worker`'s WorkerExporter). */
export type WorkerExporterFactory = (specs: readonly ExporterSpec[], exportTimeoutMs: number) => Exporter;
let workerFactory: WorkerExporterFactory | undefined;

/** Registers how `exportIn: 'worker'` makes its worker exporter (done by the package entry). */
export function registerWorkerExporter(factory: WorkerExporterFactory): void {
  workerFactory = factory;
}

/** The registered worker exporter factory; undefined when the package entry was not loaded. */
export function workerExporterFactory(): WorkerExporterFactory | undefined {
  return workerFactory;
}

// The core does not know its exporters (lib/ imports nothing from exporters/): they register
// here, from the package entry (index.ts at the root: exporters/env.ts), so `configure` can
// build them without lib/ reaching into exporters/.
const factories: EnvExporterFactory[] = [];

/**
 * Registers `factory`; one per variable: registering a variable again replaces the earlier
 * factory, in its place, so the order of the exporters stays that of the first registration.
 */
export function registerEnvExporter(factory: EnvExporterFactory): void {
  const i = factories.findIndex((known) => known.variable === factory.variable);
  if (i >= 0) factories[i] = factory;
  else factories.push(factory);
}

/** The exporters the environment asks for, in registration order: one per variable set. */
export function exportersFromEnv(env: NodeJS.ProcessEnv): Exporter[] {
  const exporters: Exporter[] = [];
  for (const factory of factories) {
    const value = env[factory.variable];
    if (value !== undefined && value.trim() !== '') exporters.push(factory.create(env));
  }
  return exporters;
}

/** The exporters the environment asks for, described by data for the export worker. */
export function exporterSpecsFromEnv(env: NodeJS.ProcessEnv): ExporterSpec[] {
  const specs: ExporterSpec[] = [];
  for (const factory of factories) {
    const value = env[factory.variable];
    if (value === undefined || value.trim() === '') continue;
    if (factory.describe === undefined) throw new TypeError(`${factory.variable}: this exporter cannot run in the export worker`);
    specs.push(factory.describe(env));
  }
  return specs;
}
