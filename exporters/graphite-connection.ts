import { type LookupFunction, Socket } from 'node:net';

/** How long a closing connection may keep the process alive to hand over its last queued bytes. */
const CLOSE_GRACE_MS = 2000;

/** Options of a `CarbonConnection`. */
export interface CarbonConnectionOptions {
  host: string;
  port: number;
  /** Lines kept while carbon is away; past it the oldest are dropped and counted. */
  maxBufferedLines: number;
  /** A connection attempt that has not connected by then is abandoned (counts as a failure). */
  connectTimeoutMs: number;
  /** First wait after a failed attempt; doubles per failure up to `maxBackoffMs`. */
  minBackoffMs: number;
  maxBackoffMs: number;
  /** Bytes handed to the socket per write. */
  chunkBytes: number;
  /** A connected carbon that reads nothing for this long while we wait to write is dropped. */
  writeTimeoutMs: number;
  /** net.connect's `lookup`, for a custom resolver. */
  lookup: LookupFunction | undefined;
  /** Called on a fault: a failed or lost connection (once per outage), dropped lines. */
  onFault: (kind: 'connect' | 'lost' | 'dropped', detail: unknown) => void;
}

/** What the connection has done, for `GraphiteExporter.stats()`. */
export interface CarbonConnectionStats {
  /** True while a socket to carbon is open. */
  connected: boolean;
  /** Lines waiting to be written. */
  bufferedLines: number;
  /** Lines handed to a socket since start. */
  sentLines: number;
  /** Lines dropped because the buffer was full (the oldest go first). */
  droppedLines: number;
  /** Connection attempts since start (each one DNS lookup at most). */
  connectAttempts: number;
  /** Attempts that failed or connections that broke. */
  connectFailures: number;
}

/**
 * One TCP connection to carbon's plaintext receiver, kept open, with a bounded queue of lines in
 * front of it. Carbon acknowledges nothing, so a line counts as sent once the kernel has it.
 *
 * - At most one connection attempt exists at a time, and after a failure the next waits out a
 *   doubling backoff: an unresolvable or refusing host costs one DNS lookup per backoff step,
 *   never one per push or per line.
 * - Writes respect the socket's back-pressure: while carbon reads slowly the lines wait here,
 *   where the bound applies, instead of piling up in the socket's own unbounded buffer.
 * - A chunk whose write failed is queued again at the front: carbon stores a repeated
 *   (path, timestamp) once, so resending is harmless, and losing it is not.
 * - The socket and timers are unref'd: an open connection never keeps the process alive, except
 *   while `drain()` (so `flush()`/`shutdown()`) waits, up to its deadline.
 */
export class CarbonConnection {
  private readonly options: CarbonConnectionOptions;
  // The queue: lines[head..] are waiting; compacted when head passes half.
  private lines: string[] = [];
  private head = 0;
  private socket: Socket | undefined;
  private connected = false;
  private waitingForDrain = false;
  private backoffMs = 0;
  private backoffTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private outage = false;
  private idleWaiters: (() => void)[] = [];
  /** How many `drain()` calls are waiting: while any is, the socket is ref'd. */
  private holding = 0;
  private readonly counts = { sentLines: 0, droppedLines: 0, connectAttempts: 0, connectFailures: 0 };

  constructor(options: CarbonConnectionOptions) {
    this.options = options;
  }

  /** Queues lines (each ending in `\n`) and starts writing or connecting. Never throws. */
  send(lines: readonly string[]): void {
    if (this.closed || lines.length === 0) return;
    const max = this.options.maxBufferedLines;
    for (let i = 0; i < lines.length; i++) this.lines.push(lines[i]);
    const excess = this.lines.length - this.head - max;
    if (excess > 0) {
      this.head += excess;
      this.counts.droppedLines += excess;
      this.options.onFault('dropped', excess);
    }
    this.compact();
    this.pump();
  }

  stats(): CarbonConnectionStats {
    return { connected: this.connected, bufferedLines: this.lines.length - this.head, ...this.counts };
  }

