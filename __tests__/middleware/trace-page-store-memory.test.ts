/**
 * The trace page's store is bounded in bytes, not only in spans: any client that reaches the app
 * chooses its trace id and its path. In a child process run with --expose-gc, 10,000 requests
 * with 16,000-character paths in 20 client-chosen trace ids used to grow the retained heap by
 * about 160 MB (the full values were kept, and cut only when shown).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileLib, removeDir } from '../helpers/core-fixtures';

const ROOT = path.resolve(__dirname, '../..');
const CHILD = path.join(__dirname, '..', 'helpers', 'trace-page-memory-child.js');
const MIB = 1024 * 1024;
let dist: string | undefined;

beforeAll(() => {
  dist = compileLib();
  // The store and what it imports, transpiled the same way.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require('typescript') as typeof import('typescript');
  fs.mkdirSync(path.join(dist, 'middleware'));
  for (const file of ['trace-page-store.ts', 'trace-page-json.ts']) {
    const { outputText } = ts.transpileModule(fs.readFileSync(path.join(ROOT, 'middleware', file), 'utf8'), {
      fileName: file,
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, esModuleInterop: true },
    });
    fs.writeFileSync(path.join(dist, 'middleware', file.replace(/\.ts$/, '.js')), outputText);
  }
});

afterAll(() => removeDir(dist));

interface Report {
  growth: number;
  stats: { traces: number; spans: number; bytes: number; maxBytes: number; spansReceived: number; tracesEvicted: number };
  dropped: Record<string, number>;
  crashed?: string;
}

function run(env: Record<string, string>): Promise<Report> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', CHILD],
      { env: { ...process.env, DIST: dist as string, ...env }, maxBuffer: 1 << 20, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error !== null) return reject(new Error(`${error.message}\n${stdout}\n${stderr}`));
        resolve(JSON.parse(stdout.trim().split('\n').pop() as string) as Report);
      },
    );
  });
}

it('10,000 requests with 16,000-character paths in 20 trace ids: the retained heap stays within the byte budget', async () => {
  const report = await run({});
  expect(report.crashed).toBeUndefined();
  expect(report.dropped.queueFull).toBe(0);
  expect(report.stats.spansReceived).toBe(20_000 + 200); // and the warm-up
  // The store's own accounting holds to its budget (16 MiB by default)...
  expect(report.stats.maxBytes).toBe(16 * MIB);
  expect(report.stats.bytes).toBeLessThanOrEqual(report.stats.maxBytes);
  expect(report.stats.traces).toBeLessThanOrEqual(20);
  // ...and so does the heap: what it retains is the budget, plus little.
  expect(report.growth).toBeLessThan(24 * MIB);
}, 90_000);

it('a smaller budget holds as tightly', async () => {
  const report = await run({ STORE_OPTIONS: JSON.stringify({ maxBytes: 2 * MIB }) });
  expect(report.crashed).toBeUndefined();
  expect(report.stats.bytes).toBeLessThanOrEqual(2 * MIB);
  expect(report.stats.spans).toBeGreaterThan(0);
  expect(report.growth).toBeLessThan(6 * MIB);
}, 90_000);
