import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ExitedChild, runUntilExit } from '../helpers/child-exit';
import { StatsdDaemon } from '../helpers/statsd-daemon';

const ROOT = join(__dirname, '..', '..');
const CHILD = join(__dirname, '..', 'helpers', 'statsd-shutdown-child.js');
const EXIT_LIMIT_MS = 10000;

let dist: string;
const daemons: StatsdDaemon[] = [];

beforeAll(async () => {
  dist = mkdtempSync(join(tmpdir(), 'tomograph-statsd-dist-'));
  // Other parts of the repository may be mid-change and fail to type-check; tsc still emits,
  // so the check is that the files this test needs were written.
  const output = await new Promise<string>((resolve) => {
    execFile('npx', ['tsc', '-p', 'tsconfig.build.json', '--outDir', dist], { cwd: ROOT }, (_error, stdout, stderr) =>
      resolve(stdout + stderr));
  });
  for (const file of ['lib/index.js', 'exporters/statsd.js', 'exporters/statsd-names.js']) {
    if (!existsSync(join(dist, file))) throw new Error(`tsc did not emit ${file}:\n${output}`);
  }
}, 120000);

afterAll(async () => {
  await Promise.all(daemons.map((daemon) => daemon.close()));
  if (dist !== undefined) rmSync(dist, { recursive: true, force: true });
});

/** Runs the child app and resolves when it exits on its own (killed, and failed, after EXIT_LIMIT_MS). */
function runChild(env: Record<string, string>): Promise<ExitedChild> {
  // The compiled output lives outside the repository: let it find hot-shots here.
  return runUntilExit(CHILD, { ...process.env, ...env, DIST: dist, NODE_PATH: join(ROOT, 'node_modules') }, EXIT_LIMIT_MS);
}

describe.each(['udp', 'tcp'] as const)('StatsdExporter shutdown over %s', (protocol) => {
  test('tracer.shutdown() delivers every queued metric, closes the socket, and the process exits by itself', async () => {
    const daemon = await StatsdDaemon.start({ protocol });
    daemons.push(daemon);
    const prefix = `shutdown_${protocol}`;
    const spans = 25;

    const result = await runChild({ PORT: String(daemon.port), PROTOCOL: protocol, PREFIX: prefix, SPANS: String(spans) });

    expect(result).toMatchObject({ code: 0, signal: null, stderr: '' });
    const report = JSON.parse(result.stdout.trim()) as {
      shutdown: boolean;
      sockets: { kind: string; closed: boolean }[];
      diagnostics: string[];
    };
    expect(report.shutdown).toBe(true);
    expect(report.diagnostics).toEqual([]);
    expect(report.sockets).toEqual([{ kind: protocol, closed: true }]);

    const base = `${prefix}.child.child-host.job`;
    expect((await daemon.timer(`${base}.ok`, spans)).count).toBe(spans);
    expect(await daemon.counter(`${base}.notes.done`, spans)).toBe(spans);
  });
});
