'use strict';
/**
 * Knex, two measurements in one run.
 *
 * 1. HTTP (the figure users feel): an Express 5 route that runs one SQLite query
 *    (better-sqlite3, pool of 1), served untraced; with tomograph's `instrumentKnex`; with
 *    OpenTelemetry's `@opentelemetry/instrumentation-knex` (sdk-trace-node, BatchSpanProcessor,
 *    an exporter that drops everything); and with each tracer's own span per request, with and
 *    without its Knex instrumentation. Each variant runs in a fresh server process pinned to core
 *    0 (`taskset -c 0`), loaded by autocannon pinned to core 1; variants rotate order every
 *    round; the figure is the server's CPU time per request (what a shared machine disturbs
 *    least), medians of the per-round differences.
 * 2. In-process, paired (the integration's own cost, precise enough to compare): one process
 *    on core 0 runs blocks of 5000 requests-with-one-query (a `trace()` or `startActiveSpan()`
 *    span around a Knex query), switching each tracer's Knex instrumentation on and off between
 *    blocks (`instrumentKnex`/`detach`, OpenTelemetry's `enable`/`disable`), rotating; the
 *    cost of each is the median difference between adjacent on and off blocks. Both tracers'
 *    AsyncLocalStorage is active in every block, so the per-promise cost of async context
 *    (paid once tracing is on at all, by any tracer) cancels out.
 *
 *   npx tsc -p tsconfig.build.json && node bench/knex.js [--rounds 7] [--seconds 5] [--warmup 2]
 *     [--connections 10] [--paired-rounds 20] [--skip-http] [--skip-paired]
 */
const { spawn, spawnSync } = require('node:child_process');
const path = require('node:path');

const VARIANTS = {
  untraced: 'no tracing',
  tomograph: '`instrumentKnex(knex)`: a CLIENT span per query (a root span: nothing else traced)',
  otel: '`@opentelemetry/instrumentation-knex` (a root span per query), BatchSpanProcessor, no-op exporter',
  'tomograph-request': 'a tomograph `trace()` span per request, Knex not instrumented',
  'tomograph-request+knex': 'the same, plus `instrumentKnex(knex)`: the query span is its child',
  'otel-request': 'an OpenTelemetry `startActiveSpan()` span per request, Knex not instrumented',
  'otel-request+knex': 'the same, plus `@opentelemetry/instrumentation-knex`',
};

/** The paired in-process blocks: the Knex instrumentation switched on, per tracer. */
const PAIRED = {
  'tomograph span': "`instrumentKnex(knex)` (span per query)",
  'tomograph note': "`instrumentKnex(knex, { mode: 'note' })`",
  'tomograph span+comment': '`instrumentKnex(knex, { comment: true })`',
  opentelemetry: '`@opentelemetry/instrumentation-knex`',
};

if (process.argv[2] === '--serve') serve(process.argv[3]);
else if (process.argv[2] === '--paired') paired(Number(process.argv[3]));
else main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});

/* ---------------------------------------- server ---------------------------------------- */

function serve(variant) {
  const root = path.join(__dirname, '..');
  let tracer;
  let otelTracer;
  if (variant.startsWith('otel')) {
    const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
    const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
    const noopExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: () => Promise.resolve() };
    const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(noopExporter)] });
    provider.register();
    if (variant !== 'otel-request') {
      const { registerInstrumentations } = require('@opentelemetry/instrumentation');
      const { KnexInstrumentation } = require('@opentelemetry/instrumentation-knex');
      registerInstrumentations({ instrumentations: [new KnexInstrumentation()] });
    }
    otelTracer = require('@opentelemetry/api').trace.getTracer('bench');
  }
  const knex = require('knex')({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true, pool: { min: 1, max: 1 } });
  if (variant.startsWith('tomograph')) {
    const { Tracer } = require(path.join(root, 'dist/lib'));
    const { instrumentKnex } = require(path.join(root, 'dist/integrations/knex'));
    tracer = new Tracer({ serviceName: 'bench', exporters: [{ export() {} }] });
    if (variant !== 'tomograph-request') instrumentKnex(knex, { tracer });
  }
  const express = require('express');
  const app = express();
  let n = 0;
  const query = () => knex('items').where({ id: n++ % 100 }).first('id', 'name');
  let handler = async (_req, res) => res.json(await query());
  if (variant.startsWith('tomograph-request')) handler = async (_req, res) => res.json(await tracer.trace('request', query));
  if (variant.startsWith('otel-request')) {
    handler = (_req, res) =>
      otelTracer.startActiveSpan('request', async (span) => {
        try {
          res.json(await query());
        } finally {
          span.end();
        }
      });
  }
  app.get('/item', handler);
  (async () => {
    await knex.schema.createTable('items', (t) => {
      t.integer('id').primary();
      t.string('name');
    });
    await knex('items').insert(Array.from({ length: 100 }, (_, id) => ({ id, name: `item ${id}` })));
    const server = app.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
    // The driver marks the start and the end of the measured load: CPU time used by this
    // process per request is what a shared, noisy machine disturbs least.
    let mark;
    process.on('message', (message) => {
      if (message === 'mark') {
        mark = { cpu: process.cpuUsage(), requests: n };
        process.send({ marked: true });
        return;
      }
      if (message !== 'stop') return;
      const cpu = process.cpuUsage(mark.cpu);
      const stats = tracer === undefined ? undefined : tracer.stats();
      process.send(
        {
          cpuUs: cpu.user + cpu.system,
          requests: n - mark.requests,
          stats: stats && { spansFinished: stats.spansFinished, dropped: stats.spansDropped },
        },
        () => process.exit(0),
      );
    });
  })();
}

