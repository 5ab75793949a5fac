/**
 * The compiled demo, as `npm run demo` runs it, for tests: `buildDemo()` compiles the package
 * (tsconfig.build.json) into a temp directory laid out like an installed copy of it (the
 * package.json beside dist/, node_modules linked to the repository's), so the demo's
 * `tomograph/...` imports resolve by the package's self-reference to THAT build, not to
 * /work/main/dist, which other work may rebuild at any moment. `DemoRun` runs its main.js and
 * waits on what it prints.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(__dirname, '..', '..');

/** A private build of the package. */
export interface DemoBuild {
  /** The temp package root (package.json, dist/, node_modules -> the repository's). */
  root: string;
  /** `<root>/dist/examples/demo/main.js` */
  main: string;
  /** Removes the build. */
  remove(): void;
}

/** Compiles the package into a fresh temp directory; rejects with tsc's output if it fails. */
export async function buildDemo(): Promise<DemoBuild> {
  const root = mkdtempSync(join(tmpdir(), 'tomograph-demo-build-'));
  const remove = (): void => rmSync(root, { recursive: true, force: true });
  try {
    const tsc = require.resolve('typescript/bin/tsc');
    await promisify(execFile)(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(root, 'dist')], {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((error: { stdout?: string; message: string }) => {
      throw new Error(`tsc -p tsconfig.build.json failed:\n${error.stdout ?? error.message}`);
    });
    // The package's own name and `exports` map: what Node's self-reference resolves through.
    copyFileSync(join(ROOT, 'package.json'), join(root, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
    const main = join(root, 'dist', 'examples', 'demo', 'main.js');
    if (!existsSync(main)) throw new Error(`the build made no ${main}`);
    return { root, main, remove };
  } catch (error) {
    remove();
    throw error;
  }
}

/** A running `node main.js …`, its output kept. */
export class DemoRun {
  output = '';
  readonly child: ChildProcess;
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>;
  private readonly listeners = new Set<() => void>();

  constructor(main: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [main, ...args], {
      cwd: tmpdir(),
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const take = (chunk: Buffer): void => {
      this.output += chunk.toString('utf8');
      for (const listener of this.listeners) listener();
    };
    this.child.stdout!.on('data', take);
    this.child.stderr!.on('data', take);
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        for (const listener of this.listeners) listener();
        resolve(code ?? signal ?? 'unknown');
      });
    });
  }

  /** Resolves with the first match of `pattern` in the output; rejects if the process ends first. */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const match = this.output.match(pattern);
        if (match !== null) {
          this.listeners.delete(check);
          resolve(match);
        } else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          this.listeners.delete(check);
          reject(new Error(`the demo ended before printing ${pattern}:\n${this.output}`));
        }
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Kills it if still running (test clean-up). */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** The services' pino log lines in the demo's output, parsed. */
export function logLines(output: string): Record<string, unknown>[] {
  return output.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The trace blocks of the demo's output: each `trace <id>` line with the tree lines under it. */
export function traceBlocks(output: string): string[] {
  return output
    // The services' pino lines (on stderr) may fall between two trees: they are no part of either.
    .split('\n')
    .filter((line) => !line.startsWith('{'))
    .join('\n')
    .split(/\n\s*\n/)
    .map((block) => block.trim())
    .filter((block) => /^trace [0-9a-f]{32}\n/.test(block));
}

/** Whether process `pid` is gone. */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
