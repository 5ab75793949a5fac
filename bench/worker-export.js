'use strict';
/**
 * What export in a worker thread (`exportIn: 'worker'`, tomograph/worker) buys the app.
 *
 * 1. The app's event-loop delay (p99, `perf_hooks.monitorEventLoopDelay` at 1 ms resolution,
 *    preloaded by `_eld.js`) and request latency (p99, autocannon) at 50% and 90% of the untraced
 *    peak load, for: untraced, tomograph exporting Zipkin on the main thread, tomograph exporting
 *    Zipkin from a worker thread, OpenTelemetry (BatchSpanProcessor + exporter-zipkin). The peak
 *    is the median req/s of the untraced server at full load (`--connections` at a time); the
 *    fixed loads are autocannon's `--overallRate`. Servers are the `bench/http.js` apps
 *    (`_http-*.js`, Express 5) pinned to core 0 (`taskset -c 0`: the export worker shares that
 *    core); autocannon and the Zipkin sink on core 1. Variants run in rotating order, a fresh
 *    server each, `--warmup` s at the rate before the measured `--seconds`; medians over rounds.
 * 2. Main-thread instructions per exported span, under callgrind (node `--single-threaded`,
 *    `--separate-threads=yes`: thread 1 is the app's): `_worker-export-spans.js` makes rounds of
 *    512 HTTP-server-like spans and flushes each round, for tomograph (Zipkin on the main thread,
 *    Zipkin in a worker, an exporter that drops) and OpenTelemetry (BatchSpanProcessor +
 *    exporter-zipkin, or an exporter that drops); the counters are zeroed after the warm-up
 *    rounds. Per exported span: a variant minus the same tracer's dropping variant, over the
 *    spans counted. The spans' own making cancels out; what is left is queueing, encoding (or
 *    packing), the POST and its answer. (`bench/instructions.js --variants tomograph-worker`
 *    gives the same per request of a whole Express server, where run-to-run noise of 1-2% is
 *    as large as the export itself.)
 *
 *   npm run build && node bench/worker-export.js [--rounds 3] [--seconds 5] [--warmup 2]
 *     [--connections 10] [--route hello] [--loads 50,90] [--variants untraced,tomograph,tomograph-worker,otel]
 *     [--no-instructions] [--no-latency]
 *     [--span-warmup-rounds 20] [--span-rounds 20] [--keep] [--dist dir]
 */
const { spawn } = require('node:child_process');
const path = require('node:path');
const { ask, autocannon, callgrindControl, hasTaskset, median, numberOption, rotate, startZipkinSink, stringOption } = require('./_util');

const args = process.argv.slice(2);
const opt = (name, fallback) => stringOption(name, fallback, args);
const rounds = numberOption('rounds', 3);
const seconds = numberOption('seconds', 5);
const warmup = numberOption('warmup', 2);
const connections = numberOption('connections', 10);
const route = opt('route', 'hello');
const loads = opt('loads', '50,90').split(',').map(Number);
const dist = path.resolve(opt('dist', path.join(__dirname, '..', 'dist')));
const pin = hasTaskset();

const VARIANTS = {
  untraced: { file: '_http-untraced.js', what: 'no tracing' },
  tomograph: { file: '_http-tomograph.js', service: 'bench-tomograph', what: 'tomograph, ZipkinExporter on the main thread' },
  'tomograph-worker': { file: '_http-tomograph.js', service: 'bench-tomograph', what: "tomograph, Zipkin export in a worker thread (exportIn: 'worker'), nice 10 (the default)" },
  'tomograph-worker-nice0': {
    file: '_http-tomograph.js', service: 'bench-tomograph', workerPriority: 0, what: 'the same, the worker thread at the app\'s own priority (nice 0)',
  },
  'tomograph-worker-nice19': {
    file: '_http-tomograph.js', service: 'bench-tomograph', workerPriority: 19, what: 'the same, the worker thread at the lowest priority (nice 19; drops spans at half load on one core)',
  },
  otel: { file: '_http-otel.js', service: 'bench-otel', what: 'OpenTelemetry: http + express instrumentations, BatchSpanProcessor, exporter-zipkin' },
  // A control (not run by default): does an idle worker thread alone change the main thread's delay?
  'untraced-idle-worker': { file: '_http-untraced.js', idleWorker: true, what: 'no tracing, plus an idle worker thread (control)' },
};
const variantNames = opt('variants', 'untraced,tomograph,tomograph-worker,otel').split(',');
for (const v of variantNames) if (!VARIANTS[v]) throw new Error(`unknown variant ${v} (have: ${Object.keys(VARIANTS).join(', ')})`);

if (pin) spawnSyncPin();

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});

async function main() {
  if (!args.includes('--no-latency')) await latency();
  if (!args.includes('--no-instructions')) await instructionsPerSpan();
}

