import { registerEnvExporter, registerWorkerExporter } from '../lib/env-exporters';
import type { Exporter } from '../lib/types';

/**
 * Registers the exporters an operator can turn on for an unchanged app through the
 * environment: `TOMOGRAPH_ZIPKIN_URL` a `ZipkinExporter`, `TOMOGRAPH_STATSD_HOST` (with
 * `TOMOGRAPH_STATSD_PORT`) a `StatsdExporter`. Loaded by the package entry (`tomograph`).
 *
 * Each exporter's module loads only when its variable is set, so an app that sets neither never
 * loads undici or hot-shots.
 */
registerEnvExporter({
  variable: 'TOMOGRAPH_ZIPKIN_URL',
  create(env) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { ZipkinExporter } = require('./zipkin') as typeof import('./zipkin');
    return new ZipkinExporter({ url: (env.TOMOGRAPH_ZIPKIN_URL as string).trim() }) as Exporter;
  },
  describe: (env) => ({ zipkin: { url: (env.TOMOGRAPH_ZIPKIN_URL as string).trim() } }),
});

registerEnvExporter({
  variable: 'TOMOGRAPH_STATSD_HOST',
  create(env) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { StatsdExporter } = require('./statsd') as typeof import('./statsd');
    return new StatsdExporter(statsdOptions(env)) as Exporter;
  },
  describe: (env) => ({ statsd: statsdOptions(env) }),
});

function statsdOptions(env: NodeJS.ProcessEnv): { host: string; port?: number } {
  const portText = env.TOMOGRAPH_STATSD_PORT;
  const port = portText !== undefined && portText.trim() !== '' ? Number(portText) : undefined;
  return port === undefined ? { host: (env.TOMOGRAPH_STATSD_HOST as string).trim() } : { host: (env.TOMOGRAPH_STATSD_HOST as string).trim(), port };
}

// `exportIn: 'worker'` (or TOMOGRAPH_EXPORT_IN=worker): one WorkerExporter runs them all. Loaded
// only then, so an app exporting on the main thread never loads worker_threads code.
registerWorkerExporter((specs, exportTimeoutMs) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { WorkerExporter } = require('./worker') as typeof import('./worker');
  return new WorkerExporter({ exporters: specs as import('./worker').WorkerExporterSpec[], exportTimeoutMs });
});
