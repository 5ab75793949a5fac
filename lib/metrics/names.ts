import { codes } from '../codes';
import type { MetricLevel } from './types';

/** Levels, lowest first; a metric's rank is its index here. */
export const LEVELS: readonly MetricLevel[] = ['debug', 'info', 'warn', 'error', 'critical'];

/** A TypeError with the stable code users match on. */
export function invalidOption(message: string): TypeError {
  const error = new TypeError(`tomograph: ${message}`) as TypeError & { code: string };
  error.code = codes.INVALID_OPTION;
  return error;
}

/** The rank of a level (0 = debug); throws a TypeError on anything else. */
export function levelRank(level: unknown, what = 'level'): number {
  const rank = LEVELS.indexOf(level as MetricLevel);
  if (rank < 0) {
    throw invalidOption(`${what} must be one of ${LEVELS.map((l) => `'${l}'`).join(', ')}, not ${String(level)}`);
  }
  return rank;
}

// Dotted paths of segments Graphite, StatsD and the stats page all take as they are.
const NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const MAX_NAME_LENGTH = 200;

/** Checks a metric path (`web.requests`): dot-separated segments of `[A-Za-z0-9_-]`. */
export function checkName(name: unknown, what = 'metric name'): string {
  if (typeof name !== 'string' || name.length > MAX_NAME_LENGTH || !NAME.test(name)) {
    throw invalidOption(
      `${what} must be a dotted path of segments made of [A-Za-z0-9_-] (at most ${MAX_NAME_LENGTH} characters), not ${JSON.stringify(name)}`,
    );
  }
  return name;
}

// Prometheus' label-name grammar, without its reserved `__` prefix.
const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Checks declared label names: Prometheus' grammar, no `__` prefix, no duplicates. */
export function checkLabelNames(labels: unknown): readonly string[] {
  if (labels === undefined) return [];
  if (!Array.isArray(labels)) throw invalidOption('labels must be an array of label names');
  const seen = new Set<string>();
  for (const label of labels) {
    if (typeof label !== 'string' || !LABEL_NAME.test(label) || label.startsWith('__')) {
      throw invalidOption(`label name ${JSON.stringify(label)} must match [A-Za-z_][A-Za-z0-9_]* and not start with __`);
    }
    if (seen.has(label)) throw invalidOption(`label name ${JSON.stringify(label)} is declared twice`);
    seen.add(label);
  }
  return Object.freeze([...labels] as string[]);
}

/**
 * A glob over dotted paths as a RegExp: `*` is one segment (or part of one), `**` any number of
 * segments (at least one). Everything else is literal.
 */
export function globToRegExp(glob: unknown): RegExp {
  if (typeof glob !== 'string' || glob === '') throw invalidOption(`glob must be a non-empty string, not ${String(glob)}`);
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      source += '.+';
      i++;
    } else if (c === '*') {
      source += '[^.]*';
    } else {
      source += c.replace(/[\\^$+?.()|[\]{}]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}