  /**
   * Resolves when every queued line is with the kernel, or at `deadlineMs` (epoch ms) at the
   * latest. While waiting, a pending backoff is cut short so one more attempt happens now.
   */
  drain(deadlineMs: number): Promise<void> {
    if (this.lines.length === this.head && !this.waitingForDrain) return Promise.resolve();
    // While someone waits (shutdown() at the end of a script), the socket and the deadline keep
    // the process alive, or it would exit before the last lines left; never past the deadline.
    this.holding++;
    this.socket?.ref();
    if (this.backoffTimer !== undefined && this.socket === undefined) {
      clearTimeout(this.backoffTimer);
      this.backoffTimer = undefined;
      this.connect();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(0, deadlineMs - Date.now()));
      const waiters = this.idleWaiters;
      const release = (): void => {
        if (--this.holding === 0) this.socket?.unref();
      };
      function done(): void {
        clearTimeout(timer);
        const i = waiters.indexOf(done);
        if (i !== -1) waiters.splice(i, 1);
        release();
        resolve();
      }
      waiters.push(done);
    });
  }

  /** Ends the connection (after what the socket holds) and stops reconnecting. Safe to call twice. */
  close(): void {
    this.closed = true;
    if (this.backoffTimer !== undefined) clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    const socket = this.socket;
    if (socket !== undefined) {
      socket.end();
      // Bytes still queued in the socket (a large last write) would be lost if the process
      // exited now: hold it open for them, but not long, since a carbon that never reads would
      // hold the FIN behind them forever.
      const pending = socket.writableLength > 0;
      if (pending) socket.ref();
      const timer = setTimeout(() => socket.destroy(), pending ? CLOSE_GRACE_MS : this.options.writeTimeoutMs);
      if (!pending) timer.unref();
      socket.once('close', () => clearTimeout(timer));
    }
    this.lines = [];
    this.head = 0;
    this.settleWaiters();
  }

  private pump(): void {
    if (this.closed || this.waitingForDrain) return;
    if (!this.connected) {
      if (this.socket === undefined && this.backoffTimer === undefined) this.connect();
      return;
    }
    const socket = this.socket as Socket;
    const lines = this.lines;
    const chunkBytes = this.options.chunkBytes;
    while (this.head < lines.length) {
      let end = this.head;
      let bytes = 0;
      while (end < lines.length && (bytes === 0 || bytes + lines[end].length <= chunkBytes)) bytes += lines[end++].length;
      const batch = lines.slice(this.head, end);
      this.head = end;
      const ok = socket.write(batch.join(''), (error) => {
        if (error) this.requeue(batch);
      });
      this.counts.sentLines += batch.length;
      if (!ok) {
        this.waitingForDrain = true;
        socket.setTimeout(this.options.writeTimeoutMs);
        break;
      }
    }
    this.compact();
    if (!this.waitingForDrain) this.settleWaiters();
  }

  private connect(): void {
    const { host, port, lookup, connectTimeoutMs } = this.options;
    this.counts.connectAttempts++;
    const socket = new Socket();
    this.socket = socket;
    if (this.holding === 0) socket.unref();
    socket.setNoDelay(true);
    socket.setTimeout(connectTimeoutMs);
    socket.on('connect', () => {
      if (this.socket !== socket) return;
      socket.setTimeout(0);
      this.connected = true;
      this.backoffMs = 0;
      this.outage = false;
      this.pump();
    });
    socket.on('drain', () => {
      if (this.socket !== socket) return;
      socket.setTimeout(0);
      this.waitingForDrain = false;
      this.pump();
    });
    socket.on('timeout', () => socket.destroy(new Error(this.connected ? 'carbon stopped reading' : 'connect timed out')));
    // Carbon sends nothing; data would be a stranger on the port. Read and ignore it.
    socket.on('data', () => {});
    // Carbon closed its side (stopped or restarted): stop writing into a half-closed socket, and
    // say so, since whatever the kernel still held for it is lost.
    socket.on('end', () => socket.destroy(new Error('carbon closed the connection')));
    socket.on('error', (error) => {
      if (this.socket !== socket || this.closed) return;
      if (!this.outage) {
        this.outage = true;
        this.options.onFault(this.connected ? 'lost' : 'connect', error);
      }
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      const wasConnected = this.connected;
      this.socket = undefined;
      this.connected = false;
      this.waitingForDrain = false;
      if (this.closed) return;
      this.counts.connectFailures++;
      // A connection that worked and was then closed is retried at once; failures back off.
      this.backoffMs = wasConnected ? 0 : Math.min(this.options.maxBackoffMs, Math.max(this.options.minBackoffMs, this.backoffMs * 2));
      this.scheduleReconnect();
    });
    try {
      socket.connect({ host, port, lookup });
    } catch (error) {
      // Only a synchronous fault (a bad port type) lands here; options validation prevents it.
      socket.destroy(error as Error);
    }
  }

  private scheduleReconnect(): void {
    const delay = this.backoffMs;
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      if (!this.closed && this.lines.length > this.head) this.connect();
    }, delay);
    this.backoffTimer.unref();
  }

  private requeue(batch: string[]): void {
    if (this.closed) return;
    this.counts.sentLines -= batch.length;
    this.lines.splice(this.head, 0, ...batch);
    const excess = this.lines.length - this.head - this.options.maxBufferedLines;
    if (excess > 0) {
      this.head += excess;
      this.counts.droppedLines += excess;
      this.options.onFault('dropped', excess);
      this.compact();
    }
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.lines.length) {
      this.lines = this.lines.slice(this.head);
      this.head = 0;
    } else if (this.head === this.lines.length) {
      this.lines.length = 0;
      this.head = 0;
    }
  }

  private settleWaiters(): void {
    if (this.idleWaiters.length === 0) return;
    for (const done of this.idleWaiters.slice()) done();
  }
}
