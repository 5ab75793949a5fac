'use strict';
/**
 * Main-thread instructions per exported Zipkin span, by piece, under callgrind: the loop of
 * `_zipkin-encode-run.js` (node --single-threaded) at N and 2N counted batches of 512 spans
 * after the same warm-up; per span = (I(2N) - I(N)) / (N × 512), so start-up, span making and
 * warm-up cancel; a full GC just before the counted batches, so a mark-compact is less likely
 * to fall in one window and not the other. The first figure leaves out V8's GC and optimizing
 * compiler (as bench/instructions.js's "code" count), the second is everything. Modes:
 *   encode  encodeZipkinSpan per span (the JSON strings, not written anywhere)
 *   body    encodeZipkinBodies (the strings written into the POST body's Buffer)
 *   post    ZipkinExporter.export to a local sink (_http-sink.js, its own process, not counted), awaited
 *
 *   npm run build && node bench/zipkin-encode-instructions.js [--modes encode,body,post] [--batches 20]
 *     [--warmup 40] [--keep DIR]   (--keep: dumps and perf maps for bench/callgrind-js.js)
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { numberOption, stringOption, startZipkinSink } = require('./_util');
const { countInstructions } = require('./_callgrind-count');

const modes = stringOption('modes', 'encode,body,post').split(',');
const n = numberOption('batches', 20);
const warmup = numberOption('warmup', 40);
const keep = stringOption('keep', undefined);
const BATCH = 512;

function count(mode, batches, env) {
  const dir = keep ?? fs.mkdtempSync(path.join(os.tmpdir(), 'zipkin-cg-'));
  if (keep) fs.mkdirSync(keep, { recursive: true });
  const out = path.join(dir, `callgrind.${mode}.${batches}`);
  const nodeFlags = ['--single-threaded', '--expose-gc', ...(keep ? ['--perf-basic-prof'] : [])];
  const args = ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, ...nodeFlags, path.join(__dirname, '_zipkin-encode-run.js')];
  return new Promise((resolve, reject) => {
    const child = spawn('valgrind', args, { env: { ...process.env, ...env, MODE: mode, BATCHES: String(batches), WARMUP: String(warmup) }, stdio: ['ignore', 'inherit', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`valgrind ${mode} ${batches} failed (${code}): ${err.slice(-2000)}`));
      const counted = countInstructions(out);
      if (keep) {
        const map = `/tmp/perf-${child.pid}.map`;
        // valgrind execs node in the same process, so the pid is the child's.
        if (fs.existsSync(map)) fs.copyFileSync(map, `${out}.perf.map`);
      } else fs.rmSync(dir, { recursive: true, force: true });
      resolve({ total: counted.total, code: counted.total - counted.majorGc - counted.minorGc - counted.compiler });
    });
  });
}

(async () => {
  let sink;
  const env = {};
  if (modes.includes('post')) {
    sink = await startZipkinSink();
    env.ZIPKIN_URL = `http://127.0.0.1:${sink.port}/api/v2/spans`;
  }
  console.log(`node ${process.version}; batches of ${BATCH}; warm-up ${warmup}; N = ${n}, 2N = ${2 * n}`);
  for (const mode of modes) {
    const [a, b] = await Promise.all([count(mode, n, env), count(mode, 2 * n, env)]);
    const per = (key) => ((b[key] - a[key]) / (n * BATCH) / 1000).toFixed(2);
    console.log(`${mode.padEnd(7)} ${per('code')} k instructions/span without GC or compiler, ${per('total')} k in all   (N: ${a.total}, 2N: ${b.total})`);
  }
  if (sink) sink.child.kill();
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
