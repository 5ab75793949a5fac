'use strict';
/**
 * Which percentile structure the metrics registry uses (issue 10): candidates compared on
 * accuracy, bytes per histogram, ns per record and merge cost, in one process.
 *
 *   node --expose-gc bench/metrics-sketches.js [--values 200000] [--rounds 7] [--instructions]
 *
 * `--instructions` adds callgrind instruction counts per record (needs valgrind; slow).
 *
 * Candidates (all mergeable, all with a relative-error bound):
 *  - cubic log (tomograph): lib/metrics/log-sketch.ts, α = 0.99%, DDSketch's cubically
 *    interpolated mapping (log2 from the double's exponent plus a cubic in its mantissa); dense
 *    Uint16 counts over the buckets in use (grown by quarters); also keeps mean/M2 (the others
 *    do not). The in-bench candidates below keep 32-bit counts grown by doubling.
 *  - log, Math.log: DDSketch's logarithmic mapping, index = ceil(ln v / ln γ), same γ and storage.
 *  - exp2 scale 6: OpenTelemetry's base-2 exponential histogram (Prometheus native histograms'
 *    schema 6): base 2^(1/64), the coarsest scale within 1% (scale 5 is 1.08%); same storage.
 *  - log-linear bits: 64 linear sub-buckets per power of two, the index read straight from the
 *    float's exponent and top 6 mantissa bits (HDR's layout on doubles); same storage.
 *  - hdr-histogram-js 3: 2 significant digits over integer units of 1e-5 (so 1e-3 is 100 units
 *    and 1e9 is 1e14: the range and 1% at its low end), 32-bit and packed counts.
 *  - @datadog/sketches-js 2: DDSketch, relativeAccuracy 0.01.
 *
 * Accuracy: the largest relative error of p1..p99.9 against the exact nearest-rank quantile of
 * the same values (0-based rank ceil(q*n)-1), the definition tomograph reports. Needs `npm run build` first (it loads dist/).
 */
const path = require('node:path');
const { median, numberOption, rotate } = require('./_util');

const { LogSketch } = require(path.join(__dirname, '..', 'dist', 'lib', 'metrics', 'log-sketch.js'));
const hdr = require('hdr-histogram-js');
const { DDSketch } = require('@datadog/sketches-js');

const N = numberOption('values', 200_000);
const ROUNDS = numberOption('rounds', 7);

// ---- the two in-bench candidates share LogSketch's dense storage, so only the mapping differs.
// Each class is compiled from its own source text, so V8 inlines its mapping into its own add()
// (closures from one factory would share feedback and leave the mapping call polymorphic).
function bucketSketchClass(indexBody, lowerBody) {
  const source = `
    const f64 = new Float64Array(1);
    const u32 = new Uint32Array(f64.buffer);
    function index(v) { ${indexBody} }
    function lower(i) { ${lowerBody} }
    return class BucketSketch {
      constructor() {
        this.counts = new Uint32Array(0);
        this.offset = 0;
        this.zero = 0;
        this.n = 0;
        this.min = Infinity;
        this.max = -Infinity;
      }
      add(v) {
        this.n++;
        if (v < this.min) this.min = v;
        if (v > this.max) this.max = v;
        if (v === 0) {
          this.zero++;
          return;
        }
        const slot = index(v) - this.offset;
        if (slot >= 0 && slot < this.counts.length) this.counts[slot]++;
        else this.grow(index(v), 1);
      }
      grow(i, c) {
        const old = this.counts;
        if (old.length === 0) {
          this.counts = new Uint32Array(64);
          this.offset = i - 32;
        } else {
          const low = Math.min(this.offset, i);
          const high = Math.max(this.offset + old.length - 1, i);
          const length = Math.max(high - low + 1, old.length * 2);
          const offset = i < this.offset ? high - length + 1 : low;
          const grown = new Uint32Array(length);
          grown.set(old, this.offset - offset);
          this.counts = grown;
          this.offset = offset;
        }
        this.counts[i - this.offset] += c;
      }
      merge(other) {
        this.n += other.n;
        this.zero += other.zero;
        this.min = Math.min(this.min, other.min);
        this.max = Math.max(this.max, other.max);
        for (let j = 0; j < other.counts.length; j++) {
          const c = other.counts[j];
          if (c === 0) continue;
          const i = other.offset + j;
          const slot = i - this.offset;
          if (slot >= 0 && slot < this.counts.length) this.counts[slot] += c;
          else this.grow(i, c);
        }
      }
      quantile(q) {
        const rank = Math.max(0, Math.ceil(q * this.n - 1e-9) - 1);
        let seen = this.zero;
        if (rank < seen) return 0;
        for (let j = 0; j < this.counts.length; j++) {
          seen += this.counts[j];
          if (rank < seen) {
            const l = lower(this.offset + j);
            const u = lower(this.offset + j + 1);
            const v = (2 * l * u) / (l + u); // the point within (u-l)/(u+l) of both ends
            return Math.min(this.max, Math.max(this.min, v));
          }
        }
        return this.max;
      }
    };`;
  return new Function(source)();
}

