#!/usr/bin/env node
/**
 * `npx tomograph-stats [--dir D] [--service NAME] [--format json|text|prometheus] [--watch SECONDS]`
 *
 * Prints the merged stats of every process of a service on this host (see `exposeStats`). Without
 * `--dir` or `--service`, every service under `<os.tmpdir()>/tomograph-stats/` is shown.
 */
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectHostStats, type HostStats } from '../exporters/host-stats-collect';
import { defaultStatsDir } from '../exporters/host-stats-files';
import { hostPrometheusText } from '../exporters/host-stats-prometheus';
import { renderHostStatsText } from '../exporters/host-stats-text';
import { hostStatsJson } from '../exporters/host-stats';

const USAGE = `Usage: tomograph-stats [--dir D] [--service NAME] [--format json|text|prometheus] [--watch SECONDS] [--timeout MS]

  --dir D          one service's stats directory
  --service NAME   the service's default directory, <tmpdir>/tomograph-stats/<NAME>
                   (neither: every service under ${join(tmpdir(), 'tomograph-stats')})
  --format F       text (default: an aligned tree with units), json, or prometheus
  --watch SECONDS  print again every SECONDS until interrupted
  --timeout MS     how long each process has to answer (default 500)
`;

interface Args {
  dirs: { name: string; dir: string }[] | undefined;
  format: 'json' | 'text' | 'prometheus';
  watchSeconds: number | undefined;
  timeoutMs: number;
}

/** Parses argv; returns an error message for a wrong argument. */
export function parseArgs(argv: readonly string[]): Args | string {
  const args: Args = { dirs: undefined, format: 'text', watchSeconds: undefined, timeoutMs: 500 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const [name, inline] = flag.startsWith('--') && flag.includes('=') ? [flag.slice(0, flag.indexOf('=')), flag.slice(flag.indexOf('=') + 1)] : [flag, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (name) {
      case '--dir': {
        const dir = value();
        if (dir === undefined || dir === '') return '--dir needs a directory';
        (args.dirs ??= []).push({ name: dir, dir });
        break;
      }
      case '--service': {
        const service = value();
        if (service === undefined || service === '') return '--service needs a name';
        (args.dirs ??= []).push({ name: service, dir: defaultStatsDir(service) });
        break;
      }
      case '--format': {
        const format = value();
        if (format !== 'json' && format !== 'text' && format !== 'prometheus') return '--format must be json, text or prometheus';
        args.format = format;
        break;
      }
      case '--watch': {
        const seconds = Number(value());
        if (!Number.isFinite(seconds) || seconds <= 0) return '--watch needs a number of seconds above 0';
        args.watchSeconds = seconds;
        break;
      }
      case '--timeout': {
        const ms = Number(value());
        if (!Number.isInteger(ms) || ms < 1) return '--timeout needs a whole number of milliseconds';
        args.timeoutMs = ms;
        break;
      }
      case '-h':
      case '--help':
        return '';
      default:
        return `unknown argument ${flag}`;
    }
  }
  return args;
}

/** Every service directory under the default root. */
function allServices(): { name: string; dir: string }[] {
  const root = join(tmpdir(), 'tomograph-stats');
  try {
    return readdirSync(root, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => ({ name: entry.name, dir: join(root, entry.name) }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  } catch {
    return [];
  }
}

async function render(args: Args): Promise<string> {
  const explicit = args.dirs !== undefined;
  const dirs = args.dirs ?? allServices();
  const results: { name: string; stats?: HostStats; error?: string }[] = [];
  for (const { name, dir } of dirs) {
    try {
      results.push({ name, stats: await collectHostStats({ dir, timeoutMs: args.timeoutMs }) });
    } catch (error) {
      results.push({ name, error: (error as Error).message });
    }
  }
  if (args.format === 'json') {
    const body = results.map((r) => (r.stats === undefined ? { error: r.error } : hostStatsJson(r.stats)));
    if (explicit && results.length === 1) return JSON.stringify(body[0], null, 2) + '\n';
    return JSON.stringify(Object.fromEntries(results.map((r, i) => [r.name, body[i]])), null, 2) + '\n';
  }
  if (args.format === 'prometheus') {
    return results.map((r) => (r.stats === undefined ? `# ${r.name}: ${r.error}\n` : hostPrometheusText(r.stats.metrics, r.stats.processes))).join('');
  }
  if (results.length === 0) return `No service exposes stats under ${join(tmpdir(), 'tomograph-stats')} (see exposeStats()).\n`;
  return results.map((r) => (r.stats === undefined ? `${r.name}: ${r.error}\n` : renderHostStatsText(r.stats, { title: r.name }))).join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    if (args !== '') process.stderr.write(`tomograph-stats: ${args}\n`);
    process.stderr.write(USAGE);
    process.exitCode = args === '' ? 0 : 2;
    return;
  }
  if (args.watchSeconds === undefined) {
    process.stdout.write(await render(args));
    return;
  }
  const clear = process.stdout.isTTY ? '\x1b[2J\x1b[H' : '';
  for (;;) {
    const text = await render(args);
    process.stdout.write(clear + (clear === '' ? '' : `every ${args.watchSeconds} s, ${new Date().toISOString()}\n\n`) + text);
    await new Promise((resolve) => setTimeout(resolve, (args.watchSeconds as number) * 1000));
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`tomograph-stats: ${(error as Error)?.message ?? String(error)}\n`);
    process.exitCode = 1;
  });
}
