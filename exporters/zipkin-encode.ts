import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { FinishedSpan, Note, SpanKind, TagValue } from '../lib/types';

/** A Zipkin v2 endpoint, as the collector receives it. */
export interface ZipkinEndpoint {
  /** Lower-case, as Zipkin stores it. */
  serviceName?: string;
  ipv4?: string;
  /** Canonical (compressed, lower-case) text form, without a zone. */
  ipv6?: string;
  /** 1 to 65535; never 0. */
  port?: number;
}

/** A Zipkin v2 annotation: a timestamped event. */
export interface ZipkinAnnotation {
  /** Epoch microseconds (integer). */
  timestamp: number;
  value: string;
}

/**
 * A Zipkin v2 span (`definitions.Span` of the Zipkin API), normalised so that a collector
 * accepts it. Optional fields may be present with the value `undefined` (JSON omits them).
 */
export interface ZipkinSpan {
  /** 32 (or 16) lower-case hex. */
  traceId: string;
  /** 16 lower-case hex; absent on a root span. */
  parentId?: string;
  /** 16 lower-case hex. */
  id: string;
  /** Lower-case. Absent when the span has no name. */
  name?: string;
  kind?: SpanKind;
  /** Start, epoch microseconds (integer). */
  timestamp?: number;
  /** Microseconds (integer, at least 1). */
  duration: number;
  localEndpoint?: ZipkinEndpoint;
  remoteEndpoint?: ZipkinEndpoint;
  /** Unique by (timestamp, value): Zipkin keeps one of each. */
  annotations?: ZipkinAnnotation[];
  tags?: Record<string, string>;
}

const HEX_ANY = /^[0-9a-f]{1,32}$/;
const ZEROS = /^0+$/;
const MAPPED_DOTTED = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;
const MAPPED_HEX = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;
const KINDS: ReadonlySet<string> = new Set(['SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER']);

// Lower-case hex digits by char code: a table lookup per character is about twice as fast as
// a regular expression on these short strings, and ids are checked on every span.
const HEX_DIGIT = new Uint8Array(128);
for (const digit of '0123456789abcdef') HEX_DIGIT[digit.charCodeAt(0)] = 1;

/** Whether `id` is `length` lower-case hex digits, not all zeros. */
function isValidId(id: string, length: number): boolean {
  if (id.length !== length) return false;
  let zeros = true;
  for (let i = 0; i < length; i++) {
    const code = id.charCodeAt(i);
    if (code > 127 || HEX_DIGIT[code] === 0) return false;
    if (code !== 48) zeros = false;
  }
  return !zeros;
}

/**
 * A trace id as Zipkin accepts it: 32 or 16 lower-case hex, never all zeros. Tomograph's own
 * ids pass through untouched (the fast path). Shorter hex is left-padded with zeros; anything
 * else (not hex, too long, all zeros) is replaced by a hash of itself, so the span is kept and
 * every span of the same broken trace still lands in one trace.
 */
export function zipkinTraceId(id: unknown): string {
  if (typeof id === 'string' && isValidId(id, 32)) return id;
  const text = typeof id === 'string' ? id.trim().toLowerCase() : String(id);
  if (HEX_ANY.test(text) && !ZEROS.test(text)) return text.padStart(text.length <= 16 ? 16 : 32, '0');
  return hashId(text, 32);
}

/** A span id as Zipkin accepts it: 16 lower-case hex, never all zeros (see `zipkinTraceId`). */
export function zipkinSpanId(id: unknown): string {
  if (typeof id === 'string' && isValidId(id, 16)) return id;
  const text = typeof id === 'string' ? id.trim().toLowerCase() : String(id);
  if (text.length <= 16 && HEX_ANY.test(text) && !ZEROS.test(text)) return text.padStart(16, '0');
  return hashId(text, 16);
}

function hashId(text: string, length: number): string {
  // Stable, so a parent id that was broken the same way still points at its (repaired) parent.
  const hex = createHash('sha256').update(text).digest('hex');
  for (let i = 0; i + length <= hex.length; i += length) {
    const id = hex.slice(i, i + length);
    if (!ZEROS.test(id)) return id;
  }
  return '1'.padStart(length, '0');
}

// Addresses repeat (the local host on every span, a few peers): each distinct string is parsed
// once. Bounded, since remote addresses come from the outside world.
const MAX_CACHED_ADDRESSES = 1024;
const addressCache = new Map<string, ZipkinEndpoint>();

/** `{ ipv4 }` or `{ ipv6 }` for an IP address in any common text form; `{}` for anything else. */
export function zipkinAddress(address: unknown): ZipkinEndpoint {
  if (typeof address !== 'string' || address === '') return {};
  let parsed = addressCache.get(address);
  if (parsed === undefined) {
    parsed = parseAddress(address);
    if (addressCache.size >= MAX_CACHED_ADDRESSES) addressCache.clear();
    addressCache.set(address, parsed);
  }
  return parsed;
}

