import { type ChildProcess, fork } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { StatsdExporter, type StatsdExporterOptions } from '../../exporters/statsd';

/** A timer as the daemon computed it (`timer_data`), merged over every flush so far. */
export interface TimerSummary {
  count: number;
  sum: number;
  upper: number;
  lower: number;
  /** sum / count over all flushes (equals the daemon's `mean` when one flush held them all). */
  mean: number;
}

/** Options for `StatsdDaemon.start`. */
export interface StatsdDaemonOptions {
  /** The daemon's listening server. Default `'udp'`. */
  protocol?: 'udp' | 'tcp';
  /** Port to listen on. Default: a free port on 127.0.0.1. */
  port?: number;
  /** The daemon's `flushInterval`, in milliseconds. Default 50. */
  flushIntervalMs?: number;
  /** How long `until` waits before failing the test, in milliseconds. Default 10000. */
  timeoutMs?: number;
}

interface Waiter {
  readonly what: string;
  readonly check: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

type DaemonMessage =
  | { type: 'ready' }
  | { type: 'packet'; data: string }
  | {
    type: 'flush';
    counters: Record<string, number>;
    timerData: Record<string, { count: number; sum?: number; upper?: number; lower?: number }>;
  };

const STATSD_DIR = dirname(require.resolve('statsd/stats.js'));
const BACKEND = join(__dirname, 'statsd-ipc-backend.js');
const MAX_LOG_CHARS = 20000;

/**
 * The real StatsD daemon (npm `statsd`) as a child process on 127.0.0.1, for tests that check
 * what an exporter really delivers. A tiny backend (statsd-ipc-backend.js) reports every packet
 * and every flush over IPC; the harness keeps the lines received and the counters and timers
 * merged over all flushes, and `until(check)` resolves on the first packet or flush after which
 * `check` holds, so tests await real events and never sleep. `stop()` kills the daemon (as a
 * crash would) and `restart()` brings it back on the same port.
 */
export class StatsdDaemon {
  /** Every metric line received, in arrival order. */
  readonly lines: string[] = [];
  /** Counters summed over all flushes (`<key>` as the daemon stores it, tags as `;k=v`). */
  readonly counters = new Map<string, number>();
  /** Timers merged over all flushes, from the daemon's `timer_data`. */
  readonly timers = new Map<string, TimerSummary>();
  /** Flushes seen. */
  flushes = 0;
  private child: ChildProcess | undefined;
  private waiters: Waiter[] = [];
  private log = '';
  private readonly dir = mkdtempSync(join(tmpdir(), 'tomograph-statsd-'));

  private constructor(
    readonly protocol: 'udp' | 'tcp',
    public port: number,
    private mgmtPort: number,
    private readonly flushIntervalMs: number,
    private readonly timeoutMs: number,
  ) {}

  /** Starts a daemon and resolves once its server socket listens. */
  static async start(options: StatsdDaemonOptions = {}): Promise<StatsdDaemon> {
    const protocol = options.protocol ?? 'udp';
    const daemon = new StatsdDaemon(
      protocol,
      options.port ?? (protocol === 'udp' ? await freeUdpPort() : await freeTcpPort()),
      await freeTcpPort(),
      options.flushIntervalMs ?? 50,
      options.timeoutMs ?? 10000,
    );
    // A free port can be taken by another test file between our probe and the daemon's bind:
    // try fresh ports a few times (only when the caller did not ask for a port).
    for (let attempt = 1; ; attempt++) {
      try {
        await daemon.spawn();
        return daemon;
      } catch (error) {
        if (options.port !== undefined || attempt === 3) {
          daemon.cleanUp();
          throw error;
        }
        daemon.port = protocol === 'udp' ? await freeUdpPort() : await freeTcpPort();
        daemon.mgmtPort = await freeTcpPort();
      }
    }
  }

  /** Whether the daemon process is up. */
  get running(): boolean {
    return this.child !== undefined;
  }

  /** Metric lines received whose name starts with `prefix`. */
  linesFor(prefix: string): string[] {
    return this.lines.filter((line) => line.startsWith(prefix));
  }