// DDSketch's logarithmic mapping with Math.log, γ as tomograph's: bucket i is (γ^(i-1), γ^i].
const LN_GAMMA = Math.log((1 + 0.0099) / (1 - 0.0099));
const LogSketchMathLog = bucketSketchClass(
  `return Math.ceil(Math.log(v) / ${LN_GAMMA});`,
  `return Math.exp((i - 1) * ${LN_GAMMA});`,
);
// OpenTelemetry's LogarithmMapping at scale 6: bucket i is (2^(i/64), 2^((i+1)/64)].
const Exp2Sketch = bucketSketchClass(
  'return Math.ceil(Math.log(v) * 92.33248261689366) - 1;', // 64 / ln 2
  'return Math.pow(2, i / 64);',
);
// 11 exponent bits and the top 6 mantissa bits of the double, read from its high word.
const LogLinearSketch = bucketSketchClass(
  'f64[0] = v; return u32[1] >>> 14;',
  'u32[1] = i << 14; u32[0] = 0; return f64[0];',
);

// ---- every candidate behind one face: make(), add(s, v), merge(a, b), quantile(s, q).
const HDR_UNIT = 1e5;
const candidates = {
  'cubic log (tomograph)': {
    make: () => new LogSketch(),
    add: (s, v) => s.add(v),
    merge: (a, b) => a.merge(b),
    quantile: (s, q) => {
      const out = [0];
      s.quantiles([q], out);
      return out[0];
    },
  },
  'log, Math.log': {
    make: () => new LogSketchMathLog(),
    add: (s, v) => s.add(v),
    merge: (a, b) => a.merge(b),
    quantile: (s, q) => s.quantile(q),
  },
  'exp2 scale 6': {
    make: () => new Exp2Sketch(),
    add: (s, v) => s.add(v),
    merge: (a, b) => a.merge(b),
    quantile: (s, q) => s.quantile(q),
  },
  'log-linear bits': {
    make: () => new LogLinearSketch(),
    add: (s, v) => s.add(v),
    merge: (a, b) => a.merge(b),
    quantile: (s, q) => s.quantile(q),
  },
  'hdr-histogram-js (32-bit)': hdrCandidate(32),
  'hdr-histogram-js (packed)': hdrCandidate('packed'),
  '@datadog/sketches-js': {
    make: () => new DDSketch({ relativeAccuracy: 0.01 }),
    add: (s, v) => s.accept(v),
    merge: (a, b) => a.merge(b),
    quantile: (s, q) => s.getValueAtQuantile(q),
  },
};

function hdrCandidate(bitBucketSize) {
  return {
    make: () =>
      hdr.build({
        lowestDiscernibleValue: 1,
        highestTrackableValue: 1e14,
        numberOfSignificantValueDigits: 2,
        bitBucketSize,
        useWebAssembly: false,
      }),
    add: (s, v) => s.recordValue(Math.round(v * HDR_UNIT)),
    merge: (a, b) => a.add(b),
    quantile: (s, q) => s.getValueAtPercentile(q * 100) / HDR_UNIT,
  };
}

// ---- distributions (seeded, so every run sees the same values)
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function normal(rand) {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}
const distributions = {
  // Request latencies in ms: lognormal around 20 ms, a long tail (about 4 decades in use).
  'latency ms (lognormal)': (rand) => Math.exp(Math.log(20) + 1.2 * normal(rand)),
  // The whole contract range, log-uniform 1e-3..1e9: the worst case for bucket count.
  'log-uniform 1e-3..1e9': (rand) => Math.pow(10, -3 + 12 * rand()),
  // Sizes in bytes: Pareto, alpha 1.2, from 100.
  'sizes (pareto)': (rand) => 100 / Math.pow(1 - rand(), 1 / 1.2),
};
function values(name, n, seed) {
  const rand = random(seed);
  const make = distributions[name];
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = make(rand);
  return out;
}

const QUANTILES = [];
for (let q = 0.01; q < 0.995; q += 0.01) QUANTILES.push(Number(q.toFixed(2)));
QUANTILES.push(0.995, 0.999);

function maxRelativeError(candidate, data) {
  const sketch = candidate.make();
  for (let i = 0; i < data.length; i++) candidate.add(sketch, data[i]);
  const sorted = Float64Array.from(data).sort();
  let worst = 0;
  for (const q of QUANTILES) {
    const exact = sorted[Math.max(0, Math.ceil(q * sorted.length - 1e-9) - 1)];
    const got = candidate.quantile(sketch, q);
    worst = Math.max(worst, Math.abs(got - exact) / exact);
  }
  return worst;
}

function gcHeap() {
  global.gc();
  global.gc();
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
}

function bytesPerSketch(candidate, data, count) {
  const keep = [];
  const before = gcHeap();
  for (let k = 0; k < count; k++) {
    const sketch = candidate.make();
    for (let i = 0; i < data.length; i++) candidate.add(sketch, data[i]);
    keep.push(sketch);
  }
  const after = gcHeap();
  if (keep.length !== count) throw new Error('unreachable');
  return (after - before) / count;
}

