'use strict';
/**
 * HTTP serving with tracing on: an Express 5 app (`GET /hello`, and `GET /json`, a 20-item JSON
 * array) loaded by autocannon, served
 *   - untraced,
 *   - by tomograph: `expressMiddleware` + `instrumentHttp` + `ZipkinExporter` to a local sink,
 *   - by OpenTelemetry JS: sdk-trace-node, http + express instrumentations, BatchSpanProcessor,
 *     `@opentelemetry/exporter-zipkin` to the same sink,
 *   - by zipkin-js: zipkin-instrumentation-express, cls-hooked context, BatchRecorder,
 *     zipkin-transport-http (JSON_V2) to the same sink,
 * each tracer at its defaults (batching, delays, queue sizes). Server apps: `bench/_http-*.js`.
 *
 * Every measurement starts a fresh server process pinned to core 0 (`taskset -c 0`); autocannon
 * and the Zipkin sink are pinned to core 1. Per route, the variants run in rotating order, every
 * variant once per round; a measurement is a warm-up, then the measured window. Quoted: medians
 * over rounds of requests per second, of server CPU time per request, and of the instructions
 * the server executed per request (`perf stat -p`, when perf may count; `--no-perf` to skip),
 * each with the median of its per-round ratio to the untraced run of the same round. On a
 * shared machine the instruction count is the steady figure: time moves with the neighbours'
 * load, the work done per request does not. After each run the server flushes its exporter and the sink
 * reports how many spans it received from that variant: a traced variant that exported
 * nothing would fail the run.
 *
 *   npx tsc -p tsconfig.build.json && node bench/http.js [--rounds 5] [--seconds 5] [--warmup 2]
 *     [--connections 10] [--routes hello,json] [--variants untraced,tomograph,otel,zipkin-js]
 *     [--dist <dir>]
 *
 * Extra variants for `--variants`: `tomograph-noexport`, `otel-noop` (exporters that drop).
 *
 * `--paired`: instead, each traced variant is served at the same time as an untraced server,
 * both on core 0, each loaded by its own autocannon on core 1; quoted is the median over rounds
 * of the traced server's req/s over the untraced one's. Sharing one core for the same seconds,
 * both see the same machine, which matters where its speed drifts by tens of percent from
 * minute to minute (this one, some days). Two untraced servers paired this way came out at
 * 0.99-1.03. It needs core 1 to keep both servers busy: when the machine is slow, the ratio
 * moves too (0.72-0.82 for tomograph on /hello within one day here), so quote it with the
 * sequential figures, not instead of them.
 */
const { spawn, spawnSync } = require('node:child_process');
const path = require('node:path');
const { ask, autocannon, hasTaskset, median: med, numberOption, rotate, stringOption } = require('./_util');

const VARIANTS = {
  untraced: { file: '_http-untraced.js', what: 'no tracing' },
  tomograph: { file: '_http-tomograph.js', service: 'bench-tomograph', what: '`expressMiddleware` + `instrumentHttp` + `ZipkinExporter`' },
  otel: { file: '_http-otel.js', service: 'bench-otel', what: 'http + express instrumentations, BatchSpanProcessor, exporter-zipkin' },
  'zipkin-js': { file: '_http-zipkin-js.js', service: 'bench-zipkin-js', what: 'zipkin-instrumentation-express, CLSContext, BatchRecorder, HttpLogger' },
  'tomograph-noexport': { file: '_http-tomograph.js', what: 'tomograph, exporter that drops every batch' },
  'otel-noop': { file: '_http-otel.js', what: 'OpenTelemetry, no-op exporter' },
};

const args = process.argv.slice(2);
const opt = (name, fallback) => stringOption(name, fallback, args);
const rounds = numberOption('rounds', 5);
const seconds = numberOption('seconds', 5);
const warmup = numberOption('warmup', 2);
const connections = numberOption('connections', 10);
const routes = opt('routes', 'hello,json').split(',');
const variants = opt('variants', 'untraced,tomograph,otel,zipkin-js').split(',');
const dist = path.resolve(opt('dist', path.join(__dirname, '..', 'dist')));
for (const v of variants) if (!VARIANTS[v]) throw new Error(`unknown variant ${v} (have: ${Object.keys(VARIANTS).join(', ')})`);
if (!variants.includes('untraced')) variants.unshift('untraced');

const pin = hasTaskset();
// Instruction counts need perf and a kernel that lets us count another process's events.
const perf = !args.includes('--no-perf') && /^\d+,/.test(String(spawnSync('perf', ['stat', '-e', 'instructions', '-x', ',', 'true']).stderr));
// The driver itself mostly waits; keep it off the server's core.
if (pin) spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)]);

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});

