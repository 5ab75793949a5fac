'use strict';
/**
 * Instructions per request, counted by `valgrind --tool=callgrind`: a figure that holds still on
 * a shared machine (whatever the other cores do), where req/s moves by tens of percent.
 * `bench/http.js` (req/s, paired) stays the cross-check.
 *
 * For each Express version, route and variant: a fresh server process (the `bench/http.js` apps,
 * `bench/_http-*.js`) runs under callgrind with node `--single-threaded` (V8's compiler and GC
 * helper threads otherwise run in an order valgrind varies, and per-request counts move by ±5%);
 * the driver sends `--warmup` requests from outside, zeroes the counters (`callgrind_control -z`),
 * sends `--requests` more, dumps them (`callgrind_control -d`) and divides. Requests go
 * `--connections` at a time over keep-alive connections. After the dump the server flushes its
 * exporter and the sinks report what arrived: a traced variant that exported less than one span per
 * request is reported (not fatal: under callgrind on a loaded machine the final flush can outlast
 * its deadline; the count was dumped before).
 *
 * Steady state (BENCHMARKS.md, "Instructions per request"): one request at a time (with 10, how
 * many requests an event-loop turn serves depends on timing, and counts move by 1-3%); 8192
 * requests of warm-up, because V8 still optimizes code that runs once per batch (the Zipkin
 * encoder, undici's response path) up to ~8000 requests, and a compilation in the window costs
 * the traced variants several percent; and the count is given with and without V8's mark-compact
 * GC, which comes every ~2500-4000 requests in every variant (untraced too) and lands in a window
 * or not (see `countInstructions`).
 *
 * Timers run ~50x slow under callgrind, so a batch queue's delay would fire after a few hundred
 * requests instead of thousands, and each export would carry fewer spans than at real load. The
 * tracers' delays are therefore set long (tomograph's `scheduledDelayMs`, OpenTelemetry's
 * `OTEL_BSP_SCHEDULE_DELAY`, zipkin-js's `httpInterval`: `--delay-ms`, default 600000): batches
 * leave when full (512 spans), as they do at real load above ~512 spans/s. With the default
 * counts (8192 warm-up, 4096 measured) tomograph's queue is empty when the counters are zeroed
 * and exactly 8 (hello, json) or 16 (knex: 2 spans per request) full batches leave in the window.
 *
 *   npm run build && node bench/instructions.js [--variants untraced,als,tomograph-noexport,...]
 *     [--routes hello,json,knex] [--express 5,4] [--requests 4096] [--warmup 8192]
 *     [--connections 1] [--rounds 1] [--delay-ms 600000] [--dist dir] [--keep dir] [--json file]
 *     [--no-baseline]   (skip the untraced run that is otherwise added to every table)
 *
 * Variants (`--variants`, default all but the piece variants marked *):
 *   untraced, empty-mw*, als, tomograph-noexport, tomograph-unsampled*, tomograph-copy*,
 *   tomograph-no-headers*, tomograph-no-route*, tomograph-no-tags*, tomograph-no-tracking*,
 *   tomograph-no-error*, tomograph-no-end*, tomograph-context-only* (the cost table's pieces:
 *   `_http-tomograph-pieces.js`), tomograph-encode*, tomograph,
 *   tomograph-router-channel*, tomograph-statsd, tomograph-worker (main thread's count; all threads' in the log),
 *   otel, otel-noop*, zipkin-js
 * `--keep dir` writes and keeps each callgrind dump there (for `callgrind_annotate --inclusive=yes`;
 * use a new directory per run).
 * `--tracer-options '{"maxBatchSize":2048}'` passes options to tomograph's Tracer.
 * `--node-flags '--perf-basic-prof'` adds flags to the server's node: with that one, V8 writes
 * /tmp/perf-<pid>.map, which `bench/callgrind-js.js` uses to name the JIT code in a kept dump.
 */
const { spawn, spawnSync } = require('node:child_process');
const dgram = require('node:dgram');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { ask, callgrindControl, median, numberOption, startZipkinSink, stringOption } = require('./_util');
const { countInstructions } = require('./_callgrind-count');

