/**
 * The smallest traced system: an HTTP server that continues incoming traces, does two steps of
 * work, and calls itself once with the trace headers injected, so one trace spans two requests.
 * Each finished trace prints as a tree. Run: `npm run build && node dist/examples/hello.js`.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConsoleExporter, annotate, configure, extract, inject, shutdown, trace } from '../lib';

configure({ serviceName: 'hello', exporters: [new ConsoleExporter()], scheduledDelayMs: 50 });

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function handle(req: IncomingMessage, res: ServerResponse, port: number): Promise<void> {
  const name = `${req.method} ${req.url}`;
  return trace(
    name,
    async (span) => {
      span.tag('http.path', req.url ?? '/');
      if (req.url === '/hello') {
        await trace('load user', async () => {
          await wait(3);
          annotate('cache miss');
        });
        const greeting = await trace('GET /greeting', () => get(port, '/greeting'), { kind: 'CLIENT' });
        res.end(greeting);
      } else {
        await trace('render', () => wait(2));
        res.end('hello, traced world');
      }
      span.tag('http.status_code', res.statusCode);
    },
    { parent: extract(req.headers) ?? null, kind: 'SERVER' },
  );
}

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: inject({}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

async function main(): Promise<void> {
  const server = createServer((req, res) => void handle(req, res, (server.address() as AddressInfo).port));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const body = await get(port, '/hello');
  process.stdout.write(`response: ${body}\n\n`);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await shutdown();
}

void main();
