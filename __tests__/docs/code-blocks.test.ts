/**
 * Every code block in README.md and docs/*.md runs as written, against the built package.
 *
 * The convention (docs/code-examples.md, linked from the README):
 * - A block fenced ```js or ```ts is a complete program. It is run with Node from inside a
 *   private build of the package (helpers/built-package.ts), so `tomograph` and `tomograph/...`
 *   resolve to the built dist/ and other imports to the repository's node_modules. A `ts` block
 *   is transpiled to an ES module (top-level `await` allowed); a `js` block is CommonJS unless it
 *   uses `import`. It must exit with code 0 by itself within BLOCK_TIMEOUT_MS.
 * - ```js fragment / ```ts fragment (any extra word after the language) is not run.
 * - `<!-- output -->` on the line before a ```text block: that block is what the nearest
 *   runnable block above it prints on stdout. `<!-- sends -->` instead: the StatsD lines it sends.
 *   Lines are compared after every hex id (16+ digits) and every number is made a placeholder,
 *   so timings and ids may differ; blank lines are ignored; a line `…` stands for any number of
 *   lines; `<host>` stands for this machine's host name as a StatsD segment.
 * - Each program runs with PORT=0 (servers: `app.listen(process.env.PORT ?? 3000)`), and with
 *   TOMOGRAPH_STATSD_HOST/PORT and TOMOGRAPH_ZIPKIN_URL pointing at a UDP sink and a collector
 *   on 127.0.0.1 that this test runs, so exporters left at their defaults send here.
 *
 * Files are discovered, not listed: every docs/*.md page takes part as soon as it exists.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { type BuiltPackage, buildPackage, docFiles, REPO_ROOT } from '../helpers/built-package';

const BLOCK_TIMEOUT_MS = 20_000;

/** One fenced block of a Markdown file. */
export interface CodeBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  /** Words after the language (`fragment`). */
  flags: string[];
  code: string;
  /** The HTML comment on the line before the fence, if any (`output`, `sends`). */
  label: string | undefined;
}

/** The fenced blocks of a Markdown text, in order. Fences are ``` at the start of a line. */
export function parseBlocks(file: string, text: string): CodeBlock[] {
  const lines = text.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})\s*([\w-]*)\s*(.*)$/.exec(lines[i]);
    if (open === null) continue;
    const fence = open[1];
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j].startsWith(fence)) body.push(lines[j++]);
    let k = i - 1;
    while (k >= 0 && lines[k].trim() === '') k--;
    const comment = k >= 0 ? /^<!--\s*([\w-]+)\s*-->$/.exec(lines[k].trim()) : null;
    blocks.push({
      file,
      line: i + 1,
      lang: open[2].toLowerCase(),
      flags: open[3].split(/\s+/).filter(Boolean),
      code: body.join('\n') + '\n',
      label: comment === null ? undefined : comment[1],
    });
    i = j;
  }
  return blocks;
}

/** A runnable block and what the text says it prints or sends. */
interface Example {
  block: CodeBlock;
  output: string | undefined;
  sends: string | undefined;
}

function examples(blocks: CodeBlock[]): Example[] {
  const result: Example[] = [];
  for (const block of blocks) {
    const runnable = (block.lang === 'js' || block.lang === 'ts') && block.flags.length === 0;
    if (runnable) result.push({ block, output: undefined, sends: undefined });
    else if (block.lang === 'text' && (block.label === 'output' || block.label === 'sends')) {
      const last = result[result.length - 1];
      if (last === undefined) throw new Error(`${block.file}:${block.line}: <!-- ${block.label} --> with no runnable block above it`);
      last[block.label === 'output' ? 'output' : 'sends'] = block.code;
    }
  }
  return result;
}

const HOST_SEGMENT = hostname().replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '') || '_';

/** Ids and numbers made placeholders, so timings and random ids compare equal. */
function normalise(line: string): string {
  return line
    .replace(/<host>/g, HOST_SEGMENT)
    .replace(/\b[0-9a-f]{16,32}\b/g, '<id>')
    .replace(/\d+(\.\d+)?/g, '<n>')
    .trimEnd();
}

