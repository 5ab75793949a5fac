import { sanitizeSegment } from './statsd-names';

/** A rule's test: a glob over the metric path, or a function of the path and value. */
export type GraphiteRule = string | ((path: string, value: number) => boolean);

interface CompiledRule {
  readonly allow: boolean;
  readonly test: (path: string, value: number) => boolean;
}

/** Carbon's line receiver (Twisted's LineOnlyReceiver) drops the connection past 16384 bytes. */
export const MAX_LINE_BYTES = 16384;
/** One path segment is one directory or file name in carbon's whisper tree (NAME_MAX 255). */
export const MAX_SEGMENT_BYTES = 255;

/**
 * Turns a glob into a test of the whole path: `*` is any run of characters within one segment
 * (no dot), `**` any run across segments, `?` one character of a segment; the rest is literal.
 */
export function compileGlob(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        source += '.*';
        i++;
      } else {
        source += '[^.]*';
      }
    } else if (ch === '?') {
      source += '[^.]';
    } else {
      source += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
    }
  }
  return new RegExp('^' + source + '$');
}

/**
 * The `allow`/`forbid` rules of a Graphite exporter: the newest rule that matches a path decides,
 * and a path no rule matches is allowed. A function rule that throws matches nothing (the caller
 * reports it once).
 */
export class GraphiteRules {
  private rules: CompiledRule[] = [];
  /** Set when a function rule threw; read and cleared by the exporter to report it. */
  failure: unknown = undefined;

  add(allow: boolean, rule: GraphiteRule): void {
    let test: (path: string, value: number) => boolean;
    if (typeof rule === 'string') {
      const re = compileGlob(rule);
      test = (path) => re.test(path);
    } else {
      test = (path, value) => {
        try {
          return rule(path, value) === true;
        } catch (error) {
          this.failure = error;
          return false;
        }
      };
    }
    this.rules.push({ allow, test });
  }

  get size(): number {
    return this.rules.length;
  }

  allows(path: string, value: number): boolean {
    const rules = this.rules;
    for (let i = rules.length - 1; i >= 0; i--) {
      if (rules[i].test(path, value)) return rules[i].allow;
    }
    return true;
  }
}

/**
 * A number as carbon should store it: exactly (JavaScript's shortest round-trip form, which
 * Python's `float()` reads back to the same double), with `-0` as `0`. Undefined for NaN and
 * infinities, which carbon would drop.
 */
export function formatValue(value: number): string | undefined {
  if (!Number.isFinite(value)) return undefined;
  return value === 0 ? '0' : String(value);
}

/** What `snapshotLines` skipped, so the exporter can count and report it. */
export interface SkippedLines {
  /** Leaves whose value was NaN or infinite. */
  nonFinite: number;
  /** Leaves whose name had a segment over 255 bytes or whose line would pass 16 KB. */
  tooLong: number;
  /** Leaves a rule forbade. */
  forbidden: number;
  /** The first skipped path (for the diagnostic), if any was skipped for being unsendable. */
  example: string | undefined;
}

/** Segment names cached per raw key: a snapshot repeats the same keys every interval. */
const MAX_CACHED_SEGMENTS = 10000;

/**
 * Walks a snapshot tree and writes one plaintext line `path value timestamp\n` per numeric leaf,
 * each key sanitised as a segment (so `GET /users` stays one level: `GET_users`). Non-numeric
 * leaves (strings, booleans, null) are ignored. Rules see the path without the prefix.
 */
export class SnapshotLines {
  private readonly segments = new Map<string, string>();

  constructor(
    /** Sanitised prefix with a trailing dot, or `''`. */
    private readonly base: string,
    private readonly rules: GraphiteRules,
  ) {}

  /** Appends to `out` the lines of `tree` at `timestampSec`; returns what it skipped. */
  render(tree: unknown, timestampSec: number, out: string[]): SkippedLines {
    const skipped: SkippedLines = { nonFinite: 0, tooLong: 0, forbidden: 0, example: undefined };
    const suffix = ' ' + Math.floor(timestampSec) + '\n';
    if (tree !== null && typeof tree === 'object') this.walk(tree as Record<string, unknown>, '', suffix, out, skipped, 0);
    return skipped;
  }

  private walk(node: Record<string, unknown>, path: string, suffix: string, out: string[], skipped: SkippedLines, depth: number): void {
    // A snapshot is a tree of plain data; the bound only guards against a cyclic object.
    if (depth > 64) return;
    for (const key of Object.keys(node)) {
      const value = node[key];
      const segment = this.segment(key);
      const child = path === '' ? segment : path + '.' + segment;
      if (typeof value === 'number') {
        this.leaf(child, value, suffix, out, skipped);
      } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        this.walk(value as Record<string, unknown>, child, suffix, out, skipped, depth + 1);
      }
    }
  }

  private leaf(path: string, value: number, suffix: string, out: string[], skipped: SkippedLines): void {
    const text = formatValue(value);
    if (text === undefined) {
      skipped.nonFinite++;
      if (skipped.example === undefined) skipped.example = path;
      return;
    }
    if (this.rules.size > 0 && !this.rules.allows(path, value)) {
      skipped.forbidden++;
      return;
    }
    const line = this.base + path + ' ' + text + suffix;
    if (line.length > MAX_LINE_BYTES || hasLongSegment(this.base + path)) {
      skipped.tooLong++;
      if (skipped.example === undefined) skipped.example = path;
      return;
    }
    out.push(line);
  }

  private segment(key: string): string {
    let segment = this.segments.get(key);
    if (segment === undefined) {
      segment = sanitizeSegment(key);
      if (this.segments.size >= MAX_CACHED_SEGMENTS) this.segments.clear();
      this.segments.set(key, segment);
    }
    return segment;
  }
}

function hasLongSegment(path: string): boolean {
  if (path.length <= MAX_SEGMENT_BYTES) return false;
  let start = 0;
  for (;;) {
    const dot = path.indexOf('.', start);
    const end = dot === -1 ? path.length : dot;
    if (end - start > MAX_SEGMENT_BYTES) return true;
    if (dot === -1) return false;
    start = dot + 1;
  }
}
