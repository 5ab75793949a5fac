import type { FinishedSpan } from './types';

/** Options for `renderTraceTree`. */
export interface TreeOptions {
  /** Show each span's tags. Default false. */
  tags?: boolean;
  /** Show each span's service beside its name. Default true. */
  services?: boolean;
}

/**
 * Renders the spans of one trace as an indented tree: each span with its duration and its start
 * relative to the earliest moment in the trace (never negative), notes under their span,
 * failures marked. Spans whose parent
 * is not among `spans` (it ran in another process) become roots of their own.
 */
export function renderTraceTree(spans: readonly FinishedSpan[], options: TreeOptions = {}): string {
  if (spans.length === 0) return '';
  const byId = new Set(spans.map((span) => span.id));
  const children = new Map<string | undefined, FinishedSpan[]>();
  for (const span of spans) {
    const key = span.parentId !== undefined && byId.has(span.parentId) ? span.parentId : undefined;
    const list = children.get(key);
    if (list === undefined) children.set(key, [span]);
    else list.push(span);
  }
  for (const list of children.values()) list.sort((a, b) => a.timestamp - b.timestamp);
  // The origin is the earliest moment shown, notes included: a note may begin before its span
  // (Knex's `pool.acquire` wait starts when the query is awaited), and no offset is negative.
  let originUs = Infinity;
  for (const span of spans) {
    if (span.timestamp < originUs) originUs = span.timestamp;
    for (const note of span.notes) if (note.timestamp < originUs) originUs = note.timestamp;
  }
  const lines = [`trace ${spans[0].traceId}`];

  const visit = (span: FinishedSpan, prefix: string, last: boolean, root: boolean): void => {
    const branch = root ? '' : last ? '└─ ' : '├─ ';
    lines.push(prefix + branch + describe(span, originUs, options));
    const inner = root ? '' : prefix + (last ? '   ' : '│  ');
    const kids = children.get(span.id) ?? [];
    const rail = kids.length > 0 ? '│ ' : '  ';
    for (const note of span.notes) {
      const took = note.duration !== undefined ? ` (${ms(note.duration)})` : '';
      lines.push(`${inner}${rail} · ${note.value} at +${ms(note.timestamp - originUs)}${took}`);
    }
    if (options.tags === true) {
      for (const key of Object.keys(span.tags)) lines.push(`${inner}${rail}   ${key}=${String(span.tags[key])}`);
    }
    kids.forEach((child, i) => visit(child, inner, i === kids.length - 1, false));
  };
  const roots = children.get(undefined) ?? [];
  roots.forEach((span) => visit(span, '', true, true));
  return lines.join('\n');
}

function describe(span: FinishedSpan, originUs: number, options: TreeOptions): string {
  const service = options.services === false ? '' : ` [${span.service}]`;
  const kind = span.kind !== undefined ? ` ${span.kind.toLowerCase()}` : '';
  const error = span.error !== undefined ? `  ✗ ${span.error}` : '';
  return `${span.name}${service}${kind}  ${ms(span.duration)} at +${ms(span.timestamp - originUs)}${error}`;
}

/** Microseconds as milliseconds with two decimals. */
function ms(us: number): string {
  return `${(us / 1000).toFixed(2)} ms`;
}
