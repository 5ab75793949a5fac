'use strict';
/**
 * Core benchmark (issue 2): the cost of a span, against the same loop untraced, OpenTelemetry JS
 * and zipkin-js, in one run. Each measurement runs in a fresh child process pinned to one core
 * (so no variant inherits another's JIT state), variants rotate order every round, and the
 * median of the rounds is quoted.
 *
 *   node bench/core.js [--rounds 7] [--iterations 200000]
 *   node bench/core.js --instructions [--variants tomograph,otel] [--iterations 50000]
 *
 * `--instructions` counts instead of timing: each variant's child runs under
 * `valgrind --tool=callgrind` (node `--single-threaded`) twice, at N and 3N
 * iterations (N >= 50,000: the warm-up is 50,000 in both), and the difference of the two totals divided by
 * the 4N spans between them is the cost of one span, start-up and compilation excluded. Counts
 * do not depend on the machine's load (two runs agree within about 1%).
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



/** Total instructions of one child run under callgrind. */
function countInstructions(variant, iterations) {
  const { spawnSync } = require('node:child_process');
  const out = spawnSync(
    'valgrind',
    ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, '--single-threaded', __filename, '--child', variant, String(iterations)],
    { encoding: 'utf8', maxBuffer: 1 << 26 },
  );
  const match = /Collected : (\d+)/.exec(out.stderr);
  if (out.status !== 0 || match === null) throw new Error(`callgrind failed for ${variant}: ${out.stderr.slice(-2000)}`);
  return Number(match[1]);
}

function instructionsMain() {
  const n = numberOption('iterations', 50000);
  const i = process.argv.indexOf('--variants');
  const names = i >= 0 ? process.argv[i + 1].split(',') : ['tomograph', 'otel', 'zipkin'];
  if (!(n >= 50000)) throw new Error('--instructions needs --iterations of at least 50000 (the warm-up)');
  const perSpan = {};
  for (const variant of names) {
    const low = countInstructions(variant, n);
    const high = countInstructions(variant, 3 * n);
    const spans = (variant === 'untraced' ? 1 : 2) * 2 * n;
    perSpan[variant] = (high - low) / spans;
    console.error(`${variant}: ${low} at ${n} iterations, ${high} at ${3 * n}`);
  }
  const base = perSpan.otel;
  console.log(`core --instructions: callgrind, node --single-threaded, (count at ${3 * n} - count at ${n} iterations) / ${4 * n} spans`);
  console.log('| variant | instructions/span | OpenTelemetry / variant |');
  console.log('|---|---:|---:|');
  for (const variant of names) {
    const ratio = base === undefined ? '' : `${(base / perSpan[variant]).toFixed(2)}x`;
    console.log(`| ${variant} | ${Math.round(perSpan[variant])} | ${ratio} |`);
  }
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
else if (process.argv.includes('--instructions')) instructionsMain();
else main();