async function main() {
  const sink = await startProcess(path.join(__dirname, '_http-sink.js'), {}, '1');
  const zipkinUrl = `http://127.0.0.1:${sink.port}/api/v2/spans`;
  if (args.includes('--paired')) {
    try {
      await mainPaired(sink, zipkinUrl);
    } finally {
      sink.child.disconnect();
    }
    return;
  }
  /** results[route][variant] = [{ rps, cpuUs, p99, spansPerRequest, ... }] per round */
  const results = Object.fromEntries(routes.map((r) => [r, Object.fromEntries(variants.map((v) => [v, []]))]));
  try {
    for (let round = 0; round < rounds; round++) {
      for (const route of routes) {
        for (const variant of rotate(variants, round)) {
          const r = await measure(sink, zipkinUrl, variant, route);
          results[route][variant].push(r);
          process.stderr.write(
            `round ${round + 1}/${rounds} /${route} ${variant}: ${r.rps.toFixed(0)} req/s, ${r.cpuUs.toFixed(1)} CPU µs/req, ` +
              (r.instructions === undefined ? '' : `${(r.instructions / 1000).toFixed(1)} k instructions/req, `) +
              `p99 ${r.p99} ms` +
              (r.sinkSpans === undefined ? '' : `, sink ${r.sinkSpans} spans / ${r.totalRequests} requests`) +
              (r.stats ? ` ${JSON.stringify(r.stats)}` : '') +
              '\n',
          );
        }
      }
    }
  } finally {
    sink.child.disconnect();
  }
  report(results);
}

function report(results) {
  console.log(
    `http: Express 5, ${rounds} rounds x ${seconds} s per variant and route (+${warmup} s warm-up, fresh server each), ` +
      `autocannon -c ${connections}` +
      (pin ? '; server on core 0, autocannon and the Zipkin sink on core 1' : ' (taskset unavailable: not pinned)') +
      `; node ${process.version}`,
  );
  console.log('');
  console.log('| route | variant | req/s | vs untraced (req/s) | server CPU µs/req | vs untraced (CPU) | server k instructions/req | vs untraced (instructions) | p99 ms | spans at sink / request | what |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const route of routes) {
    const base = results[route].untraced;
    for (const variant of variants) {
      const runs = results[route][variant];
      const rpsRatio = med(runs.map((r, i) => r.rps / base[i].rps));
      const cpuRatio = med(runs.map((r, i) => base[i].cpuUs / r.cpuUs));
      const counted = runs.every((r, i) => r.instructions !== undefined && base[i].instructions !== undefined);
      const instructions = counted ? (med(runs.map((r) => r.instructions)) / 1000).toFixed(0) : 'n/a';
      const insRatio = !counted ? 'n/a' : variant === 'untraced' ? '1' : med(runs.map((r, i) => base[i].instructions / r.instructions)).toFixed(2) + 'x';
      const sink = VARIANTS[variant].service === undefined ? '—' : med(runs.map((r) => r.sinkSpans / r.totalRequests)).toFixed(2);
      console.log(
        `| /${route} | ${variant} | ${med(runs.map((r) => r.rps)).toFixed(0)} | ${variant === 'untraced' ? '1' : rpsRatio.toFixed(2) + 'x'} | ` +
          `${med(runs.map((r) => r.cpuUs)).toFixed(1)} | ${variant === 'untraced' ? '1' : cpuRatio.toFixed(2) + 'x'} | ` +
          `${instructions} | ${insRatio} | ` +
          `${med(runs.map((r) => r.p99))} | ${sink} | ${VARIANTS[variant].what} |`,
      );
    }
  }
}

/** `--paired`: every traced variant against an untraced server running at the same time. */
async function mainPaired(sink, zipkinUrl) {
  const traced = variants.filter((v) => v !== 'untraced');
  const ratios = Object.fromEntries(routes.map((r) => [r, Object.fromEntries(traced.map((v) => [v, []]))]));
  for (let round = 0; round < rounds; round++) {
    for (const route of routes) {
      for (const variant of rotate(traced, round)) {
        await ask(sink.child, 'reset');
        const servers = await Promise.all(['untraced', variant].map((v) => startServer(v, zipkinUrl)));
        try {
          const urls = servers.map((server) => `http://127.0.0.1:${server.port}/${route}`);
          if (warmup > 0) await Promise.all(urls.map((url) => load(url, warmup)));
          const [base, result] = await Promise.all(urls.map((url) => load(url, seconds)));
          const ratio = result.requests.average / base.requests.average;
          ratios[route][variant].push(ratio);
          for (const [i, server] of servers.entries()) await stopServer(sink, server, i === 0 ? 'untraced' : variant);
          process.stderr.write(
            `round ${round + 1}/${rounds} /${route} ${variant}: ${result.requests.average.toFixed(0)} req/s beside untraced ` +
              `${base.requests.average.toFixed(0)}: ${ratio.toFixed(3)}\n`,
          );
        } catch (error) {
          for (const server of servers) server.child.kill();
          throw error;
        }
      }
    }
  }
  console.log(
    `http --paired: Express 5, ${rounds} rounds x ${seconds} s (+${warmup} s warm-up, fresh servers each), autocannon -c ${connections} per server` +
      (pin ? '; both servers on core 0, both autocannons and the Zipkin sink on core 1' : ' (taskset unavailable: not pinned)') +
      `; node ${process.version}`,
  );
  console.log('');
  console.log('| route | variant | req/s vs untraced, same seconds, same core (median) | per round |');
  console.log('|---|---|---|---|');
  for (const route of routes) {
    for (const variant of traced) {
      const runs = ratios[route][variant];
      console.log(`| /${route} | ${variant} | ${med(runs).toFixed(3)}x | ${runs.map((r) => r.toFixed(3)).join(' ')} |`);
    }
  }
}

