import { hasCheckedIds } from '../lib/span';
import type { FinishedSpan } from '../lib/types';
import {
  annotationValue, errorTag, parentIdOf, spanName, tagText, zipkinAddress, zipkinAnnotations, zipkinDuration, zipkinKind,
  zipkinPort, zipkinSpanId, zipkinTimestamp, zipkinTraceId,
} from './zipkin-encode';

/*
 * Zipkin v2 JSON text, written straight from FinishedSpan: exactly `JSON.stringify(toZipkinSpan(span))`,
 * at less cost (BENCHMARKS.md, section zipkin). Serialising is most of an exporter's work, and
 * many strings in a span repeat from span to span (names, services, tag keys, note values:
 * Zipkin asks for low-cardinality names), so their JSON form is cached, whole members at a
 * time (`,"name":"...","kind":"SERVER"`, `,"http.route":`); tag values, often unique (paths,
 * ids), are quoted each time, since caching one-offs costs more than it saves. Ids are checked
 * hex and numbers are numbers, so neither needs escaping.
 *
 * Each span's text is a rope of pieces that V8 must flatten before writing it out, and
 * flattening costs more than everything else here: so pieces are joined as few times as
 * possible, and never sliced (slicing a rope flattens it once more). Quotes and brackets ride
 * on the cached pieces next to them (the id's closing quote on the name, a string tag's
 * closing quote on the next key, the span's `}` on the tags' own), so a typical server span is
 * about 20 pieces, not 40.
 */

// Characters JSON.stringify escapes: quote, backslash, controls, and (lone) surrogates. A
// string with none of them is its own JSON body between two quotes.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function quote(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

// Bounded: strings come from the app (and through it from the outside). Long strings are not
// cached (hashing them costs what quoting does), and a full cache starts over, so a stream of
// unique values costs one lookup each and never grows memory.
const MAX_CACHED = 4096;
const MAX_CACHED_LENGTH = 64;

/** `make(text)`, remembered in `cache` (bounded, as above). */
function cached<T>(cache: Map<string, T>, text: string, make: (text: string) => T): T {
  if (text.length > MAX_CACHED_LENGTH) return make(text);
  let json = cache.get(text);
  if (json === undefined) {
    json = make(text);
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.set(text, json);
  }
  return json;
}

const quoted = new Map<string, string>();
const lowerQuoted = new Map<string, string>();
const quoteLowerCase = (text: string): string => quote(text.toLowerCase());

/** JSON of a string that repeats (a note's text). */
function cachedQuote(text: string): string {
  return cached(quoted, text, quote);
}

/** JSON of `text` lower-cased (service names, as Zipkin stores them), cached by the original. */
function lowerQuote(text: string): string {
  return cached(lowerQuoted, text, quoteLowerCase);
}

// Epoch microseconds are 16-digit numbers, past V8's small integers, and String(n) prints them
// by its general double-to-text path, five times slower than this: the seconds change once a
// second, so their text is kept, and the microseconds within come from 3-digit groups.
const DIGITS3: readonly string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
let lastSeconds = -1;
let lastSecondsText = '';

/** The whole seconds in `us` (>= 1e6) microseconds. */
function secondsOf(us: number): number {
  const seconds = Math.floor(us / 1e6);
  // The division rounds: near 2^53 it can round up to the next second.
  return us - seconds * 1e6 < 0 ? seconds - 1 : seconds;
}

/** A positive integer number of microseconds as JSON text: `String(us)`, faster. */
function microsText(us: number): string {
  if (us < 1e6) return String(us);
  const seconds = secondsOf(us);
  const within = us - seconds * 1e6;
  if (seconds !== lastSeconds) {
    lastSeconds = seconds;
    lastSecondsText = String(seconds);
  }
  const ms = Math.floor(within / 1000);
  return lastSecondsText + DIGITS3[ms] + DIGITS3[within - ms * 1000];
}

// `,"timestamp":<seconds>`, kept while the second lasts, as lastSecondsText.
let lastTimestampSeconds = -1;
let lastTimestampPrefix = '';

