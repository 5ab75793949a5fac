/**
 * The package as a user installs it, for tests of what ships: `buildPackage()` compiles it
 * (tsconfig.build.json) into a fresh temp directory beside copies of package.json, LICENSE,
 * README.md and docs/*.md, with node_modules linked to the repository's. Files placed inside
 * that directory resolve `tomograph` and `tomograph/...` through the package's own `exports`
 * (Node's self-reference), so they run against THIS build, never the sources, and never the
 * repository's dist/, which other work may rebuild at any moment.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const REPO_ROOT = join(__dirname, '..', '..');

/** A private build of the package. */
export interface BuiltPackage {
  /** The package root: package.json, LICENSE, README.md, docs/, dist/, node_modules -> the repository's. */
  root: string;
  remove(): void;
}

/** Compiles the package into a fresh temp directory; rejects with tsc's output if it fails. */
export async function buildPackage(): Promise<BuiltPackage> {
  const root = mkdtempSync(join(tmpdir(), `tomograph-pkg-${process.pid}-`));
  const remove = (): void => rmSync(root, { recursive: true, force: true });
  try {
    const tsc = require.resolve('typescript/bin/tsc');
    await promisify(execFile)(process.execPath, [tsc, '-p', join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', join(root, 'dist')], {
      cwd: REPO_ROOT,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((error: { stdout?: string; message: string }) => {
      throw new Error(`tsc -p tsconfig.build.json failed:\n${error.stdout ?? error.message}`);
    });
    for (const file of ['package.json', 'LICENSE', 'README.md']) {
      if (existsSync(join(REPO_ROOT, file))) copyFileSync(join(REPO_ROOT, file), join(root, file));
    }
    mkdirSync(join(root, 'docs'));
    for (const file of docFiles()) copyFileSync(join(REPO_ROOT, 'docs', file), join(root, 'docs', file));
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
    return { root, remove };
  } catch (error) {
    remove();
    throw error;
  }
}

/** The Markdown files in docs/ (names only), found rather than listed: others add pages. */
export function docFiles(): string[] {
  const dir = join(REPO_ROOT, 'docs');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((file) => file.endsWith('.md')).sort();
}
