'use strict';
/**
 * Names the JIT code in a callgrind dump of Node, and sums instructions by function and by source
 * file: what `callgrind_annotate` cannot do, since V8's code has no symbols (it shows `0x...`).
 *
 *   node bench/instructions.js --variants untraced,tomograph --routes hello --keep /tmp/cg \
 *     --node-flags '--perf-basic-prof'
 *   node bench/callgrind-js.js /tmp/cg/callgrind.tomograph.e5.hello.r0.1 [base-dump] \
 *     [--per 4096] [--top 40] [--files]
 *
 * With `--perf-basic-prof` V8 writes `/tmp/perf-<pid>.map` (start, size, name of each code
 * object), and `bench/instructions.js --keep` copies it beside the dump as `<dump>.perf.map`.
 * Each function's own cost (self, not inclusive) per request (`--per`, default 4096) is printed,
 * biggest first; with a second dump, the difference (first minus second), so
 * `tomograph-dump untraced-dump` lists what tracing adds. `--files` sums by source file instead
 * (our `dist/` files, express, router, undici, node internals...). Optimized code holds the
 * functions V8 inlined into it, so a cost lands on the outermost optimized function.
 */
const fs = require('node:fs');
const { stringOption } = require('./_util');

const args = process.argv.slice(2);
const opt = (name, fallback) => stringOption(name, fallback, args);
const per = Number(opt('per', 4096));
const top = Number(opt('top', 40));
const byFile = args.includes('--files');
/** `--callers NAME`: who calls the functions whose name contains NAME, and at what inclusive cost. */
const callersOf = opt('callers', undefined);
const dumps = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--') && args[i - 1] !== '--files'));
const callerCosts = new Map();

const costs = dumps.map((d) => selfCosts(d, readPerfMap(`${d}.perf.map`)));
const keys = new Set(costs.flatMap((c) => [...c.keys()]));
const rows = [...keys].map((k) => ({ k, a: costs[0].get(k) ?? 0, b: costs[1]?.get(k) ?? 0 }));
rows.sort((x, y) => Math.abs(y.a - y.b) - Math.abs(x.a - x.b));
const total = (c) => [...c.values()].reduce((s, v) => s + v, 0);
console.log(
  `k instructions/request (${per} requests): ${(total(costs[0]) / per / 1000).toFixed(1)}` +
    (costs[1] ? ` vs ${(total(costs[1]) / per / 1000).toFixed(1)}` : ''),
);
for (const { k, a, b } of rows.slice(0, top)) {
  const v = costs[1] ? `${((a - b) / per / 1000).toFixed(2).padStart(8)} (${(a / per / 1000).toFixed(2)} - ${(b / per / 1000).toFixed(2)})` : (a / per / 1000).toFixed(2).padStart(8);
  console.log(`${v}  ${k}`);
}

if (callersOf !== undefined) {
  console.log(`\ncalls into *${callersOf}*, inclusive, by caller (k instructions/request):`);
  for (const [k, v] of [...callerCosts].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(v / per / 1000).toFixed(2).padStart(8)}  ${k}`);
}

/** Self cost per function name (or per file with --files), JIT addresses resolved through `map`. */
function selfCosts(file, map) {
  const text = fs.readFileSync(file, 'utf8');
  const names = new Map();
  const objects = new Map();
  const out = new Map();
  let key = '';
  let object = '';
  let afterCalls = false;
  let callee = '';
  let pendingCaller;
  for (const line of text.split('\n')) {
    const c = line.charCodeAt(0);
    if ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 42) {
      if (afterCalls) {
        afterCalls = false;
        if (pendingCaller !== undefined) {
          const cost = Number(line.slice(line.indexOf(' ') + 1));
          callerCosts.set(pendingCaller, (callerCosts.get(pendingCaller) ?? 0) + cost);
          pendingCaller = undefined;
        }
        continue;
      }
      const cost = Number(line.slice(line.indexOf(' ') + 1));
      out.set(key, (out.get(key) ?? 0) + cost);
    } else if (line.startsWith('ob=')) {
      const m = /^ob=\((\d+)\)(?: (.*))?$/.exec(line);
      if (m[2] !== undefined) objects.set(m[1], m[2]);
      object = objects.get(m[1]) ?? '';
    } else if (line.startsWith('cob=')) {
      const m = /^cob=\((\d+)\)(?: (.*))?$/.exec(line);
      if (m[2] !== undefined) objects.set(m[1], m[2]);
    } else if (line.startsWith('fn=')) {
      const m = /^fn=\((\d+)\)(?: (.*))?$/.exec(line);
      if (m[2] !== undefined) names.set(m[1], m[2]);
      key = label(names.get(m[1]) ?? '', object, map);
    } else if (line.startsWith('cfn=')) {
      const m = /^cfn=\((\d+)\)(?: (.*))?$/.exec(line);
      if (m[2] !== undefined) names.set(m[1], m[2]);
      callee = (names.get(m[1]) ?? '').replace(/'\d+$/, '');
    } else if (line.startsWith('calls=')) {
      afterCalls = true;
      if (callersOf !== undefined && callee.includes(callersOf) && file === dumps[0]) pendingCaller = `${key}  ->  ${callee}`;
    }
  }
  return out;
}

function label(fn, object, map) {
  const name = fn.replace(/'\d+$/, '');
  let resolved;
  const m = /^0x([0-9a-f]+)$/.exec(name);
  if (m && map.length > 0) resolved = lookup(map, parseInt(m[1], 16));
  if (resolved === undefined) {
    if (m) return byFile ? 'JIT code, unnamed' : `JIT ${name}`;
    if (!byFile) return name;
    if (name.startsWith('Builtins_')) return 'V8 builtins';
    if (/v8::internal::compiler::/.test(name)) return 'V8 optimizing compiler';
    if (/Scaveng|MarkCompact|Marking|Sweeper|Evacuat|Heap::/.test(name)) return 'V8 GC';
    if (/^v8::/.test(name)) return 'V8 runtime';
    if (/libc|ld-linux|libstdc/.test(object)) return 'libc/libstdc++';
    return 'node/libuv/llhttp C++';
  }
  if (!byFile) return resolved;
  // "JS:*name /path/file.js:line:col" or "Builtin:..." etc.
  const file = /\s(\/\S+?|node:\S+?)(?::\d+:\d+)?$/.exec(resolved);
  if (!file) return resolved.split(':')[0] + ' (other JIT)';
  return sourceGroup(file[1]);
}

function sourceGroup(file) {
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (nm) return `npm ${nm[1]}`;
  if (file.startsWith('node:')) return `node ${file.slice(5).split('/')[0]}`;
  const dist = /\/(?:dist|dist-[^/]+)\/(.*)$/.exec(file);
  if (dist) return `tomograph ${dist[1]}`;
  return file;
}

/** `/tmp/perf-<pid>.map` lines: `start size name`, as sorted arrays for binary search. */
function readPerfMap(file) {
  if (!fs.existsSync(file)) return [];
  const entries = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
    if (m) entries.push({ start: parseInt(m[1], 16), end: parseInt(m[1], 16) + parseInt(m[2], 16), name: m[3] });
  }
  entries.sort((a, b) => a.start - b.start);
  return entries;
}

function lookup(map, address) {
  let lo = 0;
  let hi = map.length - 1;
  let found;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (map[mid].start <= address) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  // A later code object at the same address replaces an earlier (freed) one: the last one wins.
  if (found === undefined || address >= map[found].end) return undefined;
  return map[found].name;
}
