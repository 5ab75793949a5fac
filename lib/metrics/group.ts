import type { AnyFunction, MetricDecorator } from './decorate';
import { checkName } from './names';
import type { MetricsRegistry } from './registry';
import type { CountByValueOptions, Counter, Gauge, GaugeFunction, Histogram, Meter, MetricOptions } from './types';

/** The factories of a registry with every name under a prefix (`group('web').counter('hits')` is `web.hits`). */
export class MetricsGroup {
  constructor(private readonly registry: MetricsRegistry, readonly prefix: string) {}

  counter(name: string, options?: MetricOptions): Counter {
    return this.registry.counter(this.path(name), options);
  }
  gauge(name: string, fnOrOptions?: GaugeFunction | MetricOptions, options?: MetricOptions): Gauge {
    return this.registry.gauge(this.path(name), fnOrOptions, options);
  }
  histogram(name: string, options?: MetricOptions): Histogram {
    return this.registry.histogram(this.path(name), options);
  }
  meter(name: string, options?: MetricOptions): Meter {
    return this.registry.meter(this.path(name), options);
  }
  incr(name: string, by?: number): void {
    this.registry.incr(this.path(name), by);
  }
  set(name: string, value: number): void {
    this.registry.set(this.path(name), value);
  }
  record(name: string, value: number): void {
    this.registry.record(this.path(name), value);
  }
  group(prefix: string): MetricsGroup {
    return new MetricsGroup(this.registry, checkName(this.path(prefix), 'group prefix'));
  }
  /** `sumOf` with both the name and the glob under the prefix. */
  sumOf(name: string, glob: string): void {
    this.registry.sumOf(this.path(name), this.path(glob));
  }
  /** `countByValue` with both the name and the glob under the prefix. */
  countByValue(name: string, glob: string, options?: CountByValueOptions): void {
    this.registry.countByValue(this.path(name), this.path(glob), options);
  }
  countMe(name: string): MetricDecorator;
  countMe<F extends AnyFunction>(name: string, fn: F): F;
  countMe<F extends AnyFunction>(name: string, fn?: F): F | MetricDecorator {
    return fn === undefined ? this.registry.countMe(this.path(name)) : this.registry.countMe(this.path(name), fn);
  }
  timeMe(name: string): MetricDecorator;
  timeMe<F extends AnyFunction>(name: string, fn: F): F;
  timeMe<F extends AnyFunction>(name: string, fn?: F): F | MetricDecorator {
    return fn === undefined ? this.registry.timeMe(this.path(name)) : this.registry.timeMe(this.path(name), fn);
  }

  private path(name: string): string {
    return `${this.prefix}.${name}`;
  }
}

