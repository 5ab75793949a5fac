// A metrics update packed for the trip to the export worker, and unpacked there: like a batch of
// spans (worker-format.ts), one transferred buffer of numbers and one string of text, so an update
// of thousands of series crosses with one `postMessage` and no structured clone of its objects.
import type { RankedUpdate } from '../lib/metrics/export-loop';
import type { DeltaUpdate, GaugeUpdate, HistogramUpdate, LabelPairs, MetricsUpdate } from '../lib/metrics/types';

/**
 * `numbers`: the timestamp, the four entry counts, then per entry its level rank, the length of
 * its name, its label count and each label's name and value lengths, then its value (counters,
 * meters: the delta; gauges: the value; histograms: the unit's length or -1, the count, the
 * number of values and the values). `text`: every string, one after the other.
 */
export interface PackedMetrics {
  readonly numbers: ArrayBuffer;
  readonly text: string;
}

const NO_UNIT = -1;

/** Packs `ranked` (an update with each entry's level rank) into one buffer and one string. */
export function packMetrics({ update, ranks }: RankedUpdate): PackedMetrics {
  const numbers: number[] = [update.timestampMs, update.counters.length, update.gauges.length, update.meters.length, update.histograms.length];
  const text: string[] = [];
  const head = (name: string, labels: LabelPairs, rank: number): void => {
    numbers.push(rank, name.length, labels.length);
    text.push(name);
    for (const [label, value] of labels) {
      numbers.push(label.length, value.length);
      text.push(label, value);
    }
  };
  update.counters.forEach((entry, i) => {
    head(entry.name, entry.labels, ranks.counters[i]);
    numbers.push(entry.delta);
  });
  update.gauges.forEach((entry, i) => {
    head(entry.name, entry.labels, ranks.gauges[i]);
    numbers.push(entry.value);
  });
  update.meters.forEach((entry, i) => {
    head(entry.name, entry.labels, ranks.meters[i]);
    numbers.push(entry.delta);
  });
  update.histograms.forEach((entry, i) => {
    head(entry.name, entry.labels, ranks.histograms[i]);
    if (entry.unit === undefined) {
      numbers.push(NO_UNIT);
    } else {
      numbers.push(entry.unit.length);
      text.push(entry.unit);
    }
    numbers.push(entry.count, entry.values.length);
    for (const value of entry.values) numbers.push(value);
  });
  return { numbers: Float64Array.from(numbers).buffer, text: text.join('') };
}

/** The update `packMetrics` packed, with its ranks. Throws on a buffer that does not match its text. */
export function unpackMetrics(packed: PackedMetrics): RankedUpdate {
  const numbers = new Float64Array(packed.numbers);
  const { text } = packed;
  let n = 0;
  let t = 0;
  const next = (): number => {
    if (n >= numbers.length) throw new RangeError('the metrics update ends early');
    return numbers[n++];
  };
  const string = (length: number): string => {
    if (!(length >= 0) || t + length > text.length) throw new RangeError('the metrics update\'s text ends early');
    const value = text.slice(t, t + length);
    t += length;
    return value;
  };
  const entry = (ranks: number[]): { name: string; labels: LabelPairs } => {
    ranks.push(next());
    const name = string(next());
    const labelCount = next();
    const labels: (readonly [string, string])[] = [];
    for (let i = 0; i < labelCount; i++) {
      const labelLength = next();
      const valueLength = next();
      labels.push([string(labelLength), string(valueLength)]);
    }
    return { name, labels };
  };
  const timestampMs = next();
  const sizes = [next(), next(), next(), next()];
  const ranks = { counters: [] as number[], gauges: [] as number[], meters: [] as number[], histograms: [] as number[] };
  const counters: DeltaUpdate[] = [];
  for (let i = 0; i < sizes[0]; i++) counters.push({ ...entry(ranks.counters), delta: next() });
  const gauges: GaugeUpdate[] = [];
  for (let i = 0; i < sizes[1]; i++) gauges.push({ ...entry(ranks.gauges), value: next() });
  const meters: DeltaUpdate[] = [];
  for (let i = 0; i < sizes[2]; i++) meters.push({ ...entry(ranks.meters), delta: next() });
  const histograms: HistogramUpdate[] = [];
  for (let i = 0; i < sizes[3]; i++) {
    const { name, labels } = entry(ranks.histograms);
    const unitLength = next();
    const unit = unitLength === NO_UNIT ? undefined : string(unitLength);
    const count = next();
    const valueCount = next();
    if (!(valueCount >= 0 && valueCount <= numbers.length - n)) throw new RangeError('the metrics update ends early');
    const values = new Array<number>(valueCount);
    for (let v = 0; v < values.length; v++) values[v] = next();
    histograms.push(unit === undefined ? { name, labels, values, count } : { name, labels, unit, values, count });
  }
  if (n !== numbers.length || t !== text.length) throw new RangeError('the metrics update has more than its counts say');
  const update: MetricsUpdate = { timestampMs, counters, gauges, meters, histograms };
  return { update, ranks };
}
