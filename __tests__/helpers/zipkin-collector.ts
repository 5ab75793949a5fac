/**
 * A real Zipkin-like collector on 127.0.0.1 for tests: it accepts `POST /api/v2/spans`, gunzips
 * `Content-Encoding: gzip` bodies, validates every span against the Zipkin v2 schema (see
 * zipkin-schema.ts) and, like Zipkin, rejects the whole POST with 400 when one span is invalid.
 * It can be told to answer 202 (default), 400, 500, to hang, or to be down (its port closed),
 * and to come back on the same port.
 */
import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { zipkinBodyErrors } from './zipkin-schema';

/** How the collector answers a POST: a status code, or never. */
export type CollectorAnswer = 202 | 400 | 500 | 503 | 'hang';

/** One POST as the collector saw it. */
export interface ReceivedPost {
  headers: IncomingHttpHeaders;
  /** The parsed body (after gunzip); undefined when it was not JSON. */
  body: unknown;
  /** Body bytes on the wire. */
  bytes: number;
  gzipped: boolean;
  /** What the collector answered (`'hang'`: nothing). */
  answer: CollectorAnswer;
  /** Schema problems in the body; empty when valid. */
  problems: string[];
}

/** A collector on 127.0.0.1; see the file comment. */
export class ZipkinCollector extends EventEmitter {
  constructor() {
    super();
    // Tests may wait on many counts at once; these waits are not a leak.
    this.setMaxListeners(0);
  }

  /** Every POST received, in order. */
  readonly posts: ReceivedPost[] = [];
  /** Spans from POSTs answered 2xx: what the collector stored. */
  readonly spans: Record<string, unknown>[] = [];
  /** Schema problems in any POST (each prefixed with the POST's index). Tests assert it stays empty. */
  readonly problems: string[] = [];
  /** TCP connections accepted since start (keep-alive reuses them). */
  connections = 0;
  /** The answer to every POST not covered by `script`. */
  answer: CollectorAnswer = 202;
  /** Answers for the next POSTs, used first, one each. */
  readonly script: CollectorAnswer[] = [];

  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private portNumber = 0;

  /** Starts a collector on a free port of 127.0.0.1. */
  static async start(): Promise<ZipkinCollector> {
    const collector = new ZipkinCollector();
    await collector.listen(0);
    return collector;
  }

  get port(): number {
    return this.portNumber;
  }

  /** The span endpoint, `http://127.0.0.1:<port>/api/v2/spans`. */
  get url(): string {
    return `http://127.0.0.1:${this.portNumber}/api/v2/spans`;
  }

  /** True while listening. */
  get up(): boolean {
    return this.server !== undefined;
  }

  /** Takes the collector down: the port is closed, open connections are cut. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Brings the collector back on the same port. */
  async restart(): Promise<void> {
    if (this.server === undefined) await this.listen(this.portNumber);
  }

  /** Resolves once the collector has stored at least `count` spans. */
  async waitForSpans(count: number): Promise<void> {
    while (this.spans.length < count) await once(this, 'stored');
  }

  /** Resolves with the next POST received. */
  async nextPost(): Promise<ReceivedPost> {
    const [post] = (await once(this, 'post')) as [ReceivedPost];
    return post;
  }

  /** Resolves once at least `count` POSTs have arrived. */
  async waitForPosts(count: number): Promise<void> {
    while (this.posts.length < count) await once(this, 'post');
  }

  private async listen(port: number): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const gzipped = req.headers['content-encoding'] === 'gzip';
        let body: unknown;
        let problems: string[];
        try {
          body = JSON.parse((gzipped ? gunzipSync(raw) : raw).toString('utf8'));
          problems = req.method === 'POST' && req.url === '/api/v2/spans' ? zipkinBodyErrors(body) : [`${req.method} ${req.url}`];
        } catch (error) {
          problems = [`unreadable body: ${(error as Error).message}`];
        }
        const answer: CollectorAnswer = problems.length > 0 ? 400 : this.script.shift() ?? this.answer;
        const post: ReceivedPost = { headers: req.headers, body, bytes: raw.length, gzipped, answer, problems };
        const index = this.posts.push(post) - 1;
        for (const problem of problems) this.problems.push(`POST ${index}: ${problem}`);
        if (answer === 'hang') {
          this.emit('post', post);
          return;
        }
        if (answer >= 200 && answer < 300) {
          for (const span of body as Record<string, unknown>[]) this.spans.push(span);
        }
        res.writeHead(answer).end();
        this.emit('post', post);
        if (answer >= 200 && answer < 300) this.emit('stored');
      });
    });
    server.on('connection', (socket: Socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    this.portNumber = (server.address() as AddressInfo).port;
    this.server = server;
  }
}
