import type { AnyFunction, MetricDecorator } from './decorate';
import type { MetricsGroup } from './group';
import { MetricsRegistry } from './registry';
import type {
  CollectCursor, CollectedMetric, CollectOptions, CountByValueOptions, Counter, Gauge, GaugeFunction, Histogram, Meter,
  MetricOptions, MetricsConfig,
} from './types';

/** The registry behind the module functions (and what the stats page, Prometheus and Graphite read by default). */
export const defaultRegistry = new MetricsRegistry();

/** A counter in the default registry (get-or-create). */
export function counter(name: string, options?: MetricOptions): Counter {
  return defaultRegistry.counter(name, options);
}

/** A gauge in the default registry: set by the app, or read from `fn` at snapshot and export time. */
export function gauge(name: string, fnOrOptions?: GaugeFunction | MetricOptions, options?: MetricOptions): Gauge {
  return defaultRegistry.gauge(name, fnOrOptions, options);
}

/** A histogram in the default registry: count and sum since start, percentiles over the last `windowMs` (60000). */
export function histogram(name: string, options?: MetricOptions): Histogram {
  return defaultRegistry.histogram(name, options);
}

/** A meter in the default registry: count, mean, 1/5/15-minute rates in events per second. */
export function meter(name: string, options?: MetricOptions): Meter {
  return defaultRegistry.meter(name, options);
}

/** Adds `by` (default 1) to counter `name`. */
export function incr(name: string, by?: number): void {
  defaultRegistry.incr(name, by);
}

/** Sets gauge `name` to `value`. */
export function set(name: string, value: number): void {
  defaultRegistry.set(name, value);
}

/** Records `value` into histogram `name`. */
export function record(name: string, value: number): void {
  defaultRegistry.record(name, value);
}

/** The module functions with every name under `prefix`. */
export function group(prefix: string): MetricsGroup {
  return defaultRegistry.group(prefix);
}

/** Defines `name` as the read-time sum of the counters and gauges matching `glob`. */
export function sumOf(name: string, glob: string): void {
  defaultRegistry.sumOf(name, glob);
}

/** Defines `name` as the read-time count of gauges matching `glob` per value. */
export function countByValue(name: string, glob: string, options?: CountByValueOptions): void {
  defaultRegistry.countByValue(name, glob, options);
}

/** Counts calls of `fn` in counter `name`; without `fn`, a method decorator (standard and `experimentalDecorators`). */
export function countMe(name: string): MetricDecorator;
export function countMe<F extends AnyFunction>(name: string, fn: F): F;
export function countMe<F extends AnyFunction>(name: string, fn?: F): F | MetricDecorator {
  return fn === undefined ? defaultRegistry.countMe(name) : defaultRegistry.countMe(name, fn);
}

/** Times calls of `fn` (ms) into histogram `name`, failures into `name.errors`; without `fn`, a method decorator. */
export function timeMe(name: string): MetricDecorator;
export function timeMe<F extends AnyFunction>(name: string, fn: F): F;
export function timeMe<F extends AnyFunction>(name: string, fn?: F): F | MetricDecorator {
  return fn === undefined ? defaultRegistry.timeMe(name) : defaultRegistry.timeMe(name, fn);
}

/** The default registry's tree as plain data. */
export function snapshot(): Record<string, unknown> {
  return defaultRegistry.snapshot();
}

/** The default registry's metrics for the exposition formats. */
export function collect(options?: CollectOptions): CollectedMetric[] {
  return defaultRegistry.collect(options);
}

/** The default registry's metrics in pieces (see `MetricsRegistry.collectCursor`). */
export function collectCursor(options?: CollectOptions): CollectCursor {
  return defaultRegistry.collectCursor(options);
}

/** Sets the default registry's level, exporters and interval. Throws a TypeError on a wrong option. */
export function configureMetrics(config?: MetricsConfig): void {
  defaultRegistry.configure(config);
}
