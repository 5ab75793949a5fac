import { bindLabels } from './counter';
import { type LabelBinder, type MetricInfo, NO_LABELS, type SeriesHost } from './metric-info';
import type { Gauge, GaugeFunction, LabelValues } from './types';

/** One gauge series, set by the app or read from a function. */
export class GaugeSeries implements Gauge {
  value = 0;

  constructor(
    readonly host: SeriesHost,
    readonly name: string,
    readonly info: MetricInfo,
    readonly labelValues: readonly string[] = NO_LABELS,
    readonly family: LabelBinder | undefined = undefined,
    readonly fn: GaugeFunction | undefined = undefined,
  ) {}

  set(value: number): void {
    if (typeof value === 'number' && value === value) this.value = value;
    else this.host.invalid(this.name, value, 'a gauge value must be a number, not NaN');
  }

  inc(by = 1): void {
    if (typeof by === 'number' && by === by) this.value += by;
    else this.host.invalid(this.name, by, 'a gauge increment must be a number, not NaN');
  }

  dec(by = 1): void {
    if (typeof by === 'number' && by === by) this.value -= by;
    else this.host.invalid(this.name, by, 'a gauge decrement must be a number, not NaN');
  }

  labels(values: LabelValues): Gauge {
    return bindLabels(this, values) as Gauge;
  }
}