function parseAddress(raw: string): ZipkinEndpoint {
  let address = raw.trim();
  if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
  if (isIPv4(address)) return Object.freeze({ ipv4: address });
  const zone = address.indexOf('%');
  if (zone !== -1) address = address.slice(0, zone);
  if (!isIPv6(address)) return Object.freeze({});
  // Zipkin prefers ipv4 for IPv4-mapped addresses; the URL parser gives the canonical form.
  const dotted = MAPPED_DOTTED.exec(address.toLowerCase());
  if (dotted !== null && isIPv4(dotted[1])) return Object.freeze({ ipv4: dotted[1] });
  let canonical: string;
  try {
    canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return Object.freeze({});
  }
  const mapped = MAPPED_HEX.exec(canonical);
  if (mapped !== null) {
    const high = parseInt(mapped[1], 16);
    const low = parseInt(mapped[2], 16);
    return Object.freeze({ ipv4: `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}` });
  }
  return Object.freeze({ ipv6: canonical });
}

/** A port Zipkin accepts (an integer from 1 to 65535; numeric strings too), else undefined. */
export function zipkinPort(port: unknown): number | undefined {
  const value = typeof port === 'string' && port.trim() !== '' ? Number(port) : port;
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535 ? value : undefined;
}

/** A Zipkin endpoint for a service and an address/port, or undefined when it would be empty. */
export function zipkinEndpoint(
  service: unknown,
  where: { address?: string; port?: number } | undefined,
): ZipkinEndpoint | undefined {
  const endpoint: ZipkinEndpoint = {};
  if (typeof service === 'string' && service !== '') endpoint.serviceName = service.toLowerCase();
  if (where !== undefined && where !== null) {
    const address = zipkinAddress(where.address);
    if (address.ipv4 !== undefined) endpoint.ipv4 = address.ipv4;
    if (address.ipv6 !== undefined) endpoint.ipv6 = address.ipv6;
    const port = zipkinPort(where.port);
    if (port !== undefined) endpoint.port = port;
  }
  return endpoint.serviceName === undefined && endpoint.ipv4 === undefined && endpoint.ipv6 === undefined &&
    endpoint.port === undefined
    ? undefined
    : endpoint;
}

/** An epoch-microsecond time as a positive integer (fractions cut, as the clock does), else undefined. */
export function zipkinTimestamp(value: unknown): number | undefined {
  return typeof value === 'number' && value >= 1 && value <= Number.MAX_SAFE_INTEGER ? Math.floor(value) : undefined;
}

/** A duration in microseconds as an integer of at least 1 (Zipkin rounds fractions up to 1 too). */
export function zipkinDuration(value: unknown): number {
  return typeof value === 'number' && value >= 1 && value <= Number.MAX_SAFE_INTEGER ? Math.round(value) : 1;
}

/** The span kind in Zipkin's spelling, or undefined for local work (or an unknown kind). */
export function zipkinKind(kind: unknown): SpanKind | undefined {
  if (typeof kind !== 'string') return undefined;
  if (KINDS.has(kind)) return kind as SpanKind;
  const upper = kind.toUpperCase();
  return KINDS.has(upper) ? (upper as SpanKind) : undefined;
}

/**
 * A note's annotation text. Zipkin annotations have no duration, so a note that took time
 * carries it in its text, in milliseconds: `select (1.234 ms)`.
 */
export function annotationValue(note: Note): string {
  const value = typeof note.value === 'string' ? note.value : String(note.value);
  const duration = note.duration;
  if (typeof duration !== 'number' || !(duration >= 0) || duration === Infinity) return value;
  return `${value} (${(duration / 1000).toFixed(3)} ms)`;
}

/** A tag value as Zipkin's string tags want it; undefined when it cannot be one. */
export function tagText(value: TagValue | unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return undefined;
  try {
    return String(value);
  } catch {
    return undefined;
  }
}

/** The annotations of a span: valid times, and one of each (timestamp, value), as Zipkin keeps. */
export function zipkinAnnotations(span: FinishedSpan): ZipkinAnnotation[] | undefined {
  const notes = span.notes;
  if (notes === undefined || notes === null || notes.length === 0) return undefined;
  const annotations: ZipkinAnnotation[] = [];
  // Few notes per span: a linear scan for repeats beats building keys for a Set.
  const seen = notes.length > 16 ? new Set<string>() : undefined;
  for (let i = 0; i < notes.length; i++) {
    const note = notes[i];
    if (note === null || typeof note !== 'object') continue;
    const timestamp = zipkinTimestamp(note.timestamp) ?? zipkinTimestamp(span.timestamp);
    if (timestamp === undefined) continue;
    const value = note.duration === undefined && typeof note.value === 'string' ? note.value : annotationValue(note);
    if (seen !== undefined) {
      const key = `${timestamp} ${value}`;
      if (seen.has(key)) continue;
      seen.add(key);
    } else if (i > 0 && isRepeat(annotations, timestamp, value)) {
      continue;
    }
    annotations.push({ timestamp, value });
  }
  return annotations.length === 0 ? undefined : annotations;
}