async function latency() {
  const sink = await startSink();
  const zipkinUrl = `http://127.0.0.1:${sink.port}/api/v2/spans`;
  try {
    const peaks = [];
    for (let round = 0; round < rounds; round++) {
      const server = await startServer('untraced', zipkinUrl);
      try {
        if (warmup > 0) await load(server.port, warmup);
        peaks.push((await load(server.port, seconds)).requests.average);
      } finally {
        await stopServer(sink, server, 'untraced');
      }
      process.stderr.write(`peak round ${round + 1}: ${peaks[round].toFixed(0)} req/s\n`);
    }
    const peak = median(peaks);
    const names = variantNames;
    /** results[load][variant] = [{ eld, p99 }] */
    const results = Object.fromEntries(loads.map((l) => [l, Object.fromEntries(names.map((v) => [v, []]))]));
    for (let round = 0; round < rounds; round++) {
      for (const percent of loads) {
        const rate = Math.round((peak * percent) / 100);
        for (const variant of rotate(names, round)) {
          const server = await startServer(variant, zipkinUrl);
          try {
            if (warmup > 0) await load(server.port, warmup, rate);
            await ask(server.child, 'eld-reset');
            const result = await load(server.port, seconds, rate);
            const { eld } = await ask(server.child, 'eld');
            results[percent][variant].push({ eld: eld.p99, eldMax: eld.max, p99: result.latency.p99, rps: result.requests.average });
            process.stderr.write(
              `round ${round + 1}/${rounds} ${percent}% (${rate} req/s) ${variant}: event-loop delay p99 ${eld.p99.toFixed(2)} ms, ` +
                `latency p99 ${result.latency.p99} ms, ${result.requests.average.toFixed(0)} req/s\n`,
            );
          } finally {
            await stopServer(sink, server, variant);
          }
        }
      }
    }
    console.log(
      `worker-export latency: Express 5 /${route}, node ${process.version}; untraced peak ${peak.toFixed(0)} req/s ` +
        `(median of ${rounds}, autocannon -c ${connections}); fixed loads autocannon -c ${connections} --overallRate; ` +
        `${rounds} rounds x ${seconds} s (+${warmup} s warm-up, fresh server each, rotating order)` +
        (pin ? '; server on core 0 (its export worker too), autocannon and the Zipkin sink on core 1' : ' (taskset unavailable: not pinned)') +
        '; medians',
    );
    console.log('');
    console.log('| load | variant | event-loop delay p99 ms | vs untraced | latency p99 ms | req/s served | what |');
    console.log('|---|---|---:|---:|---:|---:|---|');
    for (const percent of loads) {
      const base = median(results[percent][names[0]].map((r) => r.eld));
      for (const variant of names) {
        const runs = results[percent][variant];
        const eld = median(runs.map((r) => r.eld));
        console.log(
          `| ${percent}% (${Math.round((peak * percent) / 100)} req/s) | ${variant} | ${eld.toFixed(2)} | ` +
            `${variant === 'untraced' ? '—' : `${eld - base >= 0 ? '+' : ''}${(eld - base).toFixed(2)} ms`} | ` +
            `${median(runs.map((r) => r.p99))} | ${median(runs.map((r) => r.rps)).toFixed(0)} | ${VARIANTS[variant].what} |`,
        );
      }
    }
    console.log('');
  } finally {
    sink.child.disconnect();
  }
}

async function instructionsPerSpan() {
  const fs = require('node:fs');
  const tmp = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'tomograph-worker-export-cg-'));
  const sink = await startSink();
  const zipkinUrl = `http://127.0.0.1:${sink.port}/api/v2/spans`;
  const counts = {};
  try {
    for (const variant of spanVariants) {
      counts[variant] = await callgrindSpans(variant, zipkinUrl, tmp);
      const { main, all, spans } = counts[variant];
      process.stderr.write(`${variant}: main thread ${(main / spans).toFixed(0)} instructions/span, all threads ${(all / spans).toFixed(0)}\n`);
    }
  } finally {
    sink.child.disconnect();
    if (keep === undefined) fs.rmSync(tmp, { recursive: true, force: true });
    else process.stderr.write(`callgrind dumps kept in ${tmp}\n`);
  }
  const perSpan = (variant, base, which = 'main') => (counts[variant][which] - counts[base][which]) / counts[variant].spans;
  if (spanVariants.length < 5) return; // a subset (--span-variants): the counts above are the result
  const otel = perSpan('otel', 'otel-noop');
  console.log(
    `worker-export instructions: instructions per exported span (callgrind, node ${process.version} --single-threaded, ` +
      `${counts.tomograph.spans} spans counted after ${spanWarmupRounds * 512} of warm-up, in full batches of 512, each flushed; ` +
      'Zipkin to a local sink; bench/_worker-export-spans.js): a variant minus the same tracer with an exporter that drops every batch',
  );
  console.log('');
  console.log('| variant | main thread: instructions per exported span | vs OpenTelemetry | all threads: instructions per exported span |');
  console.log('|---|---:|---:|---:|');
  for (const [variant, base] of [['tomograph', 'tomograph-noexport'], ['tomograph-worker', 'tomograph-noexport'], ['otel', 'otel-noop']]) {
    const value = perSpan(variant, base);
    console.log(`| ${variant} | ${value.toFixed(0)} | ${(value / otel).toFixed(3)}x | ${perSpan(variant, base, 'all').toFixed(0)} |`);
  }
  console.log('');
}

