/**
 * What both demo services share: the exporters every service gets, their SQLite databases, and
 * the life of a forked service process (listen, say `ready`, stop cleanly on `shutdown` or when
 * the parent goes).
 */
import { rmdirSync, rmSync } from 'node:fs';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type Knex, knex } from 'knex';
import pino, { type Logger } from 'pino';
import { type DiagnosticEvent, type Exporter, shutdown, stats } from 'tomograph';
import { exposeStats } from 'tomograph/host-stats';
import { traceMixin } from 'tomograph/pino';
import { StatsdExporter } from 'tomograph/statsd';
import { ZipkinExporter } from 'tomograph/zipkin';
import { ParentProcessExporter } from './parent-exporter';
import { isMessage, type MainMessage, type ServiceMessage } from './protocol';

/**
 * The exporters of a demo service: the parent process (which prints whole traces), plus Zipkin
 * and StatsD when `TOMOGRAPH_ZIPKIN_URL` / `TOMOGRAPH_STATSD_HOST` are set. (`configure` adds
 * those two by itself only when given no `exporters`; both read their address from the same
 * variables.)
 */
export function demoExporters(): Exporter[] {
  const exporters: Exporter[] = [new ParentProcessExporter()];
  if (nonEmpty(process.env.TOMOGRAPH_ZIPKIN_URL)) exporters.push(new ZipkinExporter());
  if (nonEmpty(process.env.TOMOGRAPH_STATSD_HOST)) exporters.push(new StatsdExporter());
  return exporters;
}

/**
 * The service's pino logger: JSON lines on stderr, each written inside a request carrying that
 * request's `trace_id`, `span_id` and `trace_flags` (tomograph/pino), so a log line leads to its
 * trace. Synchronous writes of one line each: lines never interleave with the demo's trace trees.
 */
export function demoLogger(service: string): Logger {
  return pino({ base: { service }, mixin: traceMixin() }, pino.destination({ dest: 2, sync: true }));
}

/** Prints tomograph's own faults (a collector that is down, say) to stderr, named by service. */
export function printDiagnostics(service: string): (event: DiagnosticEvent) => void {
  return (event) => process.stderr.write(`[${service}] tomograph ${event.code}: ${event.message}\n`);
}

/** Options of `serveAsChild`. */
export interface ServeOptions {
  /** Port on 127.0.0.1; 0 (default) for any free one. */
  port?: number;
  /** Runs after the server closed and before tomograph shuts down: close databases here. */
  onClose?: () => Promise<void>;
  /** Called with messages from the main process other than `shutdown`. */
  onMessage?: (message: MainMessage) => void;
}

/**
 * Serves `app` on 127.0.0.1 in a forked process: sends `{ type: 'ready', port }` to the parent,
 * and on `shutdown` (or when the parent disappears) closes the server, runs `onClose`, shuts
 * tomograph down (which flushes every exporter, the parent's included), sends `stopped` with the
 * tracer's counts, and lets the process end by itself.
 */
export function serveAsChild(app: RequestListener, options: ServeOptions = {}): void {
  const server = createServer(app);
  let stopping: Promise<void> | undefined;

  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // close() ends idle keep-alive connections; give busy ones (a browser on the page) a moment.
      setTimeout(() => server.closeAllConnections(), 1000).unref();
      await closed;
      await options.onClose?.();
      await shutdown();
      if (process.connected) {
        const done: ServiceMessage = { type: 'stopped', stats: stats() };
        await new Promise<void>((resolve) => process.send!(done, undefined, undefined, () => resolve()));
        process.disconnect();
      }
    })());

  process.on('message', (message: unknown) => {
    if (!isMessage<MainMessage>(message)) return;
    if (message.type === 'shutdown') void stop();
    else options.onMessage?.(message);
  });
  // The parent went away without asking (killed): stop anyway, so nothing is left running.
  process.on('disconnect', () => void stop());
  // Ctrl-C reaches the whole process group; the main process stops the services in order.
  process.on('SIGINT', () => undefined);

  server.listen(options.port ?? 0, '127.0.0.1', () => {
    // Host-wide stats: `npx tomograph-stats` beside the demo shows this service's metrics. The
    // demo keeps no totals once stopped, so it leaves nothing behind in the temp directory.
    exposeStats({ keepTotalsOnExit: false });
    const ready: ServiceMessage = { type: 'ready', port: (server.address() as AddressInfo).port };
    process.send?.(ready);
  });
}

/**
 * Opens the service's SQLite database `<DEMO_DATA_DIR>/<name>.sqlite` (better-sqlite3), in the
 * temporary directory the main process made.
 */
export function openDatabase(name: string): Knex {
  return knex({
    client: 'better-sqlite3',
    connection: { filename: join(dataDir(), `${name}.sqlite`) },
    useNullAsDefault: true,
    pool: {
      // better-sqlite3 runs on the event loop: without WAL every commit waits for an fsync there,
      // and the whole service with it.
      afterCreate(connection: { pragma(sql: string): unknown }, done: (error: Error | null, connection: unknown) => void) {
        connection.pragma('journal_mode = WAL');
        connection.pragma('synchronous = NORMAL');
        done(null, connection);
      },
    },
  });
}

/**
 * Closes the database and deletes its files, and the data directory once it is empty: the main
 * process removes the directory too, but it may have been killed.
 */
export async function closeDatabase(db: Knex, name: string): Promise<void> {
  await db.destroy();
  const dir = dataDir();
  for (const suffix of ['', '-wal', '-shm']) rmSync(join(dir, `${name}.sqlite${suffix}`), { force: true });
  try {
    rmdirSync(dir);
  } catch {
    // The other service's files are still there (or the main process removed the directory).
  }
}

function dataDir(): string {
  const dir = process.env.DEMO_DATA_DIR;
  if (dir === undefined || dir === '') throw new Error('DEMO_DATA_DIR is not set: start the demo with main.js');
  return dir;
}

function nonEmpty(value: string | undefined): boolean {
  return value !== undefined && value.trim() !== '';
}
