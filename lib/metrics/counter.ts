import { type LabelBinder, type MetricInfo, NO_LABELS, type SeriesHost } from './metric-info';
import type { Counter, LabelValues } from './types';

/** One counter series: an unlabelled counter, or one label combination of a labelled one. */
export class CounterSeries implements Counter {
  /** The total since start. */
  value = 0;
  /** `value` at the last exporter update, for deltas. */
  reported = 0;

  constructor(
    readonly host: SeriesHost,
    readonly name: string,
    readonly info: MetricInfo,
    readonly labelValues: readonly string[] = NO_LABELS,
    readonly family: LabelBinder | undefined = undefined,
  ) {}

  inc(by = 1): void {
    if (typeof by === 'number' && by >= 0 && by !== Infinity) this.value += by;
    else this.host.invalid(this.name, by, 'a counter increment must be a finite number >= 0');
  }

  labels(values: LabelValues): Counter {
    return bindLabels(this, values) as Counter;
  }
}

/** `.labels()` on a series: its family's, or, unlabelled, itself for `{}` and a TypeError otherwise. */
export function bindLabels<S extends { readonly family: LabelBinder | undefined; readonly name: string }>(
  series: S,
  values: LabelValues,
): unknown {
  if (series.family !== undefined) return series.family.labels(values);
  if (values !== null && typeof values === 'object' && Object.keys(values).length === 0) return series;
  const error = new TypeError(`tomograph: metric ${series.name} declares no labels; got ${safeKeys(values)}`) as TypeError & { code: string };
  error.code = 'TOMOGRAPH_ERR_INVALID_OPTION';
  throw error;
}

function safeKeys(values: unknown): string {
  try {
    return values !== null && typeof values === 'object' ? Object.keys(values).join(', ') : String(values);
  } catch {
    return 'an unreadable value';
  }
}