const VARIANTS = {
  untraced: { file: '_http-untraced.js', what: 'no tracing' },
  'empty-mw': { file: '_http-untraced.js', what: 'an Express middleware that only calls next()', piece: true },
  als: { file: '_http-untraced.js', what: 'a middleware running next() inside AsyncLocalStorage.run' },
  'tomograph-noexport': { file: '_http-tomograph.js', what: 'tomograph, exporter that drops every batch' },
  'tomograph-unsampled': { file: '_http-tomograph.js', what: 'tomograph, every span unsampled (sampler 0): start and end of a non-recording span, no tags, tracking or queue', piece: true },
  'tomograph-copy': { file: '_http-tomograph.js', what: 'a bench copy of the middleware (the base of the piece variants below), exporter that drops', piece: true },
  'tomograph-no-headers': { file: '_http-tomograph.js', what: 'the copy without header extraction', piece: true },
  'tomograph-no-route': { file: '_http-tomograph.js', what: 'the copy without route template, span name and http.route', piece: true },
  'tomograph-no-tags': { file: '_http-tomograph.js', what: 'the copy without http.method/http.path tags and status', piece: true },
  'tomograph-no-tracking': { file: '_http-tomograph.js', what: 'the copy without response-end tracking: the span ends right after next()', piece: true },
  'tomograph-no-error': { file: '_http-tomograph.js', what: "the copy without the router error-record lookup", piece: true },
  'tomograph-no-end': { file: '_http-tomograph.js', what: 'the copy that never ends its span (no duration, no batch queue)', piece: true },
  'tomograph-context-only': { file: '_http-tomograph.js', what: 'a middleware that only runs next() under tracer.withSpan of one span made at start-up', piece: true },
  'tomograph-encode': { file: '_http-tomograph.js', what: 'tomograph, exporter that Zipkin-encodes each batch and drops it', piece: true },
  tomograph: { file: '_http-tomograph.js', service: 'bench-tomograph', what: 'tomograph + ZipkinExporter' },
  'tomograph-router-channel': { file: '_http-tomograph.js', service: 'bench-tomograph', what: 'tomograph + ZipkinExporter, plus a no-op subscriber on the router error channel (the middleware before it read the router\'s error record)', piece: true },
  'tomograph-statsd': { file: '_http-tomograph.js', statsd: true, what: 'tomograph + StatsdExporter (UDP)' },
  'tomograph-worker': { file: '_http-tomograph.js', service: 'bench-tomograph', threads: true, what: "tomograph + Zipkin export in a worker thread (exportIn: 'worker'): the main thread's instructions" },
  otel: { file: '_http-otel.js', service: 'bench-otel', what: 'OpenTelemetry: http + express (+ knex) instrumentations, BatchSpanProcessor, exporter-zipkin' },
  'otel-noop': { file: '_http-otel.js', what: 'OpenTelemetry, exporter that drops', piece: true },
  'zipkin-js': { file: '_http-zipkin-js.js', service: 'bench-zipkin-js', what: 'zipkin-js: instrumentation-express, CLSContext, BatchRecorder, HttpLogger (no Knex instrumentation exists)' },
};

const args = process.argv.slice(2);
const opt = (name, fallback) => stringOption(name, fallback, args);
const requests = numberOption('requests', 4096);
const warmup = numberOption('warmup', 8192);
const connections = numberOption('connections', 1);
const rounds = numberOption('rounds', 1);
const delayMs = numberOption('delay-ms', 600000);
const routes = opt('routes', 'hello,json,knex').split(',');
const expressVersions = opt('express', '5,4').split(',');
const variants = opt('variants', Object.keys(VARIANTS).filter((v) => !VARIANTS[v].piece).join(',')).split(',');
const dist = path.resolve(opt('dist', path.join(__dirname, '..', 'dist')));
const keep = opt('keep', undefined);
const jsonOut = opt('json', undefined);
const tracerOptions = opt('tracer-options', undefined);
const nodeFlags = opt('node-flags', '').split(' ').filter((f) => f !== '');
for (const v of variants) if (!VARIANTS[v]) throw new Error(`unknown variant ${v} (have: ${Object.keys(VARIANTS).join(', ')})`);
for (const e of expressVersions) if (e !== '4' && e !== '5') throw new Error(`--express takes 4 and/or 5, not ${e}`);
// The ratios need untraced in every table; `--no-baseline` skips it when another run has it.
const noBaseline = args.includes('--no-baseline');
if (!variants.includes('untraced') && !noBaseline) variants.unshift('untraced');

if (spawnSync('valgrind', ['--version']).status !== 0) {
  console.error('instructions: valgrind is not installed; skipped');
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});

async function main() {
  // With `--keep dir` the dumps are written (and left) there; else in a temporary directory.
  const tmp = keep ? (fs.mkdirSync(keep, { recursive: true }), path.resolve(keep)) : fs.mkdtempSync(path.join(os.tmpdir(), 'tomograph-callgrind-'));
  const zipkinSink = await startSink();
  const statsdSink = await startUdpSink();
  /** results[express][route][variant] = instructions per request, one per round */
  const results = {};
  try {
    for (let round = 0; round < rounds; round++) {
      for (const express of expressVersions) {
        for (const route of routes) {
          for (const variant of variants) {
            const r = await measure({ express, route, variant, tmp, zipkinSink, statsdSink, round });
            ((results[express] ??= {})[route] ??= {})[variant] ??= [];
            results[express][route][variant].push(r.counts);
            process.stderr.write(
              `round ${round + 1}/${rounds} express ${express} /${route} ${variant}: ${describeCounts(r.counts)}` +
                (r.delivered === undefined ? '' : `, ${r.delivered}`) +
                '\n',
            );
          }
        }
      }
    }
  } finally {
    zipkinSink.child.disconnect();
    statsdSink.socket.close();
    if (!keep) fs.rmSync(tmp, { recursive: true, force: true });
  }
  report(results);
  if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(results, null, 2));
}

