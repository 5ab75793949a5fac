/**
 * The real Prometheus for tests: `promtoolCheck(text)` runs `promtool check metrics` on an
 * exposition, and `PrometheusServer.start(target)` runs `prometheus` on a free loopback port with
 * its own config and temp data directory, scraping `target` every second; `query(expr)` asks its
 * HTTP API, `waitFor(expr, check)` polls it in a bounded loop. Debian's `prometheus` package gives
 * both binaries (`.ci/run` installs it). Without them the tests skip, except under `CI=true`.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort } from './statsd-daemon';

export const PROMTOOL = '/usr/bin/promtool';
export const PROMETHEUS = '/usr/bin/prometheus';

/** Whether the Prometheus binaries are here; under `CI=true` their absence fails the test run. */
export function havePrometheus(): boolean {
  const present = existsSync(PROMTOOL) && existsSync(PROMETHEUS);
  if (!present && process.env.CI === 'true') {
    throw new Error(`${PROMETHEUS} / ${PROMTOOL} missing under CI: install the Debian "prometheus" package`);
  }
  if (!present) console.warn(`skipping: ${PROMETHEUS} or ${PROMTOOL} is missing (apt-get install prometheus)`);
  return present;
}

/** `promtool check metrics` on `text`: its exit code and what it printed (lint problems included). */
export function promtoolCheck(text: string): { code: number | null; output: string } {
  const result = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
  return { code: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

/** One sample of an instant query's answer. */
export interface QuerySample {
  metric: Record<string, string>;
  value: [number, string];
}

/** A Prometheus server scraping one target on 127.0.0.1. */
export class PrometheusServer {
  private log = '';
  private exitedEarly: string | undefined;

  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    /** `http://127.0.0.1:<port>` */
    readonly url: string,
  ) {
    const append = (chunk: Buffer) => {
      this.log = (this.log + chunk.toString()).slice(-20_000);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    child.once('exit', (code, signal) => (this.exitedEarly = `prometheus exited (code ${code}, signal ${signal})`));
  }

  /**
   * Starts Prometheus scraping `http://<target><metricsPath>` every second (job `tomograph_test`),
   * and resolves once its API answers.
   */
  static async start(target: string, metricsPath = '/metrics'): Promise<PrometheusServer> {
    const dir = mkdtempSync(join(tmpdir(), `tomograph-prometheus-${process.pid}-`));
    const port = await freeTcpPort();
    const config = [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: tomograph_test',
      `    metrics_path: ${JSON.stringify(metricsPath)}`,
      '    static_configs:',
      `      - targets: [${JSON.stringify(target)}]`,
      '',
    ].join('\n');
    writeFileSync(join(dir, 'prometheus.yml'), config);
    const child = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--web.enable-lifecycle',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const server = new PrometheusServer(child, dir, `http://127.0.0.1:${port}`);
    try {
      await server.waitUntil('the API to answer', async () => {
        const response = await fetch(`${server.url}/-/ready`).catch(() => undefined);
        return response?.status === 200 ? true : undefined;
      });
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** An instant query through `/api/v1/query`. */
  async query(expr: string): Promise<QuerySample[]> {
    const response = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await response.json()) as { status: string; data?: { result: QuerySample[] }; error?: string };
    if (body.status !== 'success') throw new Error(`query ${expr} failed: ${body.error}`);
    return body.data!.result;
  }

  /** The scrape target's state as `/api/v1/targets` reports it. */
  async target(): Promise<{ health: string; lastError: string } | undefined> {
    const response = await fetch(`${this.url}/api/v1/targets`);
    const body = (await response.json()) as { data: { activeTargets: { health: string; lastError: string }[] } };
    return body.data.activeTargets[0];
  }

  /** Polls `expr` until `check(samples)` gives a value (one query every 250 ms, 30 s at most). */
  waitFor<T>(expr: string, check: (samples: QuerySample[]) => T | undefined): Promise<T> {
    return this.waitUntil(`${expr} to match`, async () => check(await this.query(expr)));
  }

  /** Kills the server, waits for it to exit, and removes its data directory. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await new Promise<void>((resolve) => {
        this.child.once('exit', () => resolve());
        this.child.kill('SIGKILL');
      });
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async waitUntil<T>(what: string, attempt: () => Promise<T | undefined>): Promise<T> {
    let last: unknown;
    for (let i = 0; i < 120; i++) {
      if (this.exitedEarly !== undefined) throw new Error(`${this.exitedEarly} while waiting for ${what}:\n${this.log}`);
      try {
        const value = await attempt();
        if (value !== undefined) return value;
      } catch (error) {
        last = error;
      }
      // Polling an outside server: its scrape interval is the event, we can only ask again.
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`timed out waiting for ${what} (last error: ${String(last)})\nprometheus log:\n${this.log}`);
  }
}