function isRepeat(annotations: readonly ZipkinAnnotation[], timestamp: number, value: string): boolean {
  for (const a of annotations) if (a.timestamp === timestamp && a.value === value) return true;
  return false;
}

/** The tags of a span as strings, with the span's `error` as the tag `error` (it wins over a tag of that name). */
export function zipkinTags(span: FinishedSpan): Record<string, string> | undefined {
  const source = span.tags;
  const error = errorTag(span.error);
  let tags: Record<string, string> | undefined;
  if (source !== undefined && source !== null) {
    for (const key of Object.keys(source)) {
      if (key === 'error' && error !== undefined) continue;
      const value = source[key];
      const text = typeof value === 'string' ? value : tagText(value);
      if (text === undefined) continue;
      if (tags === undefined) tags = {};
      setTag(tags, key, text);
    }
  }
  if (error !== undefined) {
    if (tags === undefined) tags = {};
    tags.error = error;
  }
  return tags;
}

function setTag(tags: Record<string, string>, key: string, text: string): void {
  // A tag named `__proto__` is a tag, not a prototype.
  if (key === '__proto__') Object.defineProperty(tags, key, { value: text, enumerable: true, writable: true, configurable: true });
  else tags[key] = text;
}

/** The `error` tag for a span's `error` field: its message, or `'true'` when empty; undefined when not failed. */
export function errorTag(error: unknown): string | undefined {
  if (error === undefined || error === null || error === false) return undefined;
  const text = tagText(error);
  // Zipkin marks a span failed by the presence of the tag; an empty message still means failed.
  return text === undefined || text === '' ? 'true' : text;
}

/** The normalised parent id, or undefined for a root (or a span naming itself as parent). */
export function parentIdOf(parentId: unknown, id: string): string | undefined {
  if (parentId === undefined || parentId === null || parentId === '') return undefined;
  const normalised = zipkinSpanId(parentId);
  // A span that is its own parent makes a cycle; Zipkin would drop the link anyway.
  return normalised === id ? undefined : normalised;
}

/** A span name as Zipkin stores it: lower-cased; undefined when there is none. */
export function spanName(name: unknown): string | undefined {
  if (typeof name !== 'string') return name === undefined || name === null ? undefined : String(name).toLowerCase();
  return name === '' ? undefined : name.toLowerCase();
}

// The local endpoint is the same (service, address, port) on nearly every span: it is made
// once and shared (frozen) while those three stay the same, compared by value, so a host
// object that changes is never served stale.
let lastService: unknown = Symbol('none');
let lastAddress: unknown;
let lastPort: unknown;
let lastLocal: ZipkinEndpoint | undefined;

function localEndpoint(service: unknown, host: FinishedSpan['host'] | null): ZipkinEndpoint | undefined {
  const address = host?.address;
  const port = host?.port;
  if (service !== lastService || address !== lastAddress || port !== lastPort) {
    const endpoint = zipkinEndpoint(service, host ?? undefined);
    lastLocal = endpoint === undefined ? undefined : Object.freeze(endpoint);
    lastService = service;
    lastAddress = address;
    lastPort = port;
  }
  return lastLocal;
}

/**
 * One finished span as a normalised Zipkin v2 span: lower-case hex ids, lower-case names,
 * integer times, `duration` at least 1, string tags, endpoints with valid addresses and no
 * port 0, notes as unique annotations. Fields that do not apply are `undefined` (JSON leaves
 * them out), so every span has the same fields in Zipkin's order. The local endpoint object is
 * shared and frozen. `encodeZipkinSpan` (zipkin-json.ts) writes exactly this as JSON text.
 */
export function toZipkinSpan(span: FinishedSpan): ZipkinSpan {
  const id = zipkinSpanId(span.id);
  const remote = span.remote;
  return {
    traceId: zipkinTraceId(span.traceId),
    parentId: parentIdOf(span.parentId, id),
    id,
    name: spanName(span.name),
    kind: zipkinKind(span.kind),
    timestamp: zipkinTimestamp(span.timestamp),
    duration: zipkinDuration(span.duration),
    localEndpoint: localEndpoint(span.service, span.host),
    remoteEndpoint: remote === undefined || remote === null ? undefined : zipkinEndpoint(remote.service, remote),
    annotations: zipkinAnnotations(span),
    tags: zipkinTags(span),
  };
}
