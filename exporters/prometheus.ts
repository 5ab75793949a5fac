import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGzip, type Gzip } from 'node:zlib';
import { defaultTracer } from '../lib/api';
import { codes } from '../lib/codes';
import { errorMessage } from '../lib/diagnostics';
import { defaultRegistry } from '../lib/metrics/api';
import type { CollectCursor, CollectedMetric, CollectOptions, MetricLevel } from '../lib/metrics/types';
import { invalidOption } from '../lib/options';
import type { DiagnosticEvent } from '../lib/types';
import { PROMETHEUS_CONTENT_TYPE, PrometheusRenderer, renderPrometheus } from './prometheus-text';

export {
  PROMETHEUS_CONTENT_TYPE, PrometheusRenderer, prometheusName, prometheusLabelName, escapeHelp, escapeLabelValue,
  renderPrometheus, type SkippedMetric,
} from './prometheus-text';

/**
 * What Prometheus reads: a `MetricsRegistry`, or anything with its `collect()`. With
 * `collectCursor()` too (a registry has it), the handler collects in pieces, yielding between them.
 */
export interface CollectSource {
  collect(options?: CollectOptions): readonly CollectedMetric[];
  collectCursor?(options?: CollectOptions): CollectCursor;
}

/**
 * The metrics of `registry` (default: the default registry of `tomograph/metrics`) in the
 * Prometheus text exposition format 0.0.4, at once. Counters as `<name>_total`, gauges,
 * histograms as summaries (quantiles 0.5 0.75 0.95 0.98 0.99 0.999 of the window, `_sum` and
 * `_count` since start), meters as counters of their count; every character outside
 * `[a-zA-Z0-9_:]` becomes `_` (`web.requests` is `web_requests_total`). Never throws: a registry
 * that fails gives `''` and a report through `onDiagnostic`.
 *
 * For an HTTP endpoint use `prometheusHandler()`, which renders in slices without stalling the app.
 */
export function prometheusText(registry: CollectSource = defaultRegistry): string {
  try {
    return renderPrometheus(registry.collect({ states: false }));
  } catch (error) {
    defaultTracer.report(codes.INTEGRATION_ERROR, `tomograph: prometheusText could not collect metrics: ${errorMessage(error)}`, error);
    return '';
  }
}

/** Options for `prometheusHandler`. */
export interface PrometheusHandlerOptions {
  /** Where the metrics come from. Default: the default registry of `tomograph/metrics`. */
  registry?: CollectSource;
  /** Only metrics at or above this level. Default: every metric that exists. */
  level?: MetricLevel;
  /**
   * Series collected or rendered per slice; the handler yields to the event loop (`setImmediate`)
   * between slices, so a scrape of many series never holds the app up for long. Default 500.
   */
  seriesPerSlice?: number;
  /**
   * A slice also ends after this many milliseconds (checked after each metric collected, and
   * every 64 series rendered). Default 2.
   */
  maxSliceMs?: number;
  /** Gzip the body when the scraper accepts it (Prometheus does). Default true. */
  gzip?: boolean;
  /** Receives the handler's faults (a registry that throws). Default: the default tracer's `onDiagnostic`. */
  onDiagnostic?: (event: DiagnosticEvent) => void;
}

type Next = (error?: unknown) => void;
/** A request handler: an Express middleware, or a plain `http` listener (then `next` is absent). */
export type PrometheusHandler = (req: IncomingMessage, res: ServerResponse, next?: Next) => void;

const KNOWN_OPTIONS = new Set(['registry', 'level', 'seriesPerSlice', 'maxSliceMs', 'gzip', 'onDiagnostic']);
const LEVELS = new Set(['debug', 'info', 'warn', 'error', 'critical']);

/**
 * Serves the metrics for Prometheus to scrape: `Content-Type: text/plain; version=0.0.4;
 * charset=utf-8` exactly (Prometheus 3 fails a scrape without it), gzipped when accepted. The
 * registry is collected and rendered in slices of at most `seriesPerSlice` series or
 * `maxSliceMs` milliseconds with a `setImmediate` between them (through `collectCursor()`: each
 * metric read whole at one moment, so a summary's quantiles, `_sum` and `_count` agree; a source
 * with only `collect()` is collected at once), written as they are made and paced by the
 * socket's backpressure; a scraper that hangs up stops the work.
 *
 * Mount it where Prometheus looks: `app.get('/metrics', prometheusHandler())`, or
 * `http.createServer(prometheusHandler())`. Answers GET and HEAD (others: 405, or `next()` under
 * Express). Throws a TypeError (code `TOMOGRAPH_ERR_INVALID_OPTION`) on a wrong option; after that
 * nothing throws.
 */
