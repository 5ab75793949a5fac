import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorMessage } from '../lib/diagnostics';
import { invalidOption } from '../lib/options';
import { checkCollectOptions, type CollectHostStatsOptions, collectHostStats, type HostStats } from './host-stats-collect';
import { hostPrometheusText } from './host-stats-prometheus';
import { PROMETHEUS_CONTENT_TYPE } from './prometheus-text';

export { exposeStats, type ExposeStatsOptions, type StatsExposure } from './host-stats-expose';
export { collectHostStats, type CollectHostStatsOptions, type HostStats, type SkippedProcess } from './host-stats-collect';
export type { GaugeMerge, GaugeMergeRules } from './host-stats-merge';
export { hostPrometheusText } from './host-stats-prometheus';
export { renderHostStatsText, type TextOptions } from './host-stats-text';
export type { MetricsSource } from './host-stats-source';

/** Options for `hostStatsHandler`: where to collect from, and the default format. */
export interface HostStatsHandlerOptions extends CollectHostStatsOptions {
  /**
   * The format when the request does not choose one with `?format=json|prometheus` (a
   * Prometheus scraper's `Accept: text/plain` or OpenMetrics also chooses Prometheus).
   * Default `'json'`.
   */
  format?: 'json' | 'prometheus';
}

/** The JSON document `hostStatsHandler` serves. */
export function hostStatsJson(stats: HostStats): object {
  return {
    processes: stats.processes,
    pids: stats.pids,
    skipped: stats.skipped,
    removedSockets: stats.removedSockets,
    retiredProcesses: stats.retiredProcesses,
    conflicts: stats.conflicts,
    timestampMs: stats.timestampMs,
    stats: stats.stats,
  };
}

/**
 * An HTTP handler (`http.createServer(handler)`, or Express `app.get('/metrics', handler)`) that
 * serves the merged stats of every process of the service on this host in one response: JSON
 * (`{ processes, pids, skipped, ..., stats }`) or Prometheus text 0.0.4. In a Node cluster, let
 * every worker call `exposeStats()` and the primary serve this handler: one scrape per host,
 * gauges merged per their rule (never multiplied by the worker count), percentiles merged from
 * the sketches, a silent worker skipped after `timeoutMs` (the scrape still answers, listing
 * it), and totals of workers that exited normally kept so `rate()` sees no drop. Concurrent
 * requests share one collection.
 */
export function hostStatsHandler(options: HostStatsHandlerOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  checkCollectOptions(options, 'hostStatsHandler');
  const { format, ...collectOptions } = options;
  if (format !== undefined && format !== 'json' && format !== 'prometheus') {
    throw invalidOption("hostStatsHandler: format must be 'json' or 'prometheus'");
  }
  let pending: Promise<HostStats> | undefined;
  const collectOnce = (): Promise<HostStats> => {
    if (pending === undefined) {
      pending = collectHostStats(collectOptions).finally(() => {
        pending = undefined;
      });
    }
    return pending;
  };
  return (req, res) => {
    const chosen = chooseFormat(req, format ?? 'json');
    collectOnce().then((stats) => {
      if (chosen === 'prometheus') {
        send(res, 200, PROMETHEUS_CONTENT_TYPE, hostPrometheusText(stats.metrics, stats.processes));
      } else {
        send(res, 200, 'application/json; charset=utf-8', JSON.stringify(hostStatsJson(stats)));
      }
    }, (error: unknown) => {
      send(res, 500, 'text/plain; charset=utf-8', `host stats unavailable: ${errorMessage(error)}\n`);
    });
  };
}

function chooseFormat(req: IncomingMessage, fallback: 'json' | 'prometheus'): 'json' | 'prometheus' {
  const url = req.url ?? '';
  const match = /[?&]format=([a-z]+)/.exec(url);
  if (match !== null && (match[1] === 'json' || match[1] === 'prometheus')) return match[1];
  const accept = req.headers.accept ?? '';
  if (/application\/openmetrics-text|text\/plain/.test(accept) && !/application\/json/.test(accept)) return 'prometheus';
  return fallback;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  try {
    res.statusCode = status;
    res.setHeader('Content-Type', type);
    res.setHeader('Cache-Control', 'no-store');
    res.end(body);
  } catch {
    // The client went away: nothing to tell it.
  }
}
