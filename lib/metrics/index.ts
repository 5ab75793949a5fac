export {
  collect, collectCursor, configureMetrics, countByValue, countMe, counter, defaultRegistry, gauge, group, histogram, incr, meter, record,
  set, snapshot, sumOf, timeMe,
} from './api';
export { MetricsGroup } from './group';
export { MetricsRegistry, type MetricsRegistryOptions } from './registry';
export { HISTOGRAM_STATE_VERSION, mergeHistogramStates, summarizeHistogramState } from './histogram-state';
export { RELATIVE_ACCURACY, MIN_TRACKED_VALUE, MAX_TRACKED_VALUE } from './log-sketch';
export { OVERFLOW_LABEL_VALUE } from './family';
export { SUB_WINDOWS } from './histogram';
export { LEVELS } from './names';
export type { AnyFunction, MetricDecorator } from './decorate';
export type { RankedUpdate } from './export-loop';
export type * from './types';
