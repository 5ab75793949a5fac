'use strict';
/**
 * Instructions per Knex query, counted by callgrind: the fast instrument for the Knex
 * integration's own cost (what `bench/instructions.js --routes knex` shows through Express, in a
 * script that takes a minute or two instead of a quarter of an hour).
 *
 *   npm run build && node bench/knex-instructions.js [--variants untraced,request,knex]
 *     [--queries 2000] [--warmup 8000] [--keep dir] [--node-flags '--perf-basic-prof']
 *
 * Each variant runs under `valgrind --tool=callgrind node --single-threaded`: `--warmup` queries
 * (V8 is still compiling the query's code up to ~6000: `--trace-opt` counts 113 optimizations by
 * 4000, 126 by 8000, 128 by 12000), then the counters are zeroed (`callgrind_control -z`), `--queries`
 * more run and are dumped and divided, split as `bench/instructions.js` splits them. A query is
 * the `/knex` route's: `knex('items').where({ id }).first('id', 'name')` on an in-memory SQLite
 * table (better-sqlite3, pool of 1), awaited one at a time.
 *   untraced  no tracer
 *   request   each query inside `tracer.trace('request', …)` (a span per query, as the request's
 *             span would be), exporter that drops; Knex not instrumented
 *   knex      the same, plus `instrumentKnex(knex, { tracer })`: the query's own CLIENT span
 *   knex-encode  as knex, the exporter Zipkin-encodes each batch and drops it
 * `knex - request` is what the integration adds per query; `request - untraced` what the tracer
 * (a span and AsyncLocalStorage) adds around Knex.
 * With `--keep dir` the dumps stay there (and V8's perf map beside them with
 * `--node-flags --perf-basic-prof`) for `node bench/callgrind-js.js <dump> [base] --per N`.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { callgrindControl } = require('./_util');
const { countInstructions } = require('./_callgrind-count');

const args = process.argv.slice(2);
function opt(name, fallback) {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : args[i + 1];
}

if (process.env.KNEX_INSTRUCTIONS_CHILD === '1') {
  child().catch((error) => {
    console.error(error);
    process.exit(1);
  });
} else {
  driver().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}

async function driver() {
  const variants = opt('variants', 'untraced,request,knex').split(',');
  const queries = Number(opt('queries', 2000));
  const warmup = Number(opt('warmup', 8000));
  const keep = opt('keep', undefined);
  const nodeFlags = (opt('node-flags', '') || '').split(' ').filter(Boolean);
  const dir = keep ? (fs.mkdirSync(keep, { recursive: true }), path.resolve(keep)) : fs.mkdtempSync(path.join(os.tmpdir(), 'knex-cg-'));
  console.log(
    `knex-instructions: node ${process.version} --single-threaded, ${warmup} queries of warm-up, ${queries} counted; ` +
      'k instructions per query: all, without mark-compact GC, without any GC or compiler ("code")',
  );
  for (const variant of variants) {
    const out = path.join(dir, `callgrind.knex.${variant}`);
    const proc = spawn('valgrind', [
      '-q', '--tool=callgrind', `--callgrind-out-file=${out}`, '--dump-instr=no',
      process.execPath, '--single-threaded', ...nodeFlags, __filename,
    ], {
      env: { ...process.env, KNEX_INSTRUCTIONS_CHILD: '1', VARIANT: variant, QUERIES: String(queries), WARMUP: String(warmup) },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = readline.createInterface({ input: proc.stdout });
    const next = () => new Promise((resolve, reject) => {
      lines.once('line', resolve);
      proc.once('exit', (code) => reject(new Error(`${variant}: child exited (${code})`)));
    });
    await next(); // warmed up
    await callgrindControl('-z', proc.pid);
    proc.stdin.write('go\n');
    await next(); // counted queries done
    await callgrindControl('-d', proc.pid);
    proc.stdin.end();
    await new Promise((resolve) => proc.once('exit', resolve));
    const dumps = fs.readdirSync(dir).filter((f) => f.startsWith(`callgrind.knex.${variant}.`) && !f.endsWith('.map'));
    if (dumps.length !== 1) throw new Error(`expected one dump for ${variant}, found ${dumps.join(', ')}`);
    const dump = path.join(dir, dumps[0]);
    const c = countInstructions(dump);
    const per = (n) => (n / queries / 1000).toFixed(1).padStart(7);
    console.log(
      `${variant.padEnd(12)} all ${per(c.total)} k   without mark-compact ${per(c.total - c.majorGc)} k   ` +
        `code ${per(c.total - c.majorGc - c.minorGc - c.compiler)} k   (compiler ${per(c.compiler).trim()} k, other GC ${per(c.minorGc).trim()} k)`,
    );
    // V8's map of its JIT code (--perf-basic-prof), beside the dump, for bench/callgrind-js.js.
    const map = `/tmp/perf-${proc.pid}.map`;
    if (fs.existsSync(map)) keep ? fs.renameSync(map, `${dump}.perf.map`) : fs.rmSync(map);
    fs.rmSync(out, { force: true });
    if (!keep) fs.rmSync(dump, { force: true });
  }
  if (!keep) fs.rmSync(dir, { recursive: true, force: true });
}

async function child() {
  const variant = process.env.VARIANT;
  const queries = Number(process.env.QUERIES);
  const warmup = Number(process.env.WARMUP);
  const dist = process.env.TOMOGRAPH_DIST || path.join(__dirname, '..', 'dist');
  const knex = require('knex')({
    client: 'better-sqlite3',
    connection: { filename: ':memory:' },
    useNullAsDefault: true,
    pool: { min: 1, max: 1 },
  });
  await knex.schema.createTable('items', (t) => {
    t.integer('id').primary();
    t.string('name');
  });
  await knex('items').insert(Array.from({ length: 100 }, (_, id) => ({ id, name: `item ${id}` })));

  let run = (i) => knex('items').where({ id: i % 100 }).first('id', 'name');
  let tracer;
  if (variant !== 'untraced') {
    const { Tracer } = require(path.join(dist, 'lib'));
    let exporter = { export() {} };
    if (variant === 'knex-encode') {
      const { encodeZipkinBodies } = require(path.join(dist, 'exporters/zipkin'));
      exporter = { export: (spans) => void encodeZipkinBodies(spans) };
    }
    // Batches leave full (512), as at load; the delay never fires inside the run.
    tracer = new Tracer({ serviceName: 'bench-knex', exporters: [exporter], scheduledDelayMs: 600000 });
    if (variant.startsWith('knex')) require(path.join(dist, 'integrations/knex')).instrumentKnex(knex, { tracer });
    const query = run;
    run = (i) => tracer.trace('request', () => query(i));
  }
  let sink = 0;
  for (let i = 0; i < warmup; i++) sink += (await run(i)).id;
  const lines = readline.createInterface({ input: process.stdin });
  // Stdin closed (run by hand, `< /dev/null`) counts as the go-ahead too.
  let closed = false;
  lines.once('close', () => (closed = true));
  const line = () => new Promise((resolve) => (closed ? resolve() : (lines.once('line', resolve), lines.once('close', resolve))));
  console.log('ready');
  await line();
  for (let i = warmup; i < warmup + queries; i++) sink += (await run(i)).id;
  console.log(`done ${sink}`);
  await line();
  if (tracer) await tracer.shutdown();
  await knex.destroy();
}