/* ---------------------------------------- driver ---------------------------------------- */

const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];

async function main() {
  const args = process.argv.slice(2);
  const opt = (name, fallback) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const pin = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  if (!args.includes('--skip-http')) {
    await http({ rounds: opt('rounds', 7), seconds: opt('seconds', 5), warmup: opt('warmup', 2), connections: opt('connections', 10), pin });
  }
  if (!args.includes('--skip-paired')) {
    const argv = [__filename, '--paired', String(opt('paired-rounds', 20))];
    const out = pin ? spawnSync('taskset', ['-c', '0', process.execPath, ...argv]) : spawnSync(process.execPath, argv);
    if (out.status !== 0) throw new Error(`paired run failed: ${out.stderr}`);
    process.stdout.write(out.stdout);
  }
}

async function http({ rounds, seconds, warmup, connections, pin }) {
  const names = Object.keys(VARIANTS);
  const rps = Object.fromEntries(names.map((name) => [name, []]));
  const cpu = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length]);
    for (const variant of order) {
      const result = await measure(variant, { seconds, warmup, connections, pin });
      rps[variant].push(result.rps);
      cpu[variant].push(result.cpuUsPerRequest);
      process.stderr.write(
        `round ${round + 1}/${rounds} ${variant}: ${result.rps.toFixed(0)} req/s, ${result.cpuUsPerRequest.toFixed(1)} CPU µs/request${result.note}\n`,
      );
    }
  }
  // Differences per round (rounds share the machine's conditions), then their median.
  const over = (variant, base) => median(cpu[variant].map((us, i) => us - cpu[base][i]));
  console.log(
    `knex, HTTP: Express 5 route, one SQLite query (better-sqlite3, pool 1); ${rounds} rounds x ${seconds} s ` +
      `(+${warmup} s warm-up), autocannon -c ${connections}; medians` +
      (pin ? '; server on core 0, load on core 1' : ' (taskset unavailable: not pinned)'),
  );
  console.log('');
  console.log('| variant | server CPU µs/request | + vs untraced | + vs the same tracer without Knex instrumentation | req/s | what |');
  console.log('|---|---|---|---|---|---|');
  for (const name of names) {
    const base = name.endsWith('+knex') ? name.replace('+knex', '') : undefined;
    console.log(
      `| ${name} | ${median(cpu[name]).toFixed(1)} | ${name === 'untraced' ? '—' : over(name, 'untraced').toFixed(1)} | ` +
        `${base === undefined ? '' : over(name, base).toFixed(1)} | ${median(rps[name]).toFixed(0)} | ${VARIANTS[name]} |`,
    );
  }
  const ratio = over('tomograph', 'untraced') / over('otel', 'untraced');
  console.log('');
  console.log(`Knex-only variants: tomograph adds ${(ratio * 100).toFixed(0)}% of what OpenTelemetry adds per request.`);
  console.log('');
}

/* ------------------------------------ paired, in-process ------------------------------------ */

