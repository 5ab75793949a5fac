/**
 * The stats page's `?query=` filter and subtree paths, on the plain data of `snapshot()`.
 * scales' query language: `<key>` alone, or `<key> <op> <value>` with op one of
 * `>= > <= < = == !=` (scales swapped `<` and `<=`; here each means what it says).
 */

/** A comparison operator of `?query=`. */
export type QueryOperator = '>=' | '>' | '<=' | '<' | '=' | '==' | '!=';

/** A parsed `?query=`. */
export interface StatsQuery {
  /** The leaf key to match; `*` matches any run of characters. */
  readonly key: string;
  readonly op?: QueryOperator;
  /** The right-hand side as written. */
  readonly value?: string;
}

/** A plain-data tree: what `snapshot()` returns. */
export type StatsTree = { [key: string]: StatsValue };
export type StatsValue = number | string | boolean | null | StatsTree;

const QUERY = /^\s*([^\s<>=!]+)\s*(?:(>=|<=|==|!=|>|<|=)\s*([^\s<>=!](?:.*\S)?))?\s*$/s;
const NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?$/i;
/** The longest query accepted; anything longer is a 400, never a slow match. */
export const MAX_QUERY_LENGTH = 256;

/** Parses `?query=`; a string describing the mistake when it is not one. */
export function parseQuery(text: string): StatsQuery | string {
  if (text.length > MAX_QUERY_LENGTH) return `query is longer than ${MAX_QUERY_LENGTH} characters`;
  const match = QUERY.exec(text);
  if (match === null) return 'query must be "<key>" or "<key> <op> <value>" with op one of >= > <= < = == !=';
  const [, key, op, value] = match;
  return op === undefined ? { key } : { key, op: op as QueryOperator, value };
}

/** Whether `key` matches the query's key (`*` as a wildcard). */
function keyMatcher(pattern: string): (key: string) => boolean {
  if (!pattern.includes('*')) return (key) => key === pattern;
  const source = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  const regexp = new RegExp(`^${source}$`, 's');
  return (key) => regexp.test(key);
}

/**
 * Whether leaf `value` satisfies `op expected`. Numbers compare as numbers when `expected` is
 * numeric; `=`, `==` and `!=` also compare text; an ordering against text never matches.
 */
export function compare(value: StatsValue, op: QueryOperator, expected: string): boolean {
  const numeric = NUMBER.test(expected) ? Number(expected) : undefined;
  if (typeof value === 'number' && numeric !== undefined) {
    switch (op) {
      case '>=': return value >= numeric;
      case '>': return value > numeric;
      case '<=': return value <= numeric;
      case '<': return value < numeric;
      case '=':
      case '==': return value === numeric;
      case '!=': return value !== numeric;
    }
  }
  if (op === '=' || op === '==') return String(value) === expected;
  if (op === '!=') return String(value) !== expected;
  return false;
}

/**
 * The tree with only the leaves (non-object values) whose key matches the query, at any depth,
 * and the objects above them; undefined when nothing matches.
 */
export function filterTree(tree: StatsTree, query: StatsQuery): StatsTree | undefined {
  const matches = keyMatcher(query.key);
  const walk = (node: StatsTree): StatsTree | undefined => {
    let kept: StatsTree | undefined;
    for (const key of Object.keys(node)) {
      const value = node[key];
      let keep: StatsValue | undefined;
      if (value !== null && typeof value === 'object') keep = walk(value);
      else if (matches(key) && (query.op === undefined || compare(value, query.op, query.value as string))) keep = value;
      if (keep !== undefined) (kept ??= {})[key] = keep;
    }
    return kept;
  };
  return walk(tree);
}

/**
 * The subtree at a URL path below the mount (`/web/latency`, or `/web.latency`): `'/'` is the
 * whole tree. Each URL segment is tried whole first (a label key may hold dots), then split on
 * dots. Undefined for an unknown path. `path` segments are percent-decoded here.
 */
export function subtree(tree: StatsTree, path: string): { keys: string[]; value: StatsValue } | undefined {
  const keys: string[] = [];
  let node: StatsValue = tree;
  for (const raw of path.split('/')) {
    if (raw === '') continue;
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (node === null || typeof node !== 'object') return undefined;
    if (Object.prototype.hasOwnProperty.call(node, segment)) {
      keys.push(segment);
      node = node[segment];
      continue;
    }
    for (const part of segment.split('.')) {
      if (part === '' || node === null || typeof node !== 'object' || !Object.prototype.hasOwnProperty.call(node, part)) return undefined;
      keys.push(part);
      node = (node as StatsTree)[part];
    }
  }
  return { keys, value: node };
}
