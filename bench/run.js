'use strict';
/**
 * `npm run bench [-- name ...]`: runs each benchmark in turn (all of them, or those named) and
 * prints their tables, ready for BENCHMARKS.md. Each benchmark is its own script, runnable alone.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

// Benchmarks that are not (yet) in this tree are skipped.
const ORDER = [
  'core',
  'core-memory',
  'context-stores',
  'zipkin-export',
  'statsd-export',
  'http',
  'instructions',
  'worker-export',
  'worker-metrics',
  'knex',
  'trace-page',
  'trace-context',
  'metrics',
  'metrics-sketches',
  'prometheus',
  'graphite',
  'host-stats',
  'queues',
  'logs',
];

const wanted = process.argv.slice(2);
const present = ORDER.filter((name) => fs.existsSync(path.join(__dirname, `${name}.js`)));
const names = wanted.length > 0 ? wanted : present;
let failed = 0;
for (const name of names) {
  const file = path.join(__dirname, `${name}.js`);
  if (!fs.existsSync(file)) {
    console.error(`bench: no benchmark named ${name} (have: ${present.join(', ')})`);
    failed++;
    continue;
  }
  console.log(`\n## ${name}\n\n\`node bench/${name}.js\`\n`);
  const result = spawnSync(process.execPath, [file], { stdio: 'inherit' });
  if (result.status !== 0) failed++;
}
process.exitCode = failed > 0 ? 1 : 0;
