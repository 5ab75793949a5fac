/**
 * A StatsD host name that does not resolve (`.invalid` never does), in a real child process:
 * 1,000 spans/s for 3 s. hot-shots' own DNS cache keeps only successes, so before the exporter
 * resolved the host itself every packet started a getaddrinfo on libuv's 4-thread pool, the app's
 * own dns.lookup('localhost') queued behind them, and the process outlived shutdown() by the
 * backlog. Now: a handful of lookups, one at a time, the app's lookups unaffected, every metric
 * dropped and counted, shutdown() prompt and the process gone right after.
 */

import * as fs from 'node:fs';
import { join } from 'node:path';
import { runUntilExit } from '../helpers/child-exit';
import { compileLib, removeDir } from '../helpers/core-fixtures';

const ROOT = join(__dirname, '..', '..');
const CHILD = join(__dirname, '..', 'helpers', 'statsd-dns-child.js');
const RUN_MS = 3000;
const EXIT_LIMIT_MS = 20000;

let dist: string | undefined;

beforeAll(() => {
  // lib/ and exporters/, each file transpiled on its own: fast, and unaffected by work in
  // progress elsewhere. hot-shots resolves through the directory's node_modules link.
  dist = compileLib();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require('typescript') as typeof import('typescript');
  fs.mkdirSync(join(dist, 'exporters'));
  const files = fs.readdirSync(join(ROOT, 'exporters')).filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'));
  for (const file of files) {
    const { outputText } = ts.transpileModule(fs.readFileSync(join(ROOT, 'exporters', file), 'utf8'), {
      fileName: file,
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, esModuleInterop: true },
    });
    fs.writeFileSync(join(dist, 'exporters', file.replace(/\.ts$/, '.js')), outputText);
  }
});

afterAll(() => removeDir(dist));

interface Report {
  spans: number;
  shutdownMs: number;
  lookups: { total: Record<string, number>; maxInFlight: number; inFlightAtEnd: number };
  localhostMs: number[];
  exporter: { metricsDropped: number; lookups: number; lookupFailures: number };
  tracer: { spansFinished: number; spansExported: number; spansQueued: number; spansDropped: Record<string, number> };
  diagnostics: Record<string, number>;
}

async function runChild(protocol: 'udp' | 'tcp'): Promise<{ code: number | null; report: Report; exitAfterReportMs: number; stderr: string }> {
  const env = { ...process.env, DIST: dist as string, STATSD_HOST: 'nonexistent.invalid', PROTOCOL: protocol, RUN_MS: String(RUN_MS) };
  const exited = await runUntilExit(CHILD, env, EXIT_LIMIT_MS);
  const exitedAt = Date.now();
  let report: Report;
  try {
    report = JSON.parse(exited.stdout.trim().split('\n')[0]) as Report;
  } catch {
    throw new Error(`no report from the child:\n${exited.stdout}\n${exited.stderr}`);
  }
  return { code: exited.code, report, exitAfterReportMs: exitedAt - exited.firstLineAt, stderr: exited.stderr };
}

describe.each(['udp', 'tcp'] as const)('StatsD over %s to a host that does not resolve', (protocol) => {
  it('a few lookups, one at a time; the app keeps its own DNS; shutdown is prompt and the process exits', async () => {
    const { code, report, exitAfterReportMs, stderr } = await runChild(protocol);
    expect(stderr).not.toMatch(/Error|Warning/);
    expect(code).toBe(0);
    expect(report.spans).toBe(RUN_MS); // 1,000 a second

    // Backoff 1 s, 2 s, 4 s: lookups at about 0, 1 and 3 s of a 3 s run, never two at once.
    const invalidLookups = report.lookups.total['nonexistent.invalid'] ?? 0;
    expect(invalidLookups).toBeGreaterThanOrEqual(1);
    expect(invalidLookups).toBeLessThanOrEqual(4);
    expect(report.exporter.lookups).toBe(invalidLookups);
    expect(report.lookups.maxInFlight).toBeLessThanOrEqual(2); // ours, and at most one of the app's own

    // The app's own lookups stay fast (with the flood they took 9 to 62 s; the bound leaves room for a busy machine).
    expect(report.localhostMs.length).toBeGreaterThan(10);
    expect(Math.max(...report.localhostMs)).toBeLessThan(2000);

    // Every span reached the exporter, whose metrics (a timer and a note counter each) were dropped and counted.
    const t = report.tracer;
    expect(t.spansFinished).toBe(report.spans);
    expect(t.spansQueued).toBe(0);
    expect(t.spansExported + Object.values(t.spansDropped).reduce((a, b) => a + b, 0)).toBe(report.spans);
    expect(report.exporter.metricsDropped).toBe(2 * t.spansExported);
    expect(report.diagnostics.TOMOGRAPH_TRANSPORT_ERROR).toBeGreaterThan(0);

    // With the flood: shutdown() 20 s, the process alive 20 to 51 s after it.
    expect(report.shutdownMs).toBeLessThan(2000);
    expect(exitAfterReportMs).toBeLessThan(3000);
  }, 60000);
});
