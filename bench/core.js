'use strict';
/**
 * Core benchmark (issue 2): the cost of a span, against the same loop untraced, OpenTelemetry JS
 * and zipkin-js, in one run. Each measurement runs in a fresh child process pinned to one core
 * (so no variant inherits another's JIT state), variants rotate order every round, and the
 * median of the rounds is quoted.
 *
 *   node bench/core.js [--rounds 7] [--iterations 200000]
 *
 * Needs `npm run build` first (it loads dist/).
 */
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { hasTaskset, median, numberOption, rotate } = require('./_util');

const VARIANTS = {
  untraced: 'the same loop, no tracing',
  tomograph: 'tomograph, sampled, batch queue + no-op exporter',
  'tomograph-unsampled': 'tomograph, spans inside an unsampled trace',
  'tomograph-cls': 'tomograph, sampled, cls-hooked store',
  otel: 'OpenTelemetry sdk-trace-base, BatchSpanProcessor, no-op exporter, AsyncLocalStorage context',
  zipkin: 'zipkin-js Tracer, BatchRecorder, no-op logger, ExplicitContext',
  'zipkin-cls': 'zipkin-js Tracer, BatchRecorder, no-op logger, CLSContext',
};

/** Two nested spans per iteration, through each library's scoped API. */
function setup(variant) {
  const dist = path.join(__dirname, '..', 'dist', 'lib');
  const noopExporter = { export() {} };
  let sink = 0;
  switch (variant) {
    case 'untraced':
      return () => {
        sink += 1;
      };
    case 'tomograph':
    case 'tomograph-unsampled':
    case 'tomograph-cls': {
      // eslint-disable-next-line global-require
      const { Tracer } = require(dist);
      const tracer = new Tracer({
        serviceName: 'bench',
        exporters: [noopExporter],
        sampler: variant === 'tomograph-unsampled' ? 0 : 1,
        context: variant === 'tomograph-cls' ? 'cls-hooked' : 'async-local-storage',
        onDiagnostic() {},
      });
      const inner = () => {
        sink += 1;
      };
      const outer = () => tracer.trace('child', inner);
      const run = () => tracer.trace('parent', outer);
      if (variant !== 'tomograph-unsampled') return run;
      // The unsampled case runs under an unsampled root, as a request's inner work would.
      return { run, around: (chunk) => tracer.trace('unsampled root', chunk) };
    }
    case 'otel': {
      const api = require('@opentelemetry/api');
      const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
      const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
      api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      const exporter = { export: (spans, done) => done({ code: 0 }), shutdown: async () => {} };
      const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] });
      const tracer = provider.getTracer('bench');
      const inner = (span) => {
        sink += 1;
        span.end();
      };
      const outer = (span) => {
        tracer.startActiveSpan('child', inner);
        span.end();
      };
      return () => tracer.startActiveSpan('parent', outer);
    }
    case 'zipkin':
    case 'zipkin-cls': {
      const zipkin = require('zipkin');
      const ctxImpl =
        variant === 'zipkin-cls' ? new (require('zipkin-context-cls'))('zipkin-bench') : new zipkin.ExplicitContext();
      const recorder = new zipkin.BatchRecorder({ logger: { logSpan() {} } });
      const tracer = new zipkin.Tracer({ ctxImpl, recorder, localServiceName: 'bench', traceId128Bit: true });
      const inner = () => {
        sink += 1;
      };
      const outer = () => tracer.local('child', inner);
      return () => tracer.local('parent', outer);
    }
    default:
      throw new Error(`unknown variant ${variant}`);
  }
}

/**
 * Child: warm up, then time `iterations` iterations in chunks, yielding to the event loop between
 * chunks so that every library's batch timers run and its export cost is counted (a tight
 * synchronous loop would only fill and overflow the queues).
 */
async function child(variant, iterations) {
  const setupResult = setup(variant);
  const run = typeof setupResult === 'function' ? setupResult : setupResult.run;
  const around = typeof setupResult === 'function' ? (chunk) => chunk() : setupResult.around;
  const CHUNK = 1000;
  const chunk = () => {
    for (let i = 0; i < CHUNK; i++) run();
  };
  const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));
  for (let done = 0; done < Math.min(iterations, 50000); done += CHUNK) {
    around(chunk);
    await yieldToLoop();
  }
  const start = process.hrtime.bigint();
  for (let done = 0; done < iterations; done += CHUNK) {
    around(chunk);
    await yieldToLoop();
  }
  const ns = Number(process.hrtime.bigint() - start);
  const spans = variant === 'untraced' ? iterations : iterations * 2;
  process.stdout.write(JSON.stringify({ variant, nsPerSpan: ns / spans }));
  // Exporters' timers are unref'd in every library here; exit explicitly all the same.
  process.exit(0);
}



function main() {
  const opt = numberOption;
  const rounds = opt('rounds', 7);
  const iterations = opt('iterations', 200000);
  const names = Object.keys(VARIANTS);
  const results = Object.fromEntries(names.map((n) => [n, []]));
  const pin = hasTaskset();
  for (let round = 0; round < rounds; round++) {
    // Rotate the order so no variant always runs first (cold machine) or last.
    const order = rotate(names, round);
    for (const variant of order) {
      const argv = [__filename, '--child', variant, String(iterations)];
      const out = pin
        ? execFileSync('taskset', ['-c', '0', process.execPath, ...argv])
        : execFileSync(process.execPath, argv);
      results[variant].push(JSON.parse(out.toString()).nsPerSpan);
    }
  }
  const med = Object.fromEntries(names.map((n) => [n, median(results[n])]));
  const rows = names.map((n) => {
    const perSec = 1e9 / med[n];
    return `| ${n} | ${med[n].toFixed(1)} | ${(perSec / 1e6).toFixed(2)} M | ${(med.otel / med[n]).toFixed(2)}x | ${VARIANTS[n]} |`;
  });
  console.log(`core: spans nested two deep, ${iterations} iterations, ${rounds} rounds, median ns per span${pin ? ', pinned to core 0' : ''}`);
  console.log('| variant | ns/span | spans/s | vs OpenTelemetry | what |');
  console.log('|---|---|---|---|---|');
  for (const row of rows) console.log(row);
}

if (process.argv[2] === '--child') void child(process.argv[3], Number(process.argv[4]));
else main();
