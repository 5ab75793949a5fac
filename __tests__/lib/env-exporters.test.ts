import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportersFromEnv, registerEnvExporter } from '../../lib/env-exporters';
import type { Exporter } from '../../lib/types';

const ROOT = join(__dirname, '..', '..');

function named(name: string): Exporter & { name: string } {
  return { name, export() {} };
}

describe('the registry of exporters the environment turns on', () => {
  it('builds one exporter per variable set, in registration order, ignoring blank values', () => {
    const a = `TEST_ENV_A_${process.pid}`;
    const b = `TEST_ENV_B_${process.pid}`;
    registerEnvExporter({ variable: a, create: (env) => named(`a:${env[a]}`) });
    registerEnvExporter({ variable: b, create: (env) => named(`b:${env[b]}`) });
    const names = (env: NodeJS.ProcessEnv) => exportersFromEnv(env).map((e) => (e as { name?: string }).name);
    expect(names({ [b]: '2', [a]: '1' })).toEqual(['a:1', 'b:2']);
    expect(names({ [a]: '  ', [b]: '2' })).toEqual(['b:2']);
    expect(names({})).toEqual([]);

    // Registering a variable again replaces its factory in place.
    registerEnvExporter({ variable: a, create: () => named('a again') });
    expect(names({ [a]: '1', [b]: '2' })).toEqual(['a again', 'b:2']);
  });

  it("a factory's TypeError reaches the caller (configure fails early on a wrong variable)", () => {
    const variable = `TEST_ENV_BAD_${process.pid}`;
    registerEnvExporter({
      variable,
      create() {
        throw new TypeError('bad value');
      },
    });
    expect(() => exportersFromEnv({ [variable]: 'x' })).toThrow('bad value');
  });
});

describe('lib/ does not know its exporters', () => {
  // STYLE rule 1: the core imports nothing from exporters/, middleware/ or integrations/.
  it.each(['lib', 'lib/metrics'])('no file in %s imports from exporters/, middleware/ or integrations/', (dir) => {
    let files: string[];
    try {
      files = readdirSync(join(ROOT, dir)).filter((f) => f.endsWith('.ts'));
    } catch {
      files = [];
    }
    const offenders = files.filter((file) =>
      /(?:from\s+|require\(\s*|import\(\s*)['"](?:\.\.\/)+(?:exporters|middleware|integrations)\//.test(
        readFileSync(join(ROOT, dir, file), 'utf8'),
      ),
    );
    expect(offenders).toEqual([]);
    if (dir === 'lib') expect(files.length).toBeGreaterThan(10);
  });
});
