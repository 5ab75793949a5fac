// The package entry `tomograph`: the core API of lib/index.ts, plus the exporters the
// environment may turn on (TOMOGRAPH_ZIPKIN_URL, TOMOGRAPH_STATSD_HOST), registered here so
// that lib/ never imports exporters/.
import './exporters/env';

export * from './lib/index';
