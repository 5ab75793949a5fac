/**
 * A child Node process that must exit by itself: the tests of "nothing keeps the process
 * alive" (exporters, the worker) run a script, collect its output, and fail if it is still
 * running after a limit (it is then killed).
 */
import { spawn } from 'node:child_process';

/** How a child that exited by itself ended. */
export interface ExitedChild {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** When the first full line of stdout arrived (`Date.now()`), or 0 if none did. */
  firstLineAt: number;
}

/** Runs `node <script>` with `env` and resolves when it exits; rejects (and kills it) after `limitMs`. */
export function runUntilExit(script: string, env: NodeJS.ProcessEnv, limitMs: number): Promise<ExitedChild> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let firstLineAt = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (firstLineAt === 0 && stdout.includes('\n')) firstLineAt = Date.now();
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const limit = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the child did not exit by itself within ${limitMs} ms\n${stdout}\n${stderr}`));
    }, limitMs);
    child.once('error', (error) => {
      clearTimeout(limit);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(limit);
      resolve({ code, signal, stdout, stderr, firstLineAt });
    });
  });
}
