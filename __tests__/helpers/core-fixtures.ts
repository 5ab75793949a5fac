import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MemoryExporter } from '../../lib/memory-exporter';
import type { TracerOptions } from '../../lib/options';
import { Tracer } from '../../lib/tracer';
import type { DiagnosticEvent, FinishedSpan } from '../../lib/types';

/**
 * A small, fast, seeded PRNG (mulberry32): the same seed gives the same sequence, so a failing
 * random test can be replayed with `TOMOGRAPH_TEST_SEED=<seed>`.
 *
 * @returns numbers in [0, 1)
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed for this run: `TOMOGRAPH_TEST_SEED` if set, else a fresh one. Put it in test titles. */
export function testSeed(): number {
  const fromEnv = Number(process.env.TOMOGRAPH_TEST_SEED);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : 1 + Math.floor(Math.random() * 0x7ffffffe);
}

/** An integer in [0, n) from `random`. */
export function pick(random: () => number, n: number): number {
  return Math.floor(random() * n);
}

/** A tracer of its own for one test, exporting into memory and collecting diagnostics. */
export interface TestTracer {
  tracer: Tracer;
  memory: MemoryExporter;
  events: DiagnosticEvent[];
  /** Flushes, then gives the spans exported so far. */
  spans(): Promise<FinishedSpan[]>;
  /** The diagnostic codes received so far, in order. */
  codes(): string[];
}

/** Makes a tracer exporting into a fresh MemoryExporter with `scheduledDelayMs: 0`. */
export function testTracer(options: TracerOptions = {}): TestTracer {
  const memory = new MemoryExporter({ maxSpans: 1_000_000 });
  const events: DiagnosticEvent[] = [];
  const tracer = new Tracer({
    serviceName: 'test',
    exporters: [memory],
    scheduledDelayMs: 0,
    onDiagnostic: (event) => events.push(event),
    ...options,
  });
  return {
    tracer,
    memory,
    events,
    async spans() {
      await tracer.flush();
      return memory.spans;
    },
    codes: () => events.map((event) => event.code),
  };
}

/** A promise with its resolve/reject exposed. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Asserts the stats invariant: every finished sampled span is exported, queued or dropped. */
export function balance(stats: ReturnType<Tracer['stats']>): { finished: number; accounted: number } {
  const dropped = Object.values(stats.spansDropped).reduce((sum, n) => sum + n, 0);
  return { finished: stats.spansFinished, accounted: stats.spansExported + stats.spansQueued + dropped };
}

const ROOT = path.resolve(__dirname, '../..');

/**
 * Compiles `lib/` to plain CommonJS in a fresh temporary directory, for code that runs outside
 * ts-jest (worker threads, child processes), so it uses the real tracer rather than a stand-in.
 * Each file is transpiled on its own (no type check: `tsc --noEmit` covers that), which is fast
 * and unaffected by other folders' work in progress. The directory gets a `node_modules` link
 * to the project's, so `cls-hooked` resolves.
 *
 * @returns the directory; `require(path.join(dir, 'lib'))` is the `tomograph` entry point.
 */
export function compileLib(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require('typescript') as typeof import('typescript');
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tomograph-lib-'));
  fs.mkdirSync(path.join(outDir, 'lib'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(outDir, 'node_modules'), 'dir');
  const libDir = path.join(ROOT, 'lib');
  for (const file of fs.readdirSync(libDir)) {
    if (!file.endsWith('.ts') || file.endsWith('.d.ts')) continue;
    const source = fs.readFileSync(path.join(libDir, file), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.CommonJS,
        esModuleInterop: true,
      },
    });
    fs.writeFileSync(path.join(outDir, 'lib', file.replace(/\.ts$/, '.js')), outputText);
  }
  return outDir;
}

/** Removes a directory made by `compileLib` (or any temp dir). */
export function removeDir(dir: string | undefined): void {
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
}