/** Whether `actual` matches `expected` line by line, where an expected `…` line matches any lines. */
export function matchesLines(expected: string, actual: string): boolean {
  // Blank lines are left out: where a program's own lines and an exporter's trees meet, the
  // spacing depends on which came first.
  const want = expected.split('\n').map(normalise).filter((line) => line !== '');
  const got = actual.split('\n').map(normalise).filter((line) => line !== '');
  const memo = new Map<string, boolean>();
  const match = (w: number, g: number): boolean => {
    const key = `${w},${g}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    if (w === want.length) result = g === got.length;
    else if (want[w].trim() === '…') result = match(w + 1, g) || (g < got.length && match(w, g + 1));
    else result = g < got.length && want[w] === got[g] && match(w + 1, g + 1);
    memo.set(key, result);
    return result;
  };
  return match(0, 0);
}

const files = ['README.md', ...docFiles().map((file) => `docs/${file}`)];
const all = files.flatMap((file) => examples(parseBlocks(file, readFileSync(join(REPO_ROOT, file), 'utf8'))));

let built: BuiltPackage;
let dir: string;
let sink: dgram.Socket;
let statsdLines: string[] = [];
let collector: http.Server;
let zipkinPosts = 0;

beforeAll(async () => {
  built = await buildPackage();
  dir = join(built.root, 'doc-blocks');
  mkdirSync(dir);
  sink = dgram.createSocket('udp4');
  sink.on('message', (message) => statsdLines.push(...message.toString('utf8').split('\n').filter(Boolean)));
  sink.bind(0, '127.0.0.1');
  await once(sink, 'listening');
  collector = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      zipkinPosts++;
      res.statusCode = 202;
      res.end();
    });
  });
  collector.listen(0, '127.0.0.1');
  await once(collector, 'listening');
}, 180_000);

afterAll(async () => {
  sink?.close();
  await new Promise((resolve) => (collector ? collector.close(resolve) : resolve(undefined)));
  built?.remove();
});

/** The block as a file Node runs: .mjs for ES modules (every ts block), else .cjs. */
function writeProgram(block: CodeBlock, index: number): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require('typescript') as typeof import('typescript');
  const base = join(dir, `${block.file.replace(/\W+/g, '_')}_${block.line}_${index}`);
  if (block.lang === 'ts') {
    const { outputText } = ts.transpileModule(block.code, {
      fileName: base + '.ts',
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, experimentalDecorators: /@\w+\(/.test(block.code) },
    });
    writeFileSync(base + '.mjs', outputText);
    return base + '.mjs';
  }
  const esm = /^\s*(import|export)\s/m.test(block.code);
  writeFileSync(base + (esm ? '.mjs' : '.cjs'), block.code);
  return base + (esm ? '.mjs' : '.cjs');
}

async function runProgram(path: string): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  const { port } = sink.address();
  const child = spawn(process.execPath, [path], {
    cwd: dir,
    env: {
      ...process.env,
      PORT: '0',
      TOMOGRAPH_STATSD_HOST: '127.0.0.1',
      TOMOGRAPH_STATSD_PORT: String(port),
      TOMOGRAPH_ZIPKIN_URL: `http://127.0.0.1:${(collector.address() as AddressInfo).port}/api/v2/spans`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), BLOCK_TIMEOUT_MS);
  const [code, signal] = (await once(child, 'close')) as [number | null, string | null];
  clearTimeout(timer);
  return { code, signal, stdout, stderr };
}

/** Waits (bounded) for StatsD lines still on their way over loopback UDP. */
async function statsdSettled(expectedLines: number): Promise<void> {
  for (let i = 0; i < 50 && statsdLines.length < expectedLines; i++) {
    await Promise.race([once(sink, 'message'), new Promise((resolve) => setTimeout(resolve, 100).unref())]);
  }
}

describe('the convention', () => {
  it('parses fences, flags and labels', () => {
    const blocks = parseBlocks('x.md', ['```js', 'a', '```', '', '<!-- output -->', '```text', 'b', '```', '```ts fragment', 'c', '```'].join('\n'));
    expect(blocks.map((b) => [b.lang, b.flags, b.label, b.code])).toEqual([
      ['js', [], undefined, 'a\n'],
      ['text', [], 'output', 'b\n'],
      ['ts', ['fragment'], undefined, 'c\n'],
    ]);
    expect(examples(blocks).map((e) => [e.block.code, e.output])).toEqual([['a\n', 'b\n']]);
  });

  it('matches lines modulo ids and numbers, with … for any lines', () => {
    expect(matchesLines('trace <id>\nwork  1.00 ms\n…\nend\n', 'trace 4bf92f3577b34da6a3ce929d0e0e4736\nwork  12.48 ms\nx\ny\nend\n')).toBe(true);
    expect(matchesLines('work\n', 'other\n')).toBe(false);
    expect(matchesLines('a\n', 'a\nb\n')).toBe(false);
  });

  it('finds runnable examples in README.md', () => {
    expect(all.filter((example) => example.block.file === 'README.md').length).toBeGreaterThan(5);
  });
});

describe.each(files)('%s', (file) => {
  const mine = all.filter((example) => example.block.file === file);
  if (mine.length === 0) {
    it('has no runnable blocks', () => expect(mine).toEqual([]));
    return;
  }
  it.each(mine.map((example, index) => [`line ${example.block.line} (${example.block.lang})`, example, index] as const))(
    'the block at %s runs as written',
    async (_label, example, index) => {
      statsdLines = [];
      zipkinPosts = 0;
      const program = writeProgram(example.block, index);
      const result = await runProgram(program);
      const where = `${file}:${example.block.line} (${program})\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
      if (result.code !== 0) throw new Error(`exited with ${result.code ?? result.signal}: ${where}`);
      if (example.output !== undefined && !matchesLines(example.output, result.stdout)) {
        throw new Error(`printed something else than the text says\n--- the text says\n${example.output}\n${where}`);
      }
      if (example.sends !== undefined) {
        const expected = example.sends.trim().split('\n').length;
        await statsdSettled(expected);
        if (!matchesLines(example.sends, statsdLines.join('\n'))) {
          throw new Error(`sent other StatsD lines than the text says\n--- the text says\n${example.sends}\n--- sent\n${statsdLines.join('\n')}\n${where}`);
        }
      }
    },
    BLOCK_TIMEOUT_MS + 10_000,
  );
});
