'use strict';
/**
 * AsyncLocalStorage against cls-hooked (issue 2): the reason for the default store. Each flow is
 * a traced async function awaiting five times (promise, timer, immediate, promise, promise) and
 * checking that its span is still current. Measures time per flow and the heap left behind
 * after GC (cls-hooked keeps a context per async resource in a map until it is destroyed).
 *
 *   node --expose-gc bench/context-stores.js [--flows 20000] [--rounds 5]
 */
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { hasTaskset, median, numberOption, rotate } = require('./_util');

const dist = path.join(__dirname, '..', 'dist', 'lib');

async function child(store, flows, chain) {
  const { Tracer } = require(dist);
  const tracer = new Tracer({
    serviceName: 'bench',
    context: store,
    clsNamespace: store === 'cls-hooked' ? 'bench' : undefined,
    exporters: [{ export() {} }],
    onDiagnostic() {},
  });
  let lost = 0;
  const flow = chain === 'promises'
    ? () =>
        tracer.trace('flow', async (span) => {
          for (let i = 0; i < 5; i++) await Promise.resolve();
          if (tracer.currentSpan() !== span) lost++;
        })
    : () =>
    tracer.trace('flow', async (span) => {
      await Promise.resolve();
      await new Promise((resolve) => setTimeout(resolve, 0));
      await new Promise((resolve) => setImmediate(resolve));
      await Promise.resolve();
      await null;
      if (tracer.currentSpan() !== span) lost++;
    });
  const CONCURRENT = 500;
  const runAll = async (n) => {
    for (let done = 0; done < n; done += CONCURRENT) {
      await Promise.all(Array.from({ length: CONCURRENT }, flow));
    }
  };
  await runAll(5000); // warm up
  global.gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const start = process.hrtime.bigint();
  await runAll(flows);
  const ns = Number(process.hrtime.bigint() - start);
  await tracer.flush();
  await new Promise((resolve) => setImmediate(resolve));
  global.gc();
  const heapAfter = process.memoryUsage().heapUsed;
  let contextsLeft = null;
  if (store === 'cls-hooked') contextsLeft = require('cls-hooked').getNamespace('bench')._contexts.size;
  process.stdout.write(
    JSON.stringify({ store, usPerFlow: ns / flows / 1000, heapLeftKB: (heapAfter - heapBefore) / 1024, contextsLeft, lost }),
  );
  process.exit(0);
}


function main() {
  const opt = numberOption;
  const flows = opt('flows', 20000);
  const rounds = opt('rounds', 5);
  for (const chain of ['promises', 'mixed']) run(flows, rounds, chain);
}

function run(flows, rounds, chain) {
  const pin = hasTaskset();
  const stores = ['async-local-storage', 'cls-hooked'];
  const results = Object.fromEntries(stores.map((s) => [s, []]));
  for (let round = 0; round < rounds; round++) {
    for (const store of rotate(stores, round)) {
      const argv = ['--expose-gc', __filename, '--child', store, String(flows), chain];
      const out = pin ? execFileSync('taskset', ['-c', '0', process.execPath, ...argv]) : execFileSync(process.execPath, argv);
      results[store].push(JSON.parse(out.toString()));
    }
  }
  const what = chain === 'promises' ? 'five awaited promises' : 'five awaits: promise, timer, immediate, promise, value';
  console.log(`\ncontext-stores (${chain}): ${flows} traced flows of ${what}, 500 at a time, median of ${rounds} rounds`);
  console.log('| store | µs/flow | heap left after GC (KB) | contexts left | flows that lost their span |');
  console.log('|---|---|---|---|---|');
  for (const s of stores) {
    const r = results[s];
    const m = (key) => median(r.map((x) => x[key]));
    console.log(`| ${s} | ${m('usPerFlow').toFixed(2)} | ${Math.round(m('heapLeftKB'))} | ${r[0].contextsLeft ?? 'n/a'} | ${m('lost')} |`);
  }
  const als = median(results['async-local-storage'].map((x) => x.usPerFlow));
  const cls = median(results['cls-hooked'].map((x) => x.usPerFlow));
  console.log(`cls-hooked / AsyncLocalStorage time per flow: ${(cls / als).toFixed(1)}x`);
}

if (process.argv[2] === '--child') void child(process.argv[3], Number(process.argv[4]), process.argv[5]);
else main();