function startServer(variant, zipkinUrl) {
  return startProcess(path.join(__dirname, VARIANTS[variant].file), {
    BENCH_VARIANT: variant,
    ZIPKIN_URL: zipkinUrl,
    TOMOGRAPH_DIST: dist,
  }, '0');
}

/**
 * Stops a server after its exporter flushed, and checks that a traced variant's spans all
 * reached the sink. Returns what the server counted since its 'mark'.
 */
async function stopServer(sink, server, variant) {
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  const stopped = await ask(server.child, 'stop');
  await exited;
  if (stopped.flushError) throw new Error(`${variant}: flush failed: ${stopped.flushError}`);
  const service = VARIANTS[variant].service;
  if (service === undefined) return { ...stopped, sinkSpans: undefined };
  const { counts, bad } = await ask(sink.child, 'counts');
  if (bad > 0) throw new Error(`sink rejected ${bad} posts during ${variant}`);
  const sinkSpans = counts[service] ?? 0;
  if (!(sinkSpans >= stopped.totalRequests)) {
    throw new Error(`${variant}: the sink received ${sinkSpans} spans for ${stopped.totalRequests} requests`);
  }
  return { ...stopped, sinkSpans };
}

async function measure(sink, zipkinUrl, variant, route) {
  await ask(sink.child, 'reset');
  const server = await startServer(variant, zipkinUrl);
  const url = `http://127.0.0.1:${server.port}/${route}`;
  try {
    if (warmup > 0) await load(url, warmup);
    await ask(server.child, 'mark');
    const counter = perf ? await countInstructions(server.child.pid) : undefined;
    const result = await load(url, seconds);
    const instructions = counter === undefined ? undefined : await counter.stop();
    const { cpuUs, requests, totalRequests, stats, sinkSpans } = await stopServer(sink, server, variant);
    return {
      rps: result.requests.average,
      cpuUs: cpuUs / requests,
      instructions: instructions === undefined ? undefined : instructions / requests,
      p99: result.latency.p99,
      sinkSpans,
      totalRequests,
      stats,
    };
  } catch (error) {
    server.child.kill();
    throw error;
  }
}

/** Starts `file` with node, pinned to `core`, and waits for the port it prints. */
function startProcess(file, env, core) {
  const argv = [process.execPath, file];
  const cmd = pin ? ['taskset', ['-c', core, ...argv]] : [argv[0], argv.slice(1)];
  const child = spawn(cmd[0], cmd[1], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env: { ...process.env, ...env } });
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${path.basename(file)} exited (${code}) before listening`)));
    child.stdout.on('data', function onData(chunk) {
      out += chunk;
      if (!out.includes('\n')) return;
      child.stdout.off('data', onData);
      child.removeAllListeners('exit');
      resolve({ child, port: Number(out.trim()) });
    });
  });
}

/**
 * Counts the instructions `pid` executes (user and kernel, all threads) until `stop()`, with
 * `perf stat`: unlike time, a count barely moves when other processes share the machine.
 */
async function countInstructions(pid) {
  const child = spawn('perf', ['stat', '-e', 'instructions', '-x', ',', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (chunk) => (err += chunk));
  // perf needs a moment to attach; the server is idle meanwhile (the load starts after).
  await new Promise((resolve) => setTimeout(resolve, 200));
  return {
    stop() {
      return new Promise((resolve) => {
        child.once('close', () => {
          const line = err.split('\n').find((l) => l.includes(',instructions'));
          const count = line === undefined ? NaN : Number(line.split(',')[0]);
          resolve(Number.isFinite(count) ? count : undefined);
        });
        child.kill('SIGINT');
      });
    },
  };
}


/** autocannon on core 1 against `url` for `duration` seconds. */
function load(url, duration) {
  return autocannon({ url, connections, duration, pin });
}
