import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's graphite-carbon and python3-whisper (the system python, not a pyenv shim). */
const CARBON_CACHE = '/usr/bin/carbon-cache';
const PYTHON = '/usr/bin/python3';

/** Why carbon tests cannot run here, or undefined when they can. Under CI=true they must run. */
export function carbonMissing(): string | undefined {
  if (!existsSync(CARBON_CACHE)) return `${CARBON_CACHE} not found (apt-get install graphite-carbon python3-whisper)`;
  return undefined;
}

/** A free TCP port on 127.0.0.1 (carbon cannot listen on port 0: 0 disables a receiver). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

// Polls the whisper files until each path holds at least the expected number of points, then
// prints them as JSON ([timestamp, value] pairs, floats as Python's repr: exact doubles).
const READ_SCRIPT = `
import json, os, sys, time, whisper
root, wanted, timeout = sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3])
deadline = time.time() + timeout
while True:
    out = {}
    done = True
    for path, count in wanted.items():
        f = os.path.join(root, *path.split('.')) + '.wsp'
        points = []
        if os.path.exists(f):
            try:
                (start, end, step), values = whisper.fetch(f, time.time() - 3500, time.time() + 60)
                points = [[start + i * step, v] for i, v in enumerate(values) if v is not None]
            except Exception:
                points = []
        out[path] = points
        if len(points) < count:
            done = False
    if done or time.time() > deadline:
        print(json.dumps(out))
        break
    time.sleep(0.1)
`;

/**
 * A real carbon-cache in the foreground, with its own carbon.conf, schemas and whisper tree in a
 * temp dir, its line receiver on a free loopback port. `stop()` ends it (SIGTERM, as an operator
 * would), `start()` brings it back on the same port with the same data.
 */
export class Carbon {
  readonly dir = mkdtempSync(join(tmpdir(), `tomograph-carbon-${process.pid}-`));
  readonly whisperDir = join(this.dir, 'whisper');
  private child: ChildProcess | undefined;
  private log = '';
  private starts = 0;

  private constructor(readonly port: number) {}

  static async start(options: { maxCreatesPerMinute?: number } = {}): Promise<Carbon> {
    const carbon = new Carbon(await freePort());
    carbon.writeConfig(options.maxCreatesPerMinute ?? 100000);
    await carbon.start();
    return carbon;
  }

  /** Starts carbon-cache and resolves when its line receiver listens. */
  async start(): Promise<void> {
    const pidfile = join(this.dir, `carbon-${++this.starts}.pid`);
    const child = spawn(CARBON_CACHE, [`--config=${join(this.dir, 'carbon.conf')}`, '--nodaemon', '--logfile=-', `--pidfile=${pidfile}`, 'start'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PYTHONWARNINGS: 'ignore' },
    });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`carbon-cache did not start in 20 s:\n${this.log.slice(-3000)}`)), 20000);
      const onData = (data: Buffer): void => {
        this.log += data.toString();
        if (this.log.length > 200000) this.log = this.log.slice(-100000);
        if (this.log.includes(`CarbonReceiverFactory starting on ${this.port}`)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`carbon-cache exited (${code}):\n${this.log.slice(-3000)}`));
      });
    });
  }

  /** Stops carbon (SIGTERM) and resolves when it has exited, having written its cache. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  /**
   * The points stored for each path, once each has at least the wanted count (or after
   * `timeoutMs`, with whatever is there): carbon writes whisper files asynchronously.
   */
  read(wanted: Record<string, number>, timeoutMs = 15000): Promise<Record<string, [number, number][]>> {
    return new Promise((resolve, reject) => {
      execFile(PYTHON, ['-c', READ_SCRIPT, this.whisperDir, JSON.stringify(wanted), String(timeoutMs / 1000)], (error, stdout, stderr) => {
        if (error) reject(new Error(`reading whisper failed: ${stderr || error.message}`));
        else resolve(JSON.parse(stdout) as Record<string, [number, number][]>);
      });
    });
  }

  /** carbon's own log so far (to assert on what it logged, or to explain a failure). */
  get output(): string {
    return this.log;
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private writeConfig(maxCreatesPerMinute: number): void {
    mkdirSync(this.whisperDir, { recursive: true });
    mkdirSync(join(this.dir, 'log'), { recursive: true });
    writeFileSync(join(this.dir, 'carbon.conf'), [
      '[cache]',
      `STORAGE_DIR = ${this.dir}/`,
      `LOCAL_DATA_DIR = ${this.whisperDir}/`,
      `CONF_DIR = ${this.dir}/`,
      `LOG_DIR = ${this.dir}/log/`,
      `PID_DIR = ${this.dir}/`,
      'DATABASE = whisper',
      'MAX_CACHE_SIZE = inf',
      'MAX_UPDATES_PER_SECOND = 100000',
      `MAX_CREATES_PER_MINUTE = ${maxCreatesPerMinute}`,
      'LINE_RECEIVER_INTERFACE = 127.0.0.1',
      `LINE_RECEIVER_PORT = ${this.port}`,
      'ENABLE_UDP_LISTENER = False',
      // 0 disables the pickle receiver; the cache query port 0 takes any free port.
      'PICKLE_RECEIVER_PORT = 0',
      'CACHE_QUERY_INTERFACE = 127.0.0.1',
      'CACHE_QUERY_PORT = 0',
      'WHISPER_AUTOFLUSH = True',
      'LOG_LISTENER_CONN_SUCCESS = False',
      '',
    ].join('\n'));
    // One point per second for an hour: every pushed timestamp keeps its own value.
    writeFileSync(join(this.dir, 'storage-schemas.conf'), '[all]\npattern = .*\nretentions = 1s:1h\n');
  }
}