/**
 * `,"timestamp":<us>,"duration":` for a span's start: the seconds' part is one cached piece,
 * the six digits within are short enough that V8 copies them flat instead of making a rope.
 */
function timestampJson(us: number): string {
  if (us < 1e6) return ',"timestamp":' + us + ',"duration":';
  const seconds = secondsOf(us);
  const within = us - seconds * 1e6;
  if (seconds !== lastTimestampSeconds) {
    lastTimestampSeconds = seconds;
    lastTimestampPrefix = ',"timestamp":' + seconds;
  }
  const ms = Math.floor(within / 1000);
  return lastTimestampPrefix + (DIGITS3[ms] + DIGITS3_DURATION[within - ms * 1000]);
}

const DIGITS3_DURATION: readonly string[] = DIGITS3.map((digits) => digits + ',"duration":');

/**
 * The fields of an endpoint object (`"serviceName":...,"ipv4":...`), each preceded by a comma,
 * or '' when it would be empty.
 */
function endpointFields(service: unknown, where: { address?: unknown; port?: unknown } | undefined | null): string {
  let json = '';
  if (typeof service === 'string' && service !== '') json = ',"serviceName":' + lowerQuote(service);
  if (where !== undefined && where !== null) {
    json += addressFields(where.address);
    const port = zipkinPort(where.port);
    if (port !== undefined) json += ',"port":' + port;
  }
  return json;
}

// Both are checked IP text (digits, hex, dots, colons): nothing to escape. Cached with the
// parsed address, since peers repeat.
const addressJson = new WeakMap<object, string>();

function addressFields(raw: unknown): string {
  if (typeof raw !== 'string' || raw === '') return '';
  const address = zipkinAddress(raw);
  let json = addressJson.get(address);
  if (json === undefined) {
    json = address.ipv4 !== undefined ? `,"ipv4":"${address.ipv4}"` : address.ipv6 !== undefined ? `,"ipv6":"${address.ipv6}"` : '';
    addressJson.set(address, json);
  }
  return json;
}

/** An endpoint object as `,"<field>":{...}`, or '' when it would be empty. */
function endpointJson(field: string, fields: string): string {
  // `fields` starts with a comma, which the object's brace replaces.
  return fields === '' ? '' : field + '{' + fields.substring(1) + '}';
}

// The local endpoint is the same (service, address, port) on nearly every span: its JSON is
// built once and reused while those three stay the same (compared by value, so a host object
// that changes is never served stale).
let lastService: unknown = Symbol('none');
let lastAddress: unknown;
let lastPort: unknown;
let lastLocal = '';

function localEndpointJson(service: unknown, host: FinishedSpan['host'] | null): string {
  const address = host?.address;
  const port = host?.port;
  if (service !== lastService || address !== lastAddress || port !== lastPort) {
    lastLocal = endpointJson(',"localEndpoint":', endpointFields(service, host));
    lastService = service;
    lastAddress = address;
    lastPort = port;
  }
  return lastLocal;
}

function remoteEndpointJson(remote: FinishedSpan['remote'] | null): string {
  if (remote === undefined || remote === null) return '';
  return endpointJson(',"remoteEndpoint":', endpointFields(remote.service, remote));
}

// The name and kind of a span, as `,"name":"...","kind":"..."`, cached by name for each kind:
// the pair repeats on nearly every span of an operation.
const KIND_JSON = ['', ',"kind":"SERVER"', ',"kind":"CLIENT"', ',"kind":"PRODUCER"', ',"kind":"CONSUMER"'];
const nameKindCaches = KIND_JSON.map(() => new Map<string, string>());
// Each begins with the closing quote of the span's id, one piece fewer per span.
const nameKindMakers = KIND_JSON.map((kindJson) => (name: string): string => '"' + nameJson(name) + kindJson);

