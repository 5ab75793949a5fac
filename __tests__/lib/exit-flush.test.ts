/**
 * What is lost at exit, and what is not: each case runs a real script in a child process
 * (the compiled lib/), because `beforeExit`, `process.exit()` and signals are about the process
 * itself. The ConsoleExporter prints each trace to stdout, so stdout says what was exported.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { compileLib, removeDir } from '../helpers/core-fixtures';

let libDir: string;

beforeAll(() => {
  libDir = compileLib();
});

afterAll(() => removeDir(libDir));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `body` as a CommonJS script with `t` (the compiled lib) in scope. `onLine` sees stdout
 * line by line (to drive the child, e.g. signal it once it listens).
 */
async function runScript(body: string, nodeArgs: string[] = [], onLine?: (line: string, child: ReturnType<typeof spawn>) => void): Promise<Run> {
  const script = `const t = require(${JSON.stringify(libDir + '/lib')});\n${body}`;
  const child = spawn(process.execPath, [...nodeArgs, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let pending = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    pending += chunk;
    let newline: number;
    while ((newline = pending.indexOf('\n')) !== -1) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      onLine?.(line, child);
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  return { code, signal, stdout, stderr };
}

const TRACE = `
t.configure({ serviceName: 'script', exporters: [new t.ConsoleExporter()] });
t.trace('checkout', (span) => {
  span.tag('cart.items', 3);
  t.trace('charge card', () => t.annotate('card accepted'));
});
`;

describe('at exit', () => {
  it('a script that just ends exports what is queued (beforeExit flushes once)', async () => {
    const run = await runScript(`${TRACE}
process.on('exit', () => console.log('spansExported=' + t.stats().spansExported));`);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^trace [0-9a-f]{32}\ncheckout \[script\] {2}\d+\.\d\d ms at \+0\.00 ms\n/);
    expect(run.stdout).toContain('└─ charge card [script]');
    expect(run.stdout).toContain('· card accepted at +');
    expect(run.stdout).toContain('spansExported=2');
    expect(run.stderr).toBe('');
  });

  it('flushOnExit: false turns it off: the queue is never exported', async () => {
    const run = await runScript(`${TRACE.replace("serviceName: 'script',", "serviceName: 'script', flushOnExit: false,")}
process.on('exit', () => console.log('spansQueued=' + t.stats().spansQueued));`);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('spansQueued=2\n');
  });

  it('process.exit() skips beforeExit: without shutdown() first, queued spans are lost', async () => {
    const lost = await runScript(`${TRACE}\nprocess.exit(0);`);
    expect(lost.code).toBe(0);
    expect(lost.stdout).toBe('');
    const kept = await runScript(`${TRACE}\nt.shutdown().then(() => process.exit(0));`);
    expect(kept.stdout).toContain('└─ charge card [script]');
  });

  it('flushes once: work that a flush schedules does not make it flush forever', async () => {
    // An exporter that takes a timer tick per export keeps the loop alive once more after each
    // flush; beforeExit then fires again with nothing new, and the process ends.
    const run = await runScript(`
let exports = 0;
const slow = { export() { exports++; return new Promise((resolve) => setTimeout(resolve, 5)); } };
t.configure({ serviceName: 'script', exporters: [slow] });
t.trace('one', () => {});
let rounds = 0;
process.on('beforeExit', () => rounds++);
process.on('exit', () => console.log(JSON.stringify({ exports, rounds, exported: t.stats().spansExported })));`);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as { exports: number; rounds: number; exported: number };
    expect(result.exports).toBe(1);
    expect(result.exported).toBe(1);
    expect(result.rounds).toBeGreaterThanOrEqual(2);
    expect(result.rounds).toBeLessThan(5);
  });

  it('SIGTERM with the graceful-shutdown recipe: in-flight requests finish and their spans are exported', async () => {
    const run = await runScript(
      `
const http = require('node:http');
t.configure({ serviceName: 'server', exporters: [new t.ConsoleExporter()] });
const server = http.createServer((req, res) => {
  t.trace('GET /slow', async () => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    res.end('done');
  }, { kind: 'SERVER' });
});
process.on('SIGTERM', () => {
  server.close(async () => {        // stop accepting; the callback runs once in-flight requests end
    await t.shutdown();             // flush what is queued, close the exporters
    process.exit(0);
  });
});
server.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port));`,
      [],
      (line, child) => {
        const match = /^port (\d+)$/.exec(line);
        if (match === null) return;
        // One request in flight, then the signal while it is still running.
        const request = require('node:http').get(`http://127.0.0.1:${match[1]}/`, (res: NodeJS.ReadableStream) => {
          res.resume();
        });
        request.on('socket', () => setImmediate(() => child.kill('SIGTERM')));
      },
    );
    expect(run.signal).toBeNull();
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/GET \/slow \[server\] server {2}\d+\.\d\d ms/);
  });

  it('a signal with no handler kills the process: beforeExit never runs, queued spans are lost', async () => {
    const run = await runScript(`${TRACE}
process.kill(process.pid, 'SIGTERM');
setTimeout(() => {}, 10000);`);
    expect(run.signal).toBe('SIGTERM');
    expect(run.stdout).toBe('');
  });
});

describe('spans that never end', () => {
  it('stats().spansOpen counts them, and exit reports the ones start() opened', async () => {
    const run = await runScript(`
t.configure({ serviceName: 'script', exporters: [new t.MemoryExporter()] });
t.start('never stopped');
t.trace('fine', () => {});
console.log(JSON.stringify(t.stats()));
process.on('warning', (w) => console.log('warning ' + w.code + ' ' + w.message));`);
    expect(run.code).toBe(0);
    const [statsLine, ...rest] = run.stdout.trim().split('\n');
    expect(JSON.parse(statsLine)).toMatchObject({ spansStarted: 2, spansFinished: 1, spansOpen: 1 });
    expect(rest).toEqual(['warning TOMOGRAPH_SPAN_NOT_ENDED tomograph: 1 span opened with start() never stopped; not exported']);
  });

  it('a start() span that nothing references any more is reported when it is garbage-collected', async () => {
    const run = await runScript(
      `
const events = [];
t.configure({ serviceName: 'script', exporters: [new t.MemoryExporter()], flushOnExit: false, onDiagnostic: (e) => events.push(e) });
t.trace('scope', () => { t.start('forgotten'); });   // the scope ends, the span is never stopped
const stopped = t.trace('scope', () => { const s = t.start('stopped'); t.stop('stopped'); return s; });
(async () => {
  // Finalizers run in a task some time after a collection: collect until it came (bounded).
  for (let i = 0; i < 50 && events.length === 0; i++) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  console.log(JSON.stringify(events));
})();`,
      ['--expose-gc'],
    );
    expect(run.code).toBe(0);
    const events = JSON.parse(run.stdout) as { code: string; message: string; detail: unknown }[];
    expect(events).toEqual([
      {
        code: 'TOMOGRAPH_SPAN_NOT_ENDED',
        message: 'tomograph: span "forgotten" was opened with start() and never stopped; it is lost',
        detail: { name: 'forgotten' },
      },
    ]);
  });
});

describe('continueTrace in a process that never configured', () => {
  it('runs the function and warns once, naming the cause', async () => {
    const run = await runScript(`
process.on('warning', (w) => console.log('warning ' + w.code));
const results = [t.continueTrace(undefined, 'job', () => 1), t.continueTrace('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'job', () => 2)];
setImmediate(() => console.log(results.join(',')));`);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('warning TOMOGRAPH_NOT_CONFIGURED\n1,2\n');
    expect(run.stderr).toContain('continueTrace() before configure()');
  });
});
