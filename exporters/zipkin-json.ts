import type { FinishedSpan } from '../lib/types';
import {
  annotationValue, errorTag, parentIdOf, tagText, zipkinAddress, zipkinAnnotations, zipkinDuration, zipkinKind,
  zipkinPort, zipkinSpanId, zipkinTimestamp, zipkinTraceId,
} from './zipkin-encode';

/*
 * Zipkin v2 JSON text, written straight from FinishedSpan: exactly `JSON.stringify(toZipkinSpan(span))`,
 * at less cost (BENCHMARKS.md, section zipkin). Serialising is most of an exporter's work, and
 * many strings in a span repeat from span to span (names, services, tag keys, note values:
 * Zipkin asks for low-cardinality names), so their JSON form is cached; tag values, often
 * unique (paths, ids), are quoted each time, since caching one-offs costs more than it saves.
 * Ids are checked hex and numbers are numbers, so neither needs escaping.
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
const quoted = new Map<string, string>();
const lowerQuoted = new Map<string, string>();

function cachedQuote(text: string): string {
  if (text.length > MAX_CACHED_LENGTH) return quote(text);
  let json = quoted.get(text);
  if (json === undefined) {
    json = quote(text);
    if (quoted.size >= MAX_CACHED) quoted.clear();
    quoted.set(text, json);
  }
  return json;
}

/** JSON of `text` lower-cased (span and service names, as Zipkin stores them), cached by the original. */
function lowerQuote(text: string): string {
  if (text.length > MAX_CACHED_LENGTH) return quote(text.toLowerCase());
  let json = lowerQuoted.get(text);
  if (json === undefined) {
    json = quote(text.toLowerCase());
    if (lowerQuoted.size >= MAX_CACHED) lowerQuoted.clear();
    lowerQuoted.set(text, json);
  }
  return json;
}

/** The inside of an endpoint object (`"serviceName":...,"ipv4":...`), or '' when it would be empty. */
function endpointFields(service: unknown, where: { address?: unknown; port?: unknown } | undefined | null): string {
  let json = '';
  if (typeof service === 'string' && service !== '') json = `,"serviceName":${lowerQuote(service)}`;
  if (where !== undefined && where !== null) {
    const address = zipkinAddress(where.address);
    // Both are checked IP text (digits, hex, dots, colons): nothing to escape.
    if (address.ipv4 !== undefined) json += `,"ipv4":"${address.ipv4}"`;
    else if (address.ipv6 !== undefined) json += `,"ipv6":"${address.ipv6}"`;
    const port = zipkinPort(where.port);
    if (port !== undefined) json += `,"port":${port}`;
  }
  return json;
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
    const fields = endpointFields(service, host);
    lastLocal = fields === '' ? '' : `,"localEndpoint":{${fields.slice(1)}}`;
    lastService = service;
    lastAddress = address;
    lastPort = port;
  }
  return lastLocal;
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
    return `,"annotations":[{"timestamp":${timestamp},"value":${value}}]`;
  }
  // Several notes: repeats to drop, so take the normalised list.
  const annotations = zipkinAnnotations(span);
  if (annotations === undefined) return '';
  let json = '';
  // Not cached: with durations in the text, these are mostly one-offs.
  for (const a of annotations) json += `,{"timestamp":${a.timestamp},"value":${quote(a.value)}}`;
  return `,"annotations":[${json.slice(1)}]`;
}

function tagsJson(span: FinishedSpan): string {
  const tags = span.tags;
  const error = errorTag(span.error);
  let json = '';
  if (tags !== undefined && tags !== null) {
    for (const key of Object.keys(tags)) {
      if (key === 'error' && error !== undefined) continue;
      const value = tags[key];
      let text: string;
      if (typeof value === 'string') text = quote(value);
      else if (typeof value === 'number' || typeof value === 'boolean') text = `"${value}"`;
      else {
        const other = tagText(value);
        if (other === undefined) continue;
        text = quote(other);
      }
      json += `,${cachedQuote(key)}:${text}`;
    }
  }
  if (error !== undefined) json += `,"error":${quote(error)}`;
  return json === '' ? '' : `,"tags":{${json.slice(1)}}`;
}

/** One finished span as Zipkin v2 JSON text: exactly `JSON.stringify(toZipkinSpan(span))`. */
export function encodeZipkinSpan(span: FinishedSpan): string {
  const id = zipkinSpanId(span.id);
  let json = `{"traceId":"${zipkinTraceId(span.traceId)}"`;
  const parentId = parentIdOf(span.parentId, id);
  if (parentId !== undefined) json += `,"parentId":"${parentId}"`;
  json += `,"id":"${id}"`;
  const name = span.name;
  if (typeof name === 'string') {
    if (name !== '') json += `,"name":${lowerQuote(name)}`;
  } else if (name !== undefined && name !== null) {
    json += `,"name":${quote(String(name).toLowerCase())}`;
  }
  const kind = zipkinKind(span.kind);
  if (kind !== undefined) json += `,"kind":"${kind}"`;
  const timestamp = zipkinTimestamp(span.timestamp);
  if (timestamp !== undefined) json += `,"timestamp":${timestamp}`;
  json += `,"duration":${zipkinDuration(span.duration)}`;
  json += localEndpointJson(span.service, span.host);
  const remote = span.remote;
  if (remote !== undefined && remote !== null) {
    const fields = endpointFields(remote.service, remote);
    if (fields !== '') json += `,"remoteEndpoint":{${fields.slice(1)}}`;
  }
  return `${json}${annotationsJson(span)}${tagsJson(span)}}`;
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

/**
 * Finished spans as POST bodies of at most `maxBatchBytes` bytes each (one span bigger than
 * that goes alone); nearly always one. Each span's JSON is written straight into the body's
 * Buffer: joining them into one big string first would make V8 copy it all once more into a
 * large, short-lived string (measured ~8% slower).
 */
export function encodeZipkinBodies(spans: readonly FinishedSpan[], maxBatchBytes = Infinity): ZipkinBody[] {
  const pieces = new Array<string>(spans.length);
  const chunks: ZipkinBody[] = [];
  let start = 0;
  let bytes = 2; // the brackets
  for (let i = 0; i < spans.length; i++) {
    const piece = encodeZipkinSpan(spans[i]);
    pieces[i] = piece;
    const size = Buffer.byteLength(piece, 'utf8') + (i > start ? 1 : 0); // and a comma after the first
    if (i > start && bytes + size > maxBatchBytes) {
      chunks.push(writeChunk(pieces, start, i, bytes));
      start = i;
      bytes = 2 + size - 1;
    } else {
      bytes += size;
    }
  }
  chunks.push(writeChunk(pieces, start, spans.length, bytes));
  return chunks;
}

function writeChunk(pieces: readonly string[], start: number, end: number, bytes: number): ZipkinBody {
  const body = Buffer.allocUnsafe(bytes);
  let offset = 0;
  body[offset++] = 0x5b; // [
  for (let i = start; i < end; i++) {
    if (i > start) body[offset++] = 0x2c; // ,
    offset += body.write(pieces[i], offset, 'utf8');
  }
  body[offset] = 0x5d; // ]
  return { body, spans: end - start };
}