function report(results) {
  console.log(
    `instructions: callgrind, node ${process.version} --single-threaded, ${requests} requests counted after ${warmup} of warm-up, ` +
      `${connections} at a time over keep-alive connections; batch delays ${delayMs} ms (batches leave full); ` +
      `${rounds} round(s)${rounds > 1 ? ', medians' : ''}`,
  );
  console.log('');
  console.log(
    '| Express | route | variant | k instructions/request | vs untraced | without mark-compact GC | vs untraced | without any GC or compiler | vs untraced | compiler | rounds (without mark-compact) | what |',
  );
  console.log('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|');
  const k = (n) => (n / 1000).toFixed(1);
  for (const express of expressVersions) {
    for (const route of routes) {
      const row = results[express][route];
      const base = row.untraced === undefined ? undefined : medians(row.untraced);
      for (const variant of variants) {
        const m = medians(row[variant]);
        const ratio = (key) => (base === undefined ? '' : `${(m[key] / base[key]).toFixed(3)}x`);
        console.log(
          `| ${express} | /${route} | ${variant} | ${k(m.total)} | ${ratio('total')} | ${k(m.total - m.majorGc)} | ${ratio('mutator')} | ` +
            `${k(m.code)} | ${ratio('code')} | ` +
            `${k(m.compiler)} | ${row[variant].map((c) => k(c.total - c.majorGc)).join(' ')} | ${VARIANTS[variant].what} |`,
        );
      }
    }
  }
}

/** Medians of each count over the rounds (per request). */
function medians(list) {
  return {
    total: median(list.map((c) => c.total)),
    majorGc: median(list.map((c) => c.majorGc)),
    mutator: median(list.map((c) => c.total - c.majorGc)),
    compiler: median(list.map((c) => c.compiler)),
    code: median(list.map((c) => c.total - c.majorGc - c.minorGc - c.compiler)),
  };
}

function describeCounts(c) {
  return (
    `${(c.total / 1000).toFixed(1)} k instructions/request, ${((c.total - c.majorGc) / 1000).toFixed(1)} k without mark-compact GC ` +
    `(${(c.majorGc / 1000).toFixed(1)} k), compiler ${(c.compiler / 1000).toFixed(1)} k, other GC ${(c.minorGc / 1000).toFixed(1)} k, ` +
    `without any GC or compiler ${((c.total - c.majorGc - c.minorGc - c.compiler) / 1000).toFixed(1)} k`
  );
}

