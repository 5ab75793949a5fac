import type { Exporter } from './types';

/**
 * The exporters the environment asks for when `configure` is given none: `TOMOGRAPH_ZIPKIN_URL`
 * adds a ZipkinExporter, `TOMOGRAPH_STATSD_HOST` (with `TOMOGRAPH_STATSD_PORT`) a StatsdExporter.
 *
 * This is the one place where lib/ reaches into exporters/, and only lazily: an operator can
 * turn export on for an unchanged app, and an app that sets neither variable never loads the
 * exporters or their backends (hot-shots, zipkin).
 */
export function exportersFromEnv(env: NodeJS.ProcessEnv): Exporter[] {
  const exporters: Exporter[] = [];
  if (nonEmpty(env.TOMOGRAPH_ZIPKIN_URL)) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { ZipkinExporter } = require('../exporters/zipkin') as {
      ZipkinExporter: new (options: { url: string }) => Exporter;
    };
    exporters.push(new ZipkinExporter({ url: (env.TOMOGRAPH_ZIPKIN_URL as string).trim() }));
  }
  if (nonEmpty(env.TOMOGRAPH_STATSD_HOST)) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { StatsdExporter } = require('../exporters/statsd') as {
      StatsdExporter: new (options: { host: string; port?: number }) => Exporter;
    };
    const port = nonEmpty(env.TOMOGRAPH_STATSD_PORT) ? Number(env.TOMOGRAPH_STATSD_PORT) : undefined;
    exporters.push(new StatsdExporter({ host: (env.TOMOGRAPH_STATSD_HOST as string).trim(), port }));
  }
  return exporters;
}

function nonEmpty(value: string | undefined): boolean {
  return value !== undefined && value.trim() !== '';
}