async function paired(rounds) {
  const root = path.join(__dirname, '..');
  const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
  const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
  const { registerInstrumentations } = require('@opentelemetry/instrumentation');
  const { KnexInstrumentation } = require('@opentelemetry/instrumentation-knex');
  const noopExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: () => Promise.resolve() };
  const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(noopExporter)] });
  provider.register();
  const otelKnex = new KnexInstrumentation();
  registerInstrumentations({ instrumentations: [otelKnex] });
  otelKnex.disable();
  const otelTracer = require('@opentelemetry/api').trace.getTracer('bench');
  const { Tracer } = require(path.join(root, 'dist/lib'));
  const { instrumentKnex } = require(path.join(root, 'dist/integrations/knex'));
  const tracer = new Tracer({ serviceName: 'bench', exporters: [{ export() {} }] });
  const knex = require('knex')({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true, pool: { min: 1, max: 1 } });
  let n = 0;
  const query = () => knex('items').where({ id: n++ % 100 }).first('id', 'name');
  const tomographRequest = () => tracer.trace('request', query);
  const otelRequest = () =>
    otelTracer.startActiveSpan('request', async (span) => {
      try {
        return await query();
      } finally {
        span.end();
      }
    });
  let detach = () => undefined;
  const tomograph = (options) => ({ on: () => (detach = instrumentKnex(knex, { tracer, ...options })), off: () => detach(), run: tomographRequest });
  const variants = {
    'tomograph span': tomograph({}),
    'tomograph note': tomograph({ mode: 'note' }),
    'tomograph span+comment': tomograph({ comment: true }),
    opentelemetry: { on: () => otelKnex.enable(), off: () => otelKnex.disable(), run: otelRequest },
  };
  const PER_BLOCK = 5000;
  const block = async (run) => {
    const start = process.cpuUsage();
    for (let i = 0; i < PER_BLOCK; i++) await run();
    const used = process.cpuUsage(start);
    return (used.user + used.system) / PER_BLOCK;
  };
  // One pair: the same requests with the instrumentation off, then on (or on, then off).
  const pair = async (variant, onFirst) => {
    const results = {};
    for (const state of onFirst ? ['on', 'off'] : ['off', 'on']) {
      if (state === 'on') variant.on();
      results[state] = await block(variant.run);
      if (state === 'on') variant.off();
    }
    return results;
  };
  await knex.schema.createTable('items', (t) => {
    t.integer('id').primary();
    t.string('name');
  });
  await knex('items').insert(Array.from({ length: 100 }, (_, id) => ({ id, name: `item ${id}` })));
  const names = Object.keys(variants);
  for (const name of names) await pair(variants[name], false); // warm-up
  const on = Object.fromEntries(names.map((name) => [name, []]));
  const off = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length];
      const result = await pair(variants[name], round % 2 === 1);
      on[name].push(result.on);
      off[name].push(result.off);
    }
  }
  await knex.destroy();
  const cost = (name) => median(on[name].map((us, i) => us - off[name][i]));
  const otel = cost('opentelemetry');
  console.log(
    `knex, in-process paired: ${rounds} rounds; per variant and round, ${PER_BLOCK} requests with the Knex ` +
      `instrumentation off and ${PER_BLOCK} with it on (order alternating); one SQLite query per request inside ` +
      `the tracer's own request span; CPU µs; medians of the differences`,
  );
  console.log('');
  console.log('| Knex instrumentation | CPU µs per request, off → on | its cost per query, µs | vs OpenTelemetry\'s |');
  console.log('|---|---|---|---|');
  for (const [name, what] of Object.entries(PAIRED)) {
    const c = cost(name);
    const ratio = name === 'opentelemetry' ? '' : `${((c / otel) * 100).toFixed(0)}%`;
    console.log(`| ${what} | ${median(off[name]).toFixed(2)} → ${median(on[name]).toFixed(2)} | ${c.toFixed(2)} | ${ratio} |`);
  }
}

function measure(variant, { seconds, warmup, connections, pin }) {
  return new Promise((resolve, reject) => {
    const serverArgs = [__filename, '--serve', variant];
    const server = pin
      ? spawn('taskset', ['-c', '0', process.execPath, ...serverArgs], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
      : spawn(process.execPath, serverArgs, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    let port = '';
    server.on('error', reject);
    server.stdout.on('data', async (chunk) => {
      port += chunk.toString();
      if (!port.endsWith('\n')) return;
      const url = `http://127.0.0.1:${port.trim()}/item`;
      try {
        if (warmup > 0) load(url, warmup, connections, pin);
        await ask(server, 'mark');
        const result = load(url, seconds, connections, pin);
        const { cpuUs, requests, stats } = await ask(server, 'stop');
        const note = stats === undefined ? '' : ` (spans finished ${stats.spansFinished}, queue-full drops ${stats.dropped.queueFull})`;
        resolve({ rps: result.requests.average, cpuUsPerRequest: cpuUs / requests, note });
      } catch (error) {
        server.kill();
        reject(error);
      }
    });
  });
}

function ask(child, message) {
  return new Promise((resolve) => {
    child.once('message', resolve);
    child.send(message);
  });
}

function load(url, seconds, connections, pin) {
  const cli = require.resolve('autocannon/autocannon.js');
  const argv = [cli, '-c', String(connections), '-d', String(seconds), '-j', url];
  const out = pin ? spawnSync('taskset', ['-c', '1', process.execPath, ...argv]) : spawnSync(process.execPath, argv);
  if (out.status !== 0) throw new Error(`autocannon failed: ${out.stderr}`);
  const result = JSON.parse(out.stdout.toString());
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`autocannon saw ${result.non2xx} non-2xx and ${result.errors} errors`);
  return result;
}