function kindIndex(kind: unknown): number {
  switch (kind) {
    case undefined:
      return 0;
    case 'SERVER':
      return 1;
    case 'CLIENT':
      return 2;
    case 'PRODUCER':
      return 3;
    case 'CONSUMER':
      return 4;
    default: {
      const normalised = zipkinKind(kind);
      return normalised === undefined ? 0 : kindIndex(normalised);
    }
  }
}

function nameJson(name: unknown): string {
  const normalised = spanName(name);
  return normalised === undefined ? '' : ',"name":' + quote(normalised);
}

function nameKindJson(name: unknown, kind: unknown): string {
  const k = kindIndex(kind);
  return typeof name === 'string' ? cached(nameKindCaches[k], name, nameKindMakers[k]) : '"' + nameJson(name) + KIND_JSON[k];
}

function annotationsJson(span: FinishedSpan): string {
  const notes = span.notes;
  if (notes === undefined || notes === null || notes.length === 0) return '';
  if (notes.length === 1) {
    const note = notes[0];
    if (note === null || typeof note !== 'object') return '';
    const timestamp = zipkinTimestamp(note.timestamp) ?? zipkinTimestamp(span.timestamp);
    if (timestamp === undefined) return '';
    const value =
      note.duration === undefined && typeof note.value === 'string' ? cachedQuote(note.value) : quote(annotationValue(note));
    return ',"annotations":[{"timestamp":' + microsText(timestamp) + ',"value":' + value + '}]';
  }
  // Several notes: repeats to drop, so take the normalised list.
  const annotations = zipkinAnnotations(span);
  if (annotations === undefined) return '';
  let json = ',"annotations":[';
  // Not cached: with durations in the text, these are mostly one-offs.
  for (let i = 0; i < annotations.length; i++) {
    const a = annotations[i];
    json += (i === 0 ? '{"timestamp":' : ',{"timestamp":') + microsText(a.timestamp) + ',"value":' + quote(a.value) + '}';
  }
  return json + ']';
}

// A tag key's member openings, cached by key. A string value without escapes is written as
// the opening with its quote (`,"key":"`) and then the value itself; its closing quote is
// written by whatever comes next (the next opening, `","key":"`, or the end, `"}`): two pieces
// of rope per tag instead of four, and each piece costs twice, in the concatenation and when
// V8 flattens the span to write it (BENCHMARKS.md, section zipkin).
interface KeyOpenings {
  /** `,"key":` and `,"key":"`, after a member that closed itself. */
  readonly plain: string;
  readonly quoted: string;
  /** `","key":` and `","key":"`, closing the string value before. */
  readonly closePlain: string;
  readonly closeQuoted: string;
  /** `,"tags":{"key":` and `,"tags":{"key":"`, for the first member. */
  readonly firstPlain: string;
  readonly firstQuoted: string;
}

const keyOpenings = new Map<string, KeyOpenings>();

function makeKeyOpenings(key: string): KeyOpenings {
  const name = quote(key) + ':';
  return {
    plain: ',' + name,
    quoted: ',' + name + '"',
    closePlain: '",' + name,
    closeQuoted: '",' + name + '"',
    firstPlain: ',"tags":{' + name,
    firstQuoted: ',"tags":{' + name + '"',
  };
}

function openingsOf(key: string): KeyOpenings {
  return cached(keyOpenings, key, makeKeyOpenings);
}

/**
 * Resource attributes (the tracer's `resource`) encoded once as Zipkin tag members, added to
 * every span that has no tag of the same key. Make it with `zipkinResourceTags`.
 */
export interface ZipkinResourceTags {
  readonly keys: readonly string[];
  /** `,"key":"value"` for each key, in the same order. */
  readonly members: readonly string[];
  /** `,"tags":{"key":"value"` for each key: the member as the first of the object. */
  readonly firstMembers: readonly string[];
}

