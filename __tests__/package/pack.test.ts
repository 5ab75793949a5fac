/**
 * What `npm pack` ships: what a user needs and nothing else. The package is built into a temp
 * directory (helpers/built-package.ts) and `npm pack --dry-run --json` lists the tarball there,
 * so the repository's own dist/ is never touched. A TypeScript consumer then compiles against
 * the built types (`nodenext`, as a user's ESM app resolves them) to show they are complete.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import { type BuiltPackage, buildPackage, REPO_ROOT } from '../helpers/built-package';

const run = promisify(execFile);

interface PackageJson {
  license: string;
  files: string[];
  scripts: Record<string, string>;
  exports: Record<string, string | { types: string; default: string }>;
  bin?: Record<string, string>;
}

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as PackageJson;
let built: BuiltPackage;
let files: string[];

beforeAll(async () => {
  built = await buildPackage();
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  // --ignore-scripts: prepack would rebuild dist/; here the build above is what is packed.
  const { stdout } = await run(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: built.root, maxBuffer: 16 * 1024 * 1024 });
  files = (JSON.parse(stdout) as { files: { path: string }[] }[])[0].files.map((file) => file.path).sort();
}, 180_000);

afterAll(() => built?.remove());

/** The source file a dist path is built from, if it exists (other work may add entry points later). */
function sourceOf(distPath: string): string | undefined {
  const source = join(REPO_ROOT, distPath.replace(/^\.\/dist\//, '').replace(/\.(d\.ts|js)$/, '.ts'));
  return existsSync(source) ? source : undefined;
}

describe('npm pack', () => {
  it('ships the license, the readme, package.json, the compiled runtime and its reference docs', () => {
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/lib/index.js', 'dist/lib/index.d.ts']));
    for (const file of files) {
      expect(file).toMatch(/^(LICENSE|README\.md|package\.json|docs\/[^/]+\.md|dist\/index\.(js|d\.ts)|dist\/(lib|exporters|middleware|integrations|bin)\/.+\.(js|d\.ts))$/);
    }
  });

  it('ships no demo, example, test, benchmark, source map or TypeScript source', () => {
    for (const file of files) {
      expect(file).not.toMatch(/(^|\/)(examples|demo|__tests__|bench|fixtures)\//);
      expect(file).not.toMatch(/\.map$/);
      expect(file).not.toMatch(/(?<!\.d)\.ts$/);
    }
  });

  it('has every entry point of "exports" (and the bin) whose source exists, with its types', () => {
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue; // ./package.json
      if (sourceOf(target.default) === undefined) continue;
      expect([subpath, files.includes(target.default.slice(2))]).toEqual([subpath, true]);
      expect([subpath, files.includes(target.types.slice(2))]).toEqual([subpath, true]);
    }
    for (const target of Object.values(pkg.bin ?? {})) {
      if (sourceOf('./' + target) !== undefined) expect(files).toContain(target);
    }
  });

  it('has a .d.ts beside every .js, and every relative import in the types resolves inside the tarball', () => {
    const packed = new Set(files);
    for (const file of files) {
      if (file.endsWith('.js')) expect([file, packed.has(file.replace(/\.js$/, '.d.ts'))]).toEqual([file, true]);
      if (!file.endsWith('.d.ts')) continue;
      const text = readFileSync(join(built.root, file), 'utf8');
      for (const match of text.matchAll(/from '(\.{1,2}\/[^']+)'|import\('(\.{1,2}\/[^']+)'\)/g)) {
        const target = posix.normalize(posix.join(posix.dirname(file), match[1] ?? match[2]));
        const found = packed.has(target + '.d.ts') || packed.has(target + '/index.d.ts');
        expect([file, match[0], found]).toEqual([file, match[0], true]);
      }
    }
  });

  it('builds before packing (prepack), and says MIT in package.json and LICENSE alike', () => {
    expect(pkg.scripts.prepack).toMatch(/npm run build/);
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(join(REPO_ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n/);
  });

  it('its types are complete: a TypeScript ESM app (nodenext) compiles against every entry point', async () => {
    const app = join(built.root, 'consumer');
    mkdirSync(join(app, 'node_modules'), { recursive: true });
    symlinkSync(built.root, join(app, 'node_modules', 'tomograph'), 'dir');
    const imports: string[] = [];
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string' || sourceOf(target.default) === undefined) continue;
      imports.push(`import * as m${imports.length} from '${posix.join('tomograph', subpath)}';`);
    }
    writeFileSync(join(app, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(
      join(app, 'app.ts'),
      `${imports.join('\n')}
import { configure, trace, stats, type FinishedSpan, type TracerOptions } from 'tomograph';
const options: TracerOptions = { serviceName: 'app', flushOnExit: true, resource: { 'service.version': '1.0.0' } };
configure(options);
const n: number = await trace('work', async (span) => { span.tag('k', 1).annotate('note'); return stats().spansOpen; });
const span: FinishedSpan | undefined = undefined;
export { n, span, ${imports.map((_, i) => `m${i}`).join(', ')} };
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [join(REPO_ROOT, 'node_modules', '@types')] },
        files: ['app.ts'],
      }),
    );
    const tsc = require.resolve('typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', join(app, 'tsconfig.json')], { cwd: app }).then(
      () => '',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    // Errors inside node_modules other than tomograph's own (a dependency's types) are not ours.
    const ours = result.split('\n').filter((line) => /^(app\.ts|node_modules\/tomograph\/)/.test(line) && !line.includes('/node_modules/tomograph/node_modules/'));
    expect(ours).toEqual([]);
    expect(dirname(app)).toBe(built.root);
  }, 120_000);
});
