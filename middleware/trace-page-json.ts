import type { Endpoint, FinishedSpan, Note, TagValue } from '../lib/types';

/** A span as `traces.json?id=` sends it: the FinishedSpan fields, bounded, without `localParent`. */
export interface SpanJson {
  id: string;
  parentId?: string;
  name: string;
  service: string;
  kind?: string;
  host?: { address?: string; port?: number };
  remote?: Endpoint;
  /** Start, epoch microseconds. */
  timestamp: number;
  /** Microseconds. */
  duration: number;
  notes: Note[];
  tags: Record<string, TagValue>;
  error?: string;
  /** Set when notes, tags or long strings were cut to keep the response small. */
  truncated?: true;
}

/** Notes sent per span at most. */
export const MAX_NOTES = 200;
/** Tags sent per span at most. */
export const MAX_TAGS = 100;
/** Characters sent per string at most (a long SQL statement, say). */
export const MAX_STRING = 4000;

/** One span for the browser: bounded, so a span with a million notes cannot stall the page. */
export function spanToJson(span: FinishedSpan): SpanJson {
  const cut = { truncated: false };
  const json: SpanJson = {
    id: span.id,
    name: text(span.name, cut),
    service: text(span.service, cut),
    timestamp: span.timestamp,
    duration: span.duration,
    notes: [],
    tags: {},
  };
  if (span.parentId !== undefined) json.parentId = span.parentId;
  if (span.kind !== undefined) json.kind = span.kind;
  if (span.host !== undefined) json.host = endpoint(span.host, cut);
  if (span.remote !== undefined) json.remote = endpoint(span.remote, cut);
  const notes = span.notes ?? [];
  for (let i = 0; i < notes.length && i < MAX_NOTES; i++) {
    const note = notes[i];
    json.notes.push(
      note.duration === undefined
        ? { timestamp: note.timestamp, value: text(note.value, cut) }
        : { timestamp: note.timestamp, value: text(note.value, cut), duration: note.duration },
    );
  }
  if (notes.length > MAX_NOTES) cut.truncated = true;
  const keys = Object.keys(span.tags ?? {});
  for (let i = 0; i < keys.length && i < MAX_TAGS; i++) {
    const value = span.tags[keys[i]];
    json.tags[text(keys[i], cut)] = typeof value === 'string' ? text(value, cut) : value;
  }
  if (keys.length > MAX_TAGS) cut.truncated = true;
  if (span.error !== undefined) json.error = text(span.error, cut);
  if (cut.truncated) json.truncated = true;
  return json;
}

/**
 * JSON that is also safe to meet an HTML parser: `<`, `>` and `&` (and the two line separators
 * old JS parsers choke on) become `\u` escapes, so no span name can close a tag or open a script
 * even if a browser were tricked into reading the response as HTML.
 */
export function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function text(value: unknown, cut: { truncated: boolean }): string {
  const s = typeof value === 'string' ? value : String(value);
  if (s.length <= MAX_STRING) return s;
  cut.truncated = true;
  return `${s.slice(0, MAX_STRING)}…`;
}

function endpoint<E extends Endpoint>(value: E, cut: { truncated: boolean }): E {
  const out: Endpoint = {};
  if (value.service !== undefined) out.service = text(value.service, cut);
  if (value.address !== undefined) out.address = text(value.address, cut);
  if (value.port !== undefined) out.port = value.port;
  return out as E;
}