/** Encodes resource attributes once, as string tags (`1.4.2`, `"3"`, `"true"`). */
export function zipkinResourceTags(resource: Readonly<Record<string, string | number | boolean>> | undefined): ZipkinResourceTags | undefined {
  if (resource === undefined || resource === null) return undefined;
  const keys = Object.keys(resource).filter((key) => key !== 'error');
  if (keys.length === 0) return undefined;
  const values = keys.map((key) => quote(String(resource[key])));
  return {
    keys,
    members: keys.map((key, i) => openingsOf(key).plain + values[i]),
    firstMembers: keys.map((key, i) => openingsOf(key).firstPlain + values[i]),
  };
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * The tags object and the span's closing brace: `,"tags":{...}}`, or `}` without tags. Members
 * are written as `KeyOpenings` says; `open` is whether the last member's string value still
 * waits for its closing quote.
 */
function tagsJson(span: FinishedSpan, resource: ZipkinResourceTags | undefined): string {
  const tags = span.tags;
  const error = errorTag(span.error);
  let json = '';
  let open = false;
  if (resource !== undefined) {
    const own = tags !== undefined && tags !== null ? tags : {};
    for (let i = 0; i < resource.keys.length; i++) {
      if (own[resource.keys[i]] !== undefined) continue;
      json += json === '' ? resource.firstMembers[i] : resource.members[i];
    }
  }
  if (tags !== undefined && tags !== null) {
    // for-in, not Object.keys: V8 reads each value through the object's enum cache instead
    // of a lookup by name. Own keys only, in the same order, as Object.keys gives them.
    for (const key in tags) {
      if (!hasOwn.call(tags, key) || (key === 'error' && error !== undefined)) continue;
      const value = tags[key];
      let text: string;
      if (typeof value === 'string') text = value;
      else if (typeof value === 'number' || typeof value === 'boolean') {
        // Printed as '"' + value + '"' would: nothing to escape.
        const openings = openingsOf(key);
        json += (open ? openings.closeQuoted : json === '' ? openings.firstQuoted : openings.quoted) + value;
        open = true;
        continue;
      } else {
        const other = tagText(value);
        if (other === undefined) continue;
        text = other;
      }
      const openings = openingsOf(key);
      if (NEEDS_ESCAPE.test(text)) {
        json += (open ? openings.closePlain : json === '' ? openings.firstPlain : openings.plain) + JSON.stringify(text);
        open = false;
      } else {
        json += (open ? openings.closeQuoted : json === '' ? openings.firstQuoted : openings.quoted) + text;
        open = true;
      }
    }
  }
  if (error !== undefined) json += (open ? '","error":' : json === '' ? ',"tags":{"error":' : ',"error":') + quote(error);
  else if (open) return json + '"}}';
  return json === '' ? '}' : json + '}}';
}

/**
 * One finished span as Zipkin v2 JSON text: exactly `JSON.stringify(toZipkinSpan(span))`.
 * With `resource`, its attributes are added as tags (the span's own tags win).
 */
export function encodeZipkinSpan(span: FinishedSpan, resource?: ZipkinResourceTags): string {
  let traceId: string;
  let id: string;
  let parentId: string | undefined;
  if (hasCheckedIds(span)) {
    // Ids this SDK made or parsed are valid already: checking them was a sixth of the work.
    traceId = span.traceId;
    id = span.id;
    parentId = span.parentId === id ? undefined : span.parentId;
  } else {
    traceId = zipkinTraceId(span.traceId);
    id = zipkinSpanId(span.id);
    parentId = parentIdOf(span.parentId, id);
  }
  // The id's closing quote comes with the name and kind (nameKindJson).
  let json =
    parentId === undefined
      ? '{"traceId":"' + traceId + '","id":"' + id
      : '{"traceId":"' + traceId + '","parentId":"' + parentId + '","id":"' + id;
  json += nameKindJson(span.name, span.kind);
  const timestamp = zipkinTimestamp(span.timestamp);
  json += timestamp === undefined ? ',"duration":' + zipkinDuration(span.duration) : timestampJson(timestamp) + zipkinDuration(span.duration);
  json += localEndpointJson(span.service, span.host);
  return json + remoteEndpointJson(span.remote) + annotationsJson(span) + tagsJson(span, resource);
}

/** Finished spans as one Zipkin v2 JSON array: a POST body. */
export function encodeZipkinSpans(spans: readonly FinishedSpan[]): string {
  let json = '[';
  for (let i = 0; i < spans.length; i++) json += i === 0 ? encodeZipkinSpan(spans[i]) : `,${encodeZipkinSpan(spans[i])}`;
  return `${json}]`;
}

/** One POST body: a JSON array of spans in UTF-8, and how many spans it holds. */
export interface ZipkinBody {
  readonly body: Buffer;
  readonly spans: number;
}

// Bytes per span in the last batch: the next body's Buffer is sized from it, so nearly every
// batch is written into one allocation that never has to grow. Capped, so one batch of huge
// spans does not make every later batch reserve that much.
let bytesPerSpan = 512;
const MAX_BYTES_PER_SPAN_ESTIMATE = 4096;

/**
 * Finished spans as POST bodies of at most `maxBatchBytes` bytes each (one span bigger than
 * that goes alone); nearly always one. Each span's JSON is written straight into one Buffer as
 * it is made (`write` returns how many bytes it took, so nothing is measured twice): joining
 * them into one big string first would make V8 copy it all once more into a large,
 * short-lived string. Only a batch over `maxBatchBytes` is copied out, span by span, into
 * smaller bodies.
 */
export function encodeZipkinBodies(
  spans: readonly FinishedSpan[],
  maxBatchBytes = Infinity,
  resource?: ZipkinResourceTags,
): ZipkinBody[] {
  const count = spans.length;
  let buffer: Buffer = Buffer.allocUnsafe(count * bytesPerSpan + 64);
  // Where each span's JSON starts and ends in `buffer`.
  const bounds = new Array<number>(2 * count);
  buffer[0] = 0x5b; // [
  let offset = 1;
  for (let i = 0; i < count; i++) {
    const piece = encodeZipkinSpan(spans[i], resource);
    // UTF-8 takes at most 3 bytes per UTF-16 unit (a surrogate pair: 4 bytes for 2 units), plus the comma and `]`.
    const room = offset + 3 * piece.length + 2;
    if (room > buffer.length) buffer = grow(buffer, offset, room + (count - i) * bytesPerSpan);
    if (i > 0) buffer[offset++] = 0x2c; // ,
    bounds[2 * i] = offset;
    offset += buffer.write(piece, offset);
    bounds[2 * i + 1] = offset;
  }
  buffer[offset++] = 0x5d; // ]
  if (count > 0) bytesPerSpan = Math.min(MAX_BYTES_PER_SPAN_ESTIMATE, Math.ceil(offset / count) + 16);
  if (offset <= maxBatchBytes || count <= 1) return [{ body: buffer.subarray(0, offset), spans: count }];
  return splitBody(buffer, bounds, count, maxBatchBytes);
}

function grow(buffer: Buffer, used: number, size: number): Buffer {
  const bigger = Buffer.allocUnsafe(size);
  buffer.copy(bigger, 0, 0, used);
  return bigger;
}

/** A body over `maxBatchBytes` cut into bodies that are not, keeping the spans in order. */
function splitBody(buffer: Buffer, bounds: readonly number[], count: number, maxBatchBytes: number): ZipkinBody[] {
  const chunks: ZipkinBody[] = [];
  let first = 0;
  for (let i = 1; i <= count; i++) {
    // Spans first..i-1 go together unless adding span i would pass the limit (with brackets).
    if (i < count && 2 + bounds[2 * i + 1] - bounds[2 * first] <= maxBatchBytes) continue;
    const start = bounds[2 * first];
    const end = bounds[2 * i - 1];
    const body = Buffer.allocUnsafe(end - start + 2);
    body[0] = 0x5b; // [
    buffer.copy(body, 1, start, end);
    body[body.length - 1] = 0x5d; // ]
    chunks.push({ body, spans: i - first });
    first = i;
  }
  return chunks;
}