  /**
   * Resolves with `check()`'s value on the first packet or flush after which it is truthy
   * (at once if it already is); rejects after `timeoutMs`, naming `what` and the daemon's log.
   */
  until<T>(what: string, check: () => T | undefined | null | false): Promise<T> {
    const value = check();
    if (value) return Promise.resolve(value);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter.timer !== timer);
        reject(new Error(`StatsD daemon: timed out waiting for ${what}\nlast lines: ${this.lines.slice(-20).join('\n')}\nlog: ${this.log.slice(-2000)}`));
      }, this.timeoutMs);
      this.waiters.push({ what, check, resolve: resolve as (value: unknown) => void, reject, timer });
    });
  }

  /** Waits until the daemon has flushed `key` as a timer with at least `count` values. */
  timer(key: string, count = 1): Promise<TimerSummary> {
    return this.until(`timer ${key} x${count}`, () => {
      const timer = this.timers.get(key);
      return timer !== undefined && timer.count >= count ? timer : undefined;
    });
  }

  /** Waits until the daemon has flushed `key` as a counter reaching at least `value`. */
  counter(key: string, value = 1): Promise<number> {
    return this.until(`counter ${key} >= ${value}`, () => {
      const total = this.counters.get(key);
      return total !== undefined && total >= value ? total : undefined;
    });
  }

  /** Kills the daemon (SIGKILL, as a crash) and resolves once it has exited. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.child = undefined;
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }
    });
  }

  /** Starts the daemon again on the same port (after `stop()`). */
  async restart(): Promise<void> {
    await this.stop();
    await this.spawn();
  }

  /** Stops the daemon, fails pending waits, and removes its temp files. */
  async close(): Promise<void> {
    await this.stop();
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error(`StatsD daemon closed while waiting for ${waiter.what}`));
    }
    this.waiters = [];
    this.cleanUp();
  }

  private cleanUp(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private spawn(): Promise<void> {
    const server = this.protocol === 'udp' ? './servers/udp' : './servers/tcp';
    const config = {
      port: this.port,
      address: '127.0.0.1',
      server,
      mgmt_port: this.mgmtPort,
      mgmt_address: '127.0.0.1',
      flushInterval: this.flushIntervalMs,
      dumpMessages: true,
      deleteIdleStats: true,
      automaticConfigReload: false,
      backends: [BACKEND],
      tomographTest: { serverModule: join(STATSD_DIR, server) },
    };
    const configPath = join(this.dir, `config-${this.port}.js`);
    writeFileSync(configPath, JSON.stringify(config, null, 2));

    const child = fork(join(STATSD_DIR, 'stats.js'), [configPath], {
      cwd: STATSD_DIR,
      execArgv: [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const append = (chunk: Buffer) => {
      this.log = (this.log + chunk.toString()).slice(-MAX_LOG_CHARS);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    child.on('message', (message: DaemonMessage) => this.onMessage(message));

    return new Promise<void>((resolve, reject) => {
      const onReady = (message: DaemonMessage) => {
        if (message.type !== 'ready') return;
        child.off('message', onReady);
        child.off('exit', onExit);
        this.child = child;
        child.once('exit', () => {
          if (this.child === child) this.child = undefined;
        });
        resolve();
      };
      const onExit = (code: number | null, signal: string | null) => {
        child.off('message', onReady);
        reject(new Error(`StatsD daemon exited before listening (code ${code}, signal ${signal}): ${this.log.slice(-2000)}`));
      };
      child.on('message', onReady);
      child.once('exit', onExit);
    });
  }

  private onMessage(message: DaemonMessage): void {
    if (message.type === 'packet') {
      for (const line of message.data.split('\n')) if (line !== '') this.lines.push(line);
    } else if (message.type === 'flush') {
      this.flushes++;
      for (const [key, value] of Object.entries(message.counters)) {
        if (value !== 0) this.counters.set(key, (this.counters.get(key) ?? 0) + value);
      }
      for (const [key, data] of Object.entries(message.timerData)) {
        if (!data.count) continue;
        const before = this.timers.get(key);
        const count = (before?.count ?? 0) + data.count;
        const sum = (before?.sum ?? 0) + (data.sum ?? 0);
        this.timers.set(key, {
          count,
          sum,
          upper: Math.max(before?.upper ?? -Infinity, data.upper ?? -Infinity),
          lower: Math.min(before?.lower ?? Infinity, data.lower ?? Infinity),
          mean: sum / count,
        });
      }
    } else {
      return;
    }
    for (const waiter of [...this.waiters]) {
      let value: unknown;
      try {
        value = waiter.check();
      } catch (error) {
        value = undefined;
        this.settle(waiter);
        waiter.reject(error as Error);
        continue;
      }
      if (value) {
        this.settle(waiter);
        waiter.resolve(value);
      }
    }
  }

  private settle(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    this.waiters = this.waiters.filter((other) => other !== waiter);
  }
}

/** A UDP port free on 127.0.0.1 right now. */
export async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freeTcpPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** What `useStatsdDaemons` gives a test file. */
export interface StatsdTestKit {
  /** The file's UDP daemon (started before the first test). */
  readonly udp: StatsdDaemon;
  /** The file's TCP daemon. */
  readonly tcp: StatsdDaemon;
  /** A metric prefix no other test uses, so each test reads only its own metrics. */
  uniquePrefix(): string;
  /** A `StatsdExporter` over the file's defaults, shut down after the test. */
  makeExporter(options: StatsdExporterOptions): StatsdExporter;
}

/**
 * The shared setup of the StatsD exporter tests: one UDP and one TCP daemon for the file,
 * exporters shut down after each test, and unique prefixes (`<letter><n>_<pid>`). `defaults`
 * gives every exporter's options (it may name the UDP daemon's port); a test's own win.
 */
export function useStatsdDaemons(
  prefixLetter: string,
  defaults: (udp: StatsdDaemon) => StatsdExporterOptions,
): StatsdTestKit {
  let udp: StatsdDaemon | undefined;
  let tcp: StatsdDaemon | undefined;
  const exporters: StatsdExporter[] = [];
  let prefixCounter = 0;
  beforeAll(async () => {
    [udp, tcp] = await Promise.all([StatsdDaemon.start(), StatsdDaemon.start({ protocol: 'tcp' })]);
  });
  afterEach(async () => {
    await Promise.all(exporters.splice(0).map((exporter) => exporter.shutdown()));
  });
  afterAll(async () => {
    await Promise.all([udp?.close(), tcp?.close()]);
  });
  const started = (daemon: StatsdDaemon | undefined): StatsdDaemon => {
    if (!daemon) throw new Error('the StatsD daemons start in beforeAll');
    return daemon;
  };
  return {
    get udp() {
      return started(udp);
    },
    get tcp() {
      return started(tcp);
    },
    uniquePrefix: () => `${prefixLetter}${++prefixCounter}_${process.pid}`,
    makeExporter(options) {
      const exporter = new StatsdExporter({ ...defaults(started(udp)), ...options });
      exporters.push(exporter);
      return exporter;
    },
  };
}
