'use strict';
/**
 * Log correlation: the cost per pino log line of tomograph's `traceMixin` against pino without
 * it and against OpenTelemetry's `@opentelemetry/instrumentation-pino` (log correlation only:
 * `disableLogSending: true`), and of winston's `traceFormat` against winston without it
 * (`combine(identity, json())` against `combine(traceFormat(), json())`).
 *
 * One process; pino writes to a stream that drops the bytes, so the figure is the logger's own
 * work. Each block writes `--lines` lines (`logger.info({ n }, 'message')`) inside one span of
 * the tracer in question (a tomograph `trace()` span for pino, pino + traceMixin and winston; an
 * OpenTelemetry `startActiveSpan` span for its instrumentation), or outside any span. Blocks
 * rotate order every round; the figure is the median over rounds of ns per line.
 *
 *   npm run build && node bench/logs.js [--rounds 101] [--lines 2000]
 */
const { median, numberOption, rotate } = require('./_util');

// Taken before OpenTelemetry's instrumentation hooks `require`: this reference stays unpatched.
const pinoPlain = require('pino');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const noopExporter = { export: (spans, done) => done({ code: 0 }), shutdown: async () => undefined };
new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(noopExporter)] }).register();
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { PinoInstrumentation } = require('@opentelemetry/instrumentation-pino');
registerInstrumentations({ instrumentations: [new PinoInstrumentation({ disableLogSending: true })] });
const pinoOtel = require('pino');
const otelTracer = require('@opentelemetry/api').trace.getTracer('bench');
const winston = require('winston');

const { Tracer } = require('../dist/lib/index.js');
const { traceMixin } = require('../dist/integrations/pino.js');
const { traceFormat } = require('../dist/integrations/winston.js');

// Short blocks, many rounds: neighbouring blocks of every variant see the same machine.
const ROUNDS = numberOption('rounds', 101);
const LINES = numberOption('lines', 2000);

const tracer = new Tracer({ serviceName: 'bench', exporters: [{ export() {} }] });
let written = 0;
const sink = { write(s) { written += s.length; } };
const { Writable } = require('node:stream');
const winstonSink = new Writable({ write(chunk, _e, cb) { written += chunk.length; cb(); } });

const loggers = {
  pino: pinoPlain({}, sink),
  'pino + traceMixin': pinoPlain({ mixin: traceMixin({ tracer }) }, sink),
  'pino + instrumentation-pino': pinoOtel({}, sink),
  // The same combine() as with traceFormat, around a format that does nothing: combine itself
  // costs winston far more than the format it runs (see BENCHMARKS.md).
  'winston (json)': winston.createLogger({
    format: winston.format.combine({ transform: (info) => info }, winston.format.json()),
    transports: [new winston.transports.Stream({ stream: winstonSink })],
  }),
  'winston (json) + traceFormat': winston.createLogger({
    format: winston.format.combine(traceFormat({ tracer }), winston.format.json()),
    transports: [new winston.transports.Stream({ stream: winstonSink })],
  }),
};

function writeLines(logger, isWinston) {
  if (isWinston) for (let n = 0; n < LINES; n++) logger.info('message', { n });
  else for (let n = 0; n < LINES; n++) logger.info({ n }, 'message');
}

/** Each variant: runs one block, returns ns per line. */
const VARIANTS = {
  'pino, in a span': () => timed(() => tracer.trace('request', () => writeLines(loggers.pino))),
  'pino + traceMixin, in a span': () => timed(() => tracer.trace('request', () => writeLines(loggers['pino + traceMixin']))),
  'pino + traceMixin, outside spans': () => timed(() => writeLines(loggers['pino + traceMixin'])),
  'pino + instrumentation-pino, in a span': () =>
    timed(() => otelTracer.startActiveSpan('request', (span) => { writeLines(loggers['pino + instrumentation-pino']); span.end(); })),
  'winston, in a span': () => timed(() => tracer.trace('request', () => writeLines(loggers['winston (json)'], true))),
  'winston + traceFormat, in a span': () => timed(() => tracer.trace('request', () => writeLines(loggers['winston (json) + traceFormat'], true))),
};

// CPU time, not wall time: on a shared machine the process is often descheduled mid-block.
function timed(fn) {
  const start = process.cpuUsage();
  fn();
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / LINES;
}

// Check that each logger writes what it should before timing it.
{
  const lines = [];
  const probe = { write(s) { lines.push(JSON.parse(s)); } };
  tracer.trace('check', (span) => pinoPlain({ mixin: traceMixin({ tracer }) }, probe).info('x') || lines.push({ expect: span.id }));
  if (lines[0].span_id !== lines[1].expect) throw new Error('traceMixin did not write the span id');
}

const names = Object.keys(VARIANTS);
const samples = Object.fromEntries(names.map((n) => [n, []]));
for (const name of names) VARIANTS[name](); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  for (const name of rotate(names, round)) samples[name].push(VARIANTS[name]());
}

const base = { pino: median(samples['pino, in a span']), winston: median(samples['winston, in a span']) };
console.log(`${ROUNDS} rounds x ${LINES} lines per variant, Node ${process.version}\n`);
console.log('| variant | CPU ns per line (median) | vs. plain |');
console.log('|---|---:|---:|');
for (const name of names) {
  const m = median(samples[name]);
  const against = name.startsWith('winston') ? base.winston : base.pino;
  console.log(`| ${name} | ${m.toFixed(0)} | ${(m / against).toFixed(2)}x |`);
}
if (written === 0) throw new Error('nothing was written');