export function prometheusHandler(options: PrometheusHandlerOptions = {}): PrometheusHandler {
  if (options === null || typeof options !== 'object') throw invalidOption('prometheusHandler() takes an options object');
  for (const key of Object.keys(options)) if (!KNOWN_OPTIONS.has(key)) throw invalidOption(`prometheusHandler: unknown option "${key}"`);
  const { registry = defaultRegistry, level, seriesPerSlice = 500, maxSliceMs = 2, gzip = true, onDiagnostic } = options;
  if (registry === null || typeof registry !== 'object' || typeof registry.collect !== 'function') {
    throw invalidOption('prometheusHandler: registry must be a MetricsRegistry (with collect())');
  }
  if (level !== undefined && !LEVELS.has(level)) throw invalidOption(`prometheusHandler: level must be one of ${[...LEVELS].join(', ')}`);
  if (typeof seriesPerSlice !== 'number' || !Number.isInteger(seriesPerSlice) || seriesPerSlice < 1) {
    throw invalidOption('prometheusHandler: seriesPerSlice must be an integer >= 1');
  }
  if (typeof maxSliceMs !== 'number' || !(maxSliceMs > 0)) throw invalidOption('prometheusHandler: maxSliceMs must be a number > 0');
  if (typeof gzip !== 'boolean') throw invalidOption('prometheusHandler: gzip must be a boolean');
  if (onDiagnostic !== undefined && typeof onDiagnostic !== 'function') throw invalidOption('prometheusHandler: onDiagnostic must be a function');
  const report = (message: string, error: unknown): void => {
    if (onDiagnostic === undefined) return defaultTracer.report(codes.INTEGRATION_ERROR, message, error);
    try {
      onDiagnostic({ code: codes.INTEGRATION_ERROR, message, detail: error });
    } catch {
      // A listener that throws must not turn a reported fault into a thrown one.
    }
  };

  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      if (typeof next === 'function') return next();
      res.statusCode = 405;
      res.setHeader('Allow', 'GET, HEAD');
      res.end();
      return;
    }
    const renderer = new PrometheusRenderer([], { more: true });
    let cursor: CollectCursor;
    const collectOptions: CollectOptions = level === undefined ? { states: false } : { level, states: false };
    // One slice of work: collect while nothing is left to render, render what was collected,
    // until the slice's series or time run out.
    const slice = (): string => {
      const deadline = performance.now() + maxSliceMs;
      let budget = seriesPerSlice;
      let text = '';
      while (budget > 0 && !renderer.done) {
        const left = deadline - performance.now();
        if (left <= 0) break;
        if (renderer.pending || cursor.done) {
          if (cursor.done) renderer.end();
          const before = renderer.seriesWritten;
          text += renderer.next(budget, left);
          budget -= Math.max(1, renderer.seriesWritten - before);
        } else {
          const metrics = cursor.next(budget, left);
          renderer.add(metrics);
          for (const metric of metrics) budget -= Math.max(1, metric.series.length);
        }
      }
      return text;
    };
    let first: string;
    try {
      cursor = typeof registry.collectCursor === 'function'
        ? registry.collectCursor(collectOptions)
        : wholeCursor(registry.collect(collectOptions));
      // The first slice comes before the status line, so a registry that cannot be read gets a 500.
      first = slice();
    } catch (error) {
      report(`tomograph: the Prometheus handler could not collect metrics: ${errorMessage(error)}`, error);
      res.statusCode = 500;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end('# could not collect metrics\n');
      return;
    }
    res.statusCode = 200;
    res.setHeader('Content-Type', PROMETHEUS_CONTENT_TYPE);
    res.setHeader('Cache-Control', 'no-store');
    if (req.method === 'HEAD') return void res.end();
    const compress = gzip && /\bgzip\b/i.test(String(req.headers['accept-encoding'] ?? ''));
    let out: Gzip | ServerResponse = res;
    if (compress) {
      res.setHeader('Content-Encoding', 'gzip');
      res.setHeader('Vary', 'Accept-Encoding');
      const zip = createGzip();
      zip.on('error', (error) => {
        report(`tomograph: the Prometheus handler could not gzip its answer: ${errorMessage(error)}`, error);
        res.destroy();
      });
      zip.pipe(res);
      out = zip;
    }
    const sink = out;
    const emit = (text: string): void => {
      if (renderer.done) {
        sink.end(text);
        return;
      }
      const ready = text === '' || sink.write(text);
      if (ready) setImmediate(step);
      // 'drain' can come in a nextTick of this same turn (a loopback socket that took the bytes
      // at once): go on in the next turn anyway, or the slices would run back to back.
      else sink.once('drain', () => setImmediate(step));
    };
    const step = (): void => {
      if (res.destroyed) return; // the scraper hung up: stop the work
      let text: string;
      try {
        text = slice();
      } catch (error) {
        report(`tomograph: the Prometheus handler failed while collecting or rendering: ${errorMessage(error)}`, error);
        res.destroy();
        return;
      }
      emit(text);
    };
    emit(first);
  };
}

/** A cursor over metrics already collected at once (a source without `collectCursor()`). */
function wholeCursor(metrics: readonly CollectedMetric[]): CollectCursor {
  let done = false;
  return {
    get done() {
      return done;
    },
    next() {
      if (done) return [];
      done = true;
      return [...metrics];
    },
  };
}