function nsPerRecord(candidate, data) {
  const sketch = candidate.make();
  const start = process.hrtime.bigint();
  for (let i = 0; i < data.length; i++) candidate.add(sketch, data[i]);
  return Number(process.hrtime.bigint() - start) / data.length;
}

function usPerMerge(candidate, a, b, times) {
  const sa = candidate.make();
  const sb = candidate.make();
  for (let i = 0; i < a.length; i++) candidate.add(sa, a[i]);
  for (let i = 0; i < b.length; i++) candidate.add(sb, b[i]);
  const targets = [];
  for (let t = 0; t < times; t++) {
    const target = candidate.make();
    candidate.merge(target, sa);
    targets.push(target);
  }
  const start = process.hrtime.bigint();
  for (const target of targets) candidate.merge(target, sb);
  return Number(process.hrtime.bigint() - start) / times / 1000;
}

/** `--record-only NAME --count N`: records N latencies into one sketch, for callgrind to count. */
function recordOnly(name, count) {
  const candidate = candidates[name];
  const data = values('latency ms (lognormal)', 4096, 17);
  const sketch = candidate.make();
  for (let i = 0; i < count; i++) candidate.add(sketch, data[i & 4095]);
}

/**
 * Instructions per record under callgrind: two runs of N and 3N records, the difference over 2N,
 * so start-up and JIT cost cancel. Repeatable to ~0.1% where wall-clock time on this shared
 * machine is not.
 */
function instructionsPerRecord(name, n) {
  const { spawnSync } = require('node:child_process');
  const counts = [n, 3 * n].map((count) => {
    const run = spawnSync('valgrind', [
      '--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, '--single-threaded', __filename,
      '--record-only', name, '--count', String(count),
    ], { encoding: 'utf8' });
    const match = /Collected : (\d+)/.exec(run.stderr);
    if (match === null) throw new Error(`callgrind failed: ${run.stderr.slice(-500)}`);
    return Number(match[1]);
  });
  return (counts[1] - counts[0]) / (2 * n);
}

function main() {
  const only = process.argv.indexOf('--record-only');
  if (only >= 0) {
    recordOnly(process.argv[only + 1], numberOption('count', 1e6));
    return;
  }
  if (typeof global.gc !== 'function') {
    // bench/run.js starts us without flags: start again with the GC exposed.
    const { spawnSync } = require('node:child_process');
    const rerun = spawnSync(process.execPath, ['--expose-gc', __filename, ...process.argv.slice(2)], { stdio: 'inherit' });
    process.exitCode = rerun.status ?? 1;
    return;
  }
  const names = Object.keys(candidates);
  const dists = Object.keys(distributions);
  const data = Object.fromEntries(dists.map((d, i) => [d, values(d, N, 17 + i)]));
  const other = Object.fromEntries(dists.map((d, i) => [d, values(d, N, 101 + i)]));

  console.log(`### Accuracy: largest relative error over p1..p99 step 1, p99.5, p99.9 (${N} values)\n`);
  console.log(`| structure | ${dists.join(' | ')} |`);
  console.log(`|---|${dists.map(() => '---:').join('|')}|`);
  for (const name of names) {
    const cells = dists.map((d) => `${(maxRelativeError(candidates[name], data[d]) * 100).toFixed(3)}%`);
    console.log(`| ${name} | ${cells.join(' | ')} |`);
  }

  const memCount = 200;
  const memValues = 20_000;
  console.log(`\n### Bytes per histogram (retained heap + array buffers, ${memCount} sketches of ${memValues} values each)\n`);
  console.log(`| structure | ${dists.join(' | ')} |`);
  console.log(`|---|${dists.map(() => '---:').join('|')}|`);
  for (const name of names) {
    const cells = dists.map((d) => Math.round(bytesPerSketch(candidates[name], data[d].subarray(0, memValues), memCount)));
    console.log(`| ${name} | ${cells.join(' | ')} |`);
  }

  const timing = Object.fromEntries(names.map((n) => [n, { record: [], merge: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of rotate(names, round)) {
      timing[name].record.push(nsPerRecord(candidates[name], data['latency ms (lognormal)']));
      timing[name].record.push(nsPerRecord(candidates[name], data['log-uniform 1e-3..1e9']));
      timing[name].merge.push(usPerMerge(candidates[name], data['latency ms (lognormal)'], other['latency ms (lognormal)'], 200));
    }
  }
  console.log(`\n### Speed (medians of ${ROUNDS} rotating rounds; record: ${N} values of the first two distributions into one sketch; merge: two sketches of ${N} latencies)\n`);
  const instructions = process.argv.includes('--instructions');
  console.log(`| structure | ns per record | µs per merge |${instructions ? ' instructions per record (callgrind) |' : ''}`);
  console.log(`|---|---:|---:|${instructions ? '---:|' : ''}`);
  for (const name of names) {
    const extra = instructions ? ` ${instructionsPerRecord(name, 1_000_000).toFixed(1)} |` : '';
    console.log(`| ${name} | ${median(timing[name].record).toFixed(1)} | ${median(timing[name].merge).toFixed(1)} |${extra}`);
  }
}

main();