async function measure({ express, route, variant, tmp, zipkinSink, statsdSink, round }) {
  await ask(zipkinSink.child, 'reset');
  statsdSink.reset();
  const tag = `${variant}.e${express}.${route}.r${round}`;
  const outFile = path.join(tmp, `callgrind.${tag}`);
  const env = {
    ...process.env,
    BENCH_VARIANT: variant,
    ZIPKIN_URL: `http://127.0.0.1:${zipkinSink.port}/api/v2/spans`,
    STATSD_PORT: String(statsdSink.port),
    TOMOGRAPH_DIST: dist,
    EXPRESS_MODULE: express === '4' ? 'express4' : 'express',
    BENCH_KNEX: route === 'knex' ? '1' : '0',
    BENCH_TRACER_OPTIONS: JSON.stringify({ scheduledDelayMs: delayMs, ...(tracerOptions ? JSON.parse(tracerOptions) : {}) }),
    OTEL_BSP_SCHEDULE_DELAY: String(delayMs),
    BENCH_ZIPKIN_JS_INTERVAL_MS: String(delayMs),
  };
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      `--callgrind-out-file=${outFile}`,
      '--dump-instr=no',
      '--dump-line=no',
      // A worker thread: one dump per thread, and the main thread's (-01) is the app's count.
      ...(VARIANTS[variant].threads ? ['--separate-threads=yes'] : []),
      process.execPath,
      '--single-threaded',
      ...nodeFlags,
      path.join(__dirname, VARIANTS[variant].file),
    ],
    { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  try {
    const port = await new Promise((resolve, reject) => {
      let out = '';
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`${variant} exited (${code}) before listening:\n${stderr.slice(-2000)}`)));
      child.stdout.on('data', function onData(chunk) {
        out += chunk;
        if (!out.includes('\n')) return;
        child.stdout.off('data', onData);
        child.removeAllListeners('exit');
        resolve(Number(out.trim()));
      });
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
    const url = `http://127.0.0.1:${port}/${route}`;
    await drive(url, agent, warmup);
    await callgrindControl('-z', child.pid);
    const before = new Set(fs.readdirSync(tmp));
    await drive(url, agent, requests);
    await callgrindControl('-d', child.pid);
    agent.destroy();
    const all = fs.readdirSync(tmp).filter((f) => !before.has(f) && f.startsWith(path.basename(outFile)));
    // A worker thread: one dump per thread, and the main thread's (-01) is the app's count.
    const dumps = VARIANTS[variant].threads ? all.filter((f) => f.endsWith('-01')) : all;
    if (dumps.length !== 1) throw new Error(`expected one new callgrind dump for ${tag}, found ${all.join(', ') || 'none'}`);
    const counted = countInstructions(path.join(tmp, dumps[0]));
    if (all.length > 1) {
      const everyThread = all.reduce((sum, f) => sum + countInstructions(path.join(tmp, f)).total, 0);
      process.stderr.write(`  ${tag}: all ${all.length} threads ${(everyThread / requests / 1000).toFixed(1)} k instructions/request\n`);
    }
    // With --perf-basic-prof, keep V8's map of its JIT code beside the dump (bench/callgrind-js.js).
    const perfMap = `/tmp/perf-${child.pid}.map`;
    if (fs.existsSync(perfMap)) {
      if (keep) fs.copyFileSync(perfMap, path.join(tmp, `${dumps[0]}.perf.map`));
      fs.rmSync(perfMap, { force: true });
    }
    const counts = {
      total: counted.total / requests,
      majorGc: counted.majorGc / requests,
      compiler: counted.compiler / requests,
      minorGc: counted.minorGc / requests,
    };
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const stopped = await ask(child, 'stop');
    await exited;
    if (stopped.flushError) throw new Error(`${variant}: flush failed: ${stopped.flushError}`);
    process.stderr.write(`  ${tag}: ${describeCounts(counts)} counted\n`);
    // Under callgrind on a loaded machine a flush can outlast its deadline: the count above
    // stands (it was dumped before), the shortfall is reported with the tracer's own counts.
    let delivered;
    try {
      delivered = await checkDelivery(variant, zipkinSink, statsdSink, stopped.totalRequests);
    } catch (error) {
      delivered = `DELIVERY SHORT: ${error.message}; tracer stats ${JSON.stringify(stopped.stats)}`;
    }
    if (!keep) for (const f of fs.readdirSync(tmp)) if (f.startsWith(path.basename(outFile))) fs.rmSync(path.join(tmp, f));
    return { counts, delivered };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

/** Checks that a traced variant's spans all arrived; returns a short description. */
async function checkDelivery(variant, zipkinSink, statsdSink, totalRequests) {
  const { service, statsd } = VARIANTS[variant];
  if (statsd) {
    if (statsdSink.packets() === 0) throw new Error(`${variant}: the StatsD sink received nothing`);
    return `statsd sink: ${statsdSink.packets()} packets for ${totalRequests} requests`;
  }
  if (service === undefined) return undefined;
  const { counts, bad } = await ask(zipkinSink.child, 'counts');
  if (bad > 0) throw new Error(`the sink rejected ${bad} posts during ${variant}`);
  const spans = counts[service] ?? 0;
  if (!(spans >= totalRequests)) throw new Error(`${variant}: the sink received ${spans} spans for ${totalRequests} requests`);
  return `zipkin sink: ${spans} spans for ${totalRequests} requests`;
}

/** Sends `count` GET requests to `url`, `connections` at a time; every answer must be 200. */
function drive(url, agent, count) {
  let sent = 0;
  let done = 0;
  return new Promise((resolve, reject) => {
    const next = () => {
      if (sent >= count) return;
      sent++;
      http
        .get(url, { agent }, (res) => {
          if (res.statusCode !== 200) return reject(new Error(`${url} answered ${res.statusCode}`));
          res.resume();
          res.once('end', () => {
            done++;
            if (done === count) resolve();
            else next();
          });
        })
        .once('error', reject);
    };
    for (let i = 0; i < Math.min(connections, count); i++) next();
  });
}

/** The Zipkin sink of bench/http.js, in its own process. */
function startSink() {
  return startZipkinSink();
}

/** A UDP socket on 127.0.0.1 that counts the StatsD packets it receives. */
function startUdpSink() {
  const socket = dgram.createSocket('udp4');
  let packets = 0;
  socket.on('message', () => packets++);
  return new Promise((resolve) => {
    socket.bind(0, '127.0.0.1', () => {
      resolve({ socket, port: socket.address().port, packets: () => packets, reset: () => (packets = 0) });
    });
  });
}