const spanWarmupRounds = numberOption('span-warmup-rounds', 20);
const keep = args.includes('--keep') ? true : undefined;
const spanVariants = opt('span-variants', 'tomograph-noexport,tomograph,tomograph-worker,otel-noop,otel').split(',');
const spanRounds = numberOption('span-rounds', 20);

/** Runs the span loop of `variant` under callgrind; returns the main thread's and all threads' counts over the counted rounds. */
async function callgrindSpans(variant, zipkinUrl, tmp) {
  const fs = require('node:fs');
  const out = path.join(tmp, `callgrind.${variant}`);
  const child = spawn('valgrind', [
    '--tool=callgrind', `--callgrind-out-file=${out}`, '--dump-instr=no', '--dump-line=no', '--separate-threads=yes',
    process.execPath, '--single-threaded', path.join(__dirname, '_worker-export-spans.js'),
  ], {
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    env: { ...process.env, BENCH_VARIANT: variant, ZIPKIN_URL: zipkinUrl, TOMOGRAPH_DIST: dist, WARMUP_ROUNDS: String(spanWarmupRounds), ROUNDS: String(spanRounds) },
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const next = () => new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${variant} exited (${code}):\n${stderr.slice(-2000)}`)));
  });
  try {
    await next();
    await callgrindControl('-z', child.pid);
    const before = new Set(fs.readdirSync(tmp));
    const done = next();
    child.send('go');
    const { spans } = await done;
    await callgrindControl('-d', child.pid);
    const dumps = fs.readdirSync(tmp).filter((f) => !before.has(f) && f.startsWith(path.basename(out)));
    const main = dumps.filter((f) => f.endsWith('-01'));
    if (main.length !== 1) throw new Error(`expected one main-thread dump for ${variant}, found ${dumps.join(', ') || 'none'}`);
    const count = (f) => Number(/^(?:summary|totals):\s+(\d+)/m.exec(fs.readFileSync(path.join(tmp, f), 'utf8'))[1]);
    return { main: count(main[0]), all: dumps.reduce((sum, f) => sum + count(f), 0), spans };
  } finally {
    child.removeAllListeners('exit');
    child.kill('SIGKILL');
  }
}


function spawnSyncPin() {
  require('node:child_process').spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)]);
}

function startServer(variant, zipkinUrl) {
  const argv = [process.execPath, '-r', path.join(__dirname, '_eld.js'), path.join(__dirname, VARIANTS[variant].file)];
  const cmd = pin ? ['taskset', ['-c', '0', ...argv]] : [argv[0], argv.slice(1)];
  const child = spawn(cmd[0], cmd[1], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, BENCH_VARIANT: variant, ZIPKIN_URL: zipkinUrl, TOMOGRAPH_DIST: dist, BENCH_IDLE_WORKER: VARIANTS[variant].idleWorker ? '1' : '',
      BENCH_WORKER_PRIORITY: VARIANTS[variant].workerPriority === undefined ? '' : String(VARIANTS[variant].workerPriority) },
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${variant} exited (${code}) before listening`)));
    child.stdout.on('data', function onData(chunk) {
      out += chunk;
      if (!out.includes('\n')) return;
      child.stdout.off('data', onData);
      child.removeAllListeners('exit');
      resolve({ child, port: Number(out.trim()) });
    });
  });
}

/** Stops a server after its exporter flushed; a traced variant's spans must all have reached the sink. */
async function stopServer(sink, server, variant) {
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  const stopped = await ask(server.child, 'stop');
  await exited;
  if (stopped.flushError) throw new Error(`${variant}: flush failed: ${stopped.flushError}`);
  const service = VARIANTS[variant].service;
  if (service === undefined) return;
  const { counts, bad } = await ask(sink.child, 'counts');
  await ask(sink.child, 'reset');
  if (bad > 0) throw new Error(`sink rejected ${bad} posts during ${variant}`);
  if (!((counts[service] ?? 0) >= stopped.totalRequests)) {
    throw new Error(`${variant}: the sink received ${counts[service] ?? 0} spans for ${stopped.totalRequests} requests`);
  }
}

/** autocannon on core 1 for `duration` s: as fast as it can, or at `rate` req/s in all. */
function load(port, duration, rate) {
  return autocannon({ url: `http://127.0.0.1:${port}/${route}`, connections, duration, rate, pin });
}

/** The Zipkin sink of bench/http.js, on core 1. */
function startSink() {
  return startZipkinSink({ pin });
}

