import type { MetricInfo, SeriesHost } from './metric-info';
import { invalidOption } from './names';
import type { LabelValues } from './types';

/** The label value every label of the overflow series holds. */
export const OVERFLOW_LABEL_VALUE = '__overflow__';

/** A series of a labelled metric, as the family sees it. */
export interface FamilySeries {
  readonly labelValues: readonly string[];
}

/**
 * A labelled metric: its series by label values, at most `maxSeries` of them, then one overflow
 * series. The handle `counter(name, { labels })` returns is the family itself; using it without
 * `.labels()` records nothing and is reported.
 */
export class Family<S extends FamilySeries = FamilySeries> {
  readonly series = new Map<string, S>();
  overflow: S | undefined = undefined;

  constructor(
    readonly host: SeriesHost,
    readonly name: string,
    readonly info: MetricInfo,
    private readonly make: (labelValues: readonly string[], family: Family<S>) => S,
  ) {}

  /** The series for these label values. Throws a TypeError on undeclared or missing label names. */
  labels(values: LabelValues): S {
    const names = this.info.labelNames;
    if (values === null || typeof values !== 'object') {
      throw invalidOption(`metric ${this.name}: labels() takes an object of ${names.join(', ')}`);
    }
    const labelValues = new Array<string>(names.length);
    let key = '';
    for (let i = 0; i < names.length; i++) {
      const value = values[names[i]];
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        throw invalidOption(`metric ${this.name}: label ${names[i]} needs a string, number or boolean value`);
      }
      const text = String(value);
      labelValues[i] = text;
      key += i === 0 ? text : `\u0000${text}`;
    }
    // Every declared name is present (checked above), so more keys than names means an undeclared one.
    let given = 0;
    for (const name in values) if (Object.prototype.hasOwnProperty.call(values, name)) given++;
    if (given !== names.length) {
      const extra = Object.keys(values).find((name) => !names.includes(name));
      throw invalidOption(`metric ${this.name} has no label ${JSON.stringify(extra)} (declared: ${names.join(', ')})`);
    }
    const existing = this.series.get(key);
    if (existing !== undefined) return existing;
    if (this.series.size >= this.info.maxSeries) {
      const first = this.overflow === undefined;
      if (first) this.overflow = this.make(Object.freeze(names.map(() => OVERFLOW_LABEL_VALUE)), this);
      this.host.overflowed(this.name, first);
      return this.overflow as S;
    }
    const series = this.make(Object.freeze(labelValues), this);
    this.series.set(key, series);
    return series;
  }

  /** Every series, the overflow one last. */
  *all(): IterableIterator<S> {
    yield* this.series.values();
    if (this.overflow !== undefined) yield this.overflow;
  }

  inc(): void {
    this.unbound();
  }
  dec(): void {
    this.unbound();
  }
  set(): void {
    this.unbound();
  }
  record(): void {
    this.unbound();
  }
  mark(): void {
    this.unbound();
  }
  startTimer(): () => number {
    this.unbound();
    return () => 0;
  }
  time<R>(fn: () => R): R {
    this.unbound();
    return fn();
  }

  private unbound(): void {
    this.host.invalid(this.name, undefined, `metric ${this.name} is labelled: record through .labels({...})`);
  }
}
