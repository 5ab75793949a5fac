/**
 * W3C Baggage (https://www.w3.org/TR/baggage/): user-supplied key/value pairs that travel with a
 * request in the `baggage` header. A `Baggage` is immutable, so the context holding it can be
 * shared by every span of a request; changing baggage makes a new one (`withEntries`).
 *
 * Members received are passed on as received (the same encoded text, properties included), so
 * what an upstream service wrote arrives intact downstream; values are percent-decoded only for
 * reading. Limits: 180 members and 8192 bytes for the whole header (the specification's grammar
 * and byte limit); a member that does not fit is dropped whole, never cut.
 */

/** Most members a baggage holds (the specification's `0*179( "," list-member )`). */
export const MAX_BAGGAGE_MEMBERS = 180;
/** Longest `baggage` header, in bytes, all members and commas included. */
export const MAX_BAGGAGE_BYTES = 8192;

/** Longest raw input scanned at all (Node itself caps all headers at 16 KiB by default). */
const MAX_INPUT_CHARS = 64 * 1024;

/** One baggage entry as user code reads it. */
export interface BaggageEntry {
  readonly key: string;
  /** The value, percent-decoded (invalid UTF-8 sequences become U+FFFD). */
  readonly value: string;
  /**
   * The entry's properties as they are written after its value, without the first `;`
   * (`ttl=60;secret`): opaque metadata, passed on unchanged. Absent when there are none.
   */
  readonly properties?: string;
}

/** What `withBaggage` takes per key: a value, a value with properties, or `null`/`undefined` to remove the key. */
export type BaggageValue = string | { value: string; properties?: string } | null | undefined;

/** A problem met while reading or changing baggage, for the diagnostics hook. */
export type BaggageProblem = (reason: string, key?: string) => void;

const EMPTY_VALUES: Readonly<Record<string, string>> = Object.freeze({});

/** Immutable W3C baggage: its entries in order and the `baggage` header that carries them. */
export class Baggage {
  /** The header value: every member's encoded text, joined by `,`. Bytes = characters (ASCII). */
  readonly header: string;
  /** The encoded text of each member (`key=value;props`, no OWS). */
  readonly #members: readonly string[];
  // Decoded only when read: baggage that is only passed on is never decoded.
  #entries: readonly BaggageEntry[] | undefined;
  #values: Readonly<Record<string, string>> | undefined;

  private constructor(members: readonly string[], header: string, entries?: readonly BaggageEntry[]) {
    this.header = header;
    this.#members = members;
    this.#entries = entries;
    this.#values = undefined;
  }

  /** Entries in order; a key may appear more than once (the last one is what `values` shows). */
  get entries(): readonly BaggageEntry[] {
    if (this.#entries === undefined) this.#entries = this.#members.map(entryOf);
    return this.#entries;
  }

  /** Every key's value (the last entry wins for a repeated key), as a frozen object. */
  values(): Readonly<Record<string, string>> {
    if (this.#values === undefined) {
      const values: Record<string, string> = {};
      // defineProperty, so a key such as `__proto__` is an ordinary own property.
      for (const entry of this.entries) {
        Object.defineProperty(values, entry.key, { value: entry.value, enumerable: true, configurable: true });
      }
      this.#values = Object.freeze(values);
    }
    return this.#values;
  }

  /**
   * A new baggage with `update` applied: each key set (replacing every entry of that key; the
   * new entry goes last) or, for `null`/`undefined`, removed. Keys must be HTTP tokens and
   * properties must follow the property grammar; an entry that is invalid, or that would take
   * the baggage over 180 members or 8192 bytes, is left out and reported through `problem`.
   *
   * @returns the new baggage, or `undefined` when it holds no entry.
   */
  withEntries(update: Readonly<Record<string, BaggageValue>>, problem?: BaggageProblem): Baggage | undefined {
    let entries = this.entries.slice();
    let members = this.#members.slice();
    for (const key of Object.keys(update)) {
      const given = update[key];
      if (!isToken(key, 0, key.length)) {
        report(problem, 'not a valid baggage key (an HTTP token)', key);
        continue;
      }
      if (entries.some((entry) => entry.key === key)) {
        const keep = entries.map((entry) => entry.key !== key);
        entries = entries.filter((_, i) => keep[i]);
        members = members.filter((_, i) => keep[i]);
      }
      if (given === null || given === undefined) continue;
      const value = typeof given === 'object' ? given.value : given;
      const rawProperties = typeof given === 'object' ? given.properties : undefined;
      const properties = rawProperties === undefined || rawProperties === '' ? undefined : normaliseProperties(String(rawProperties));
      if (properties === null) {
        report(problem, 'properties do not follow the baggage property grammar', key);
        continue;
      }
      const text = String(value);
      const member = key + '=' + percentEncode(text) + (properties === undefined ? '' : ';' + properties);
      if (members.length >= MAX_BAGGAGE_MEMBERS || joinedLength(members) + member.length + 1 > MAX_BAGGAGE_BYTES) {
        report(problem, `entry left out: baggage is limited to ${MAX_BAGGAGE_MEMBERS} members and ${MAX_BAGGAGE_BYTES} bytes`, key);
        continue;
      }
      entries.push(properties === undefined ? { key, value: text } : { key, value: text, properties });
      members.push(member);
    }
    return entries.length === 0 ? undefined : new Baggage(members, members.join(','), entries);
  }

  /** The empty baggage, to build from. */
  static readonly EMPTY = new Baggage([], '', []);

  /**
   * Reads a `baggage` header: a string, or an array of header lines (combined in order).
   * Invalid members are dropped and the rest kept (the specification leaves the choice open);
   * members past 180, or past 8192 bytes in all, are dropped whole. Each drop is reported once
   * through `problem`.
   *
   * @returns the baggage, or `undefined` when nothing valid is left (or nothing was there).
   *   Never throws.
   */
  static parse(raw: unknown, problem?: BaggageProblem): Baggage | undefined {
    if (raw === undefined || raw === null) return undefined;
    let value: string;
    if (typeof raw === 'string') {
      value = raw;
    } else if (Array.isArray(raw) && raw.every((line) => typeof line === 'string')) {
      value = raw.join(',');
    } else {
      report(problem, 'not a string');
      return undefined;
    }
    if (value.length === 0) return undefined;
    if (value.length > MAX_INPUT_CHARS) {
      // Cut at a member boundary, so no member is taken in part.
      value = value.slice(0, Math.max(0, value.lastIndexOf(',', MAX_INPUT_CHARS)));
      report(problem, 'header too long: the members past 64 KiB were dropped');
    }
    const members: string[] = [];
    let bytes = -1;
    let invalid = 0;
    let overLimit = 0;
    // Whether every member was kept as written (no OWS, nothing dropped): then the header
    // received is passed on as the very same string.
    let same = true;
    const n = value.length;
    let i = 0;
    for (;;) {
      let end = value.indexOf(',', i);
      if (end === -1) end = n;
      const member = parseMember(value, i, end);
      if (member === null) {
        invalid++;
        same = false;
      } else if (member === undefined) {
        same = false;
      } else if (members.length >= MAX_BAGGAGE_MEMBERS || bytes + 1 + member.length > MAX_BAGGAGE_BYTES) {
        overLimit++;
        same = false;
      } else {
        if (member.length !== end - i) same = false;
        members.push(member);
        bytes += 1 + member.length;
      }
      if (end === n) break;
      i = end + 1;
    }
    if (invalid > 0) report(problem, `${invalid} invalid member(s) dropped`);
    if (overLimit > 0) {
      report(problem, `${overLimit} member(s) dropped: baggage is limited to ${MAX_BAGGAGE_MEMBERS} members and ${MAX_BAGGAGE_BYTES} bytes`);
    }
    if (members.length === 0) return undefined;
    return new Baggage(members, same ? value : members.join(','));
  }
}

/** The values of `baggage`, or the shared empty object. */
export function baggageValues(baggage: Baggage | undefined): Readonly<Record<string, string>> {
  return baggage === undefined ? EMPTY_VALUES : baggage.values();
}

/**
 * Percent-encodes a value: every code point outside `baggage-octet`, and `%` itself, becomes its
 * UTF-8 bytes as `%XX`. A lone surrogate becomes U+FFFD's bytes (what `Buffer` writes for it).
 */
export function percentEncode(value: string): string {
  let i = 0;
  const n = value.length;
  while (i < n && isBaggageOctet(value.charCodeAt(i)) && value.charCodeAt(i) !== 0x25) i++;
  if (i === n) return value;
  let out = value.slice(0, i);
  const bytes = Buffer.from(value.slice(i), 'utf8');
  for (let b = 0; b < bytes.length; b++) {
    const c = bytes[b];
    out += c < 0x80 && isBaggageOctet(c) && c !== 0x25 ? String.fromCharCode(c) : '%' + HEX[c];
  }
  return out;
}

/** Percent-decodes a value; sequences that are not valid UTF-8 become U+FFFD, a `%` not followed by two hex digits stays. */
export function percentDecode(value: string): string {
  if (value.indexOf('%') === -1) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x25 && i + 2 < value.length && hexDigit(value.charCodeAt(i + 1)) >= 0 && hexDigit(value.charCodeAt(i + 2)) >= 0) {
      bytes.push(hexDigit(value.charCodeAt(i + 1)) * 16 + hexDigit(value.charCodeAt(i + 2)));
      i += 2;
    } else {
      // Only ASCII reaches here: values were checked to be baggage-octets.
      bytes.push(c);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

const HEX: readonly string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).toUpperCase().padStart(2, '0'));

/**
 * One member, `s[start, end)`: `undefined` for an empty (or whitespace-only) member, `null` for
 * an invalid one, else the member's text to pass on (OWS removed; the value still encoded).
 */
function parseMember(s: string, start: number, end: number): string | null | undefined {
  const from = start;
  const to = end;
  while (start < end && isOws(s.charCodeAt(start))) start++;
  while (end > start && isOws(s.charCodeAt(end - 1))) end--;
  if (start === end) return undefined;
  let semicolon = s.indexOf(';', start);
  if (semicolon === -1 || semicolon > end) semicolon = end;
  const eq = s.indexOf('=', start);
  if (eq === -1 || eq > semicolon) return null;
  let keyEnd = eq;
  while (keyEnd > start && isOws(s.charCodeAt(keyEnd - 1))) keyEnd--;
  if (!isToken(s, start, keyEnd)) return null;
  let valueStart = eq + 1;
  while (valueStart < semicolon && isOws(s.charCodeAt(valueStart))) valueStart++;
  let valueEnd = semicolon;
  while (valueEnd > valueStart && isOws(s.charCodeAt(valueEnd - 1))) valueEnd--;
  for (let i = valueStart; i < valueEnd; i++) if (!isBaggageOctet(s.charCodeAt(i))) return null;
  const properties = semicolon < end ? normaliseProperties(s.slice(semicolon + 1, end)) : undefined;
  if (properties === null) return null;
  // The common member has no OWS (normalising properties only ever removes characters, so an
  // unchanged length means unchanged): its text is taken as it is.
  if (start === from && end === to && keyEnd === eq && valueStart === eq + 1 && valueEnd === semicolon) {
    const propertiesLength = properties === undefined ? -1 : properties.length;
    if (propertiesLength === (semicolon === end ? -1 : end - semicolon - 1)) return s.slice(start, end);
  }
  return s.slice(start, keyEnd) + '=' + s.slice(valueStart, valueEnd) + (properties === undefined ? '' : ';' + properties);
}

/** The entry of a member's text (`key=value;props`, as `parseMember` or `withEntries` wrote it). */
function entryOf(member: string): BaggageEntry {
  const eq = member.indexOf('=');
  const semicolon = member.indexOf(';', eq);
  const key = member.slice(0, eq);
  const value = percentDecode(member.slice(eq + 1, semicolon === -1 ? member.length : semicolon));
  return semicolon === -1 ? { key, value } : { key, value, properties: member.slice(semicolon + 1) };
}

/**
 * Properties (`k1=v1; k2 ;k3=v3`) without OWS (`k1=v1;k2;k3=v3`); `undefined` when there are
 * none, `null` when one is invalid. Empty ones (a trailing `;`) are dropped.
 */
function normaliseProperties(text: string): string | null | undefined {
  const out: string[] = [];
  for (const part of text.split(';')) {
    let start = 0;
    let end = part.length;
    while (start < end && isOws(part.charCodeAt(start))) start++;
    while (end > start && isOws(part.charCodeAt(end - 1))) end--;
    if (start === end) continue;
    const eq = part.indexOf('=', start);
    if (eq === -1 || eq >= end) {
      if (!isToken(part, start, end)) return null;
      out.push(part.slice(start, end));
      continue;
    }
    let keyEnd = eq;
    while (keyEnd > start && isOws(part.charCodeAt(keyEnd - 1))) keyEnd--;
    if (!isToken(part, start, keyEnd)) return null;
    let valueStart = eq + 1;
    while (valueStart < end && isOws(part.charCodeAt(valueStart))) valueStart++;
    for (let i = valueStart; i < end; i++) if (!isBaggageOctet(part.charCodeAt(i))) return null;
    out.push(part.slice(start, keyEnd) + '=' + part.slice(valueStart, end));
  }
  return out.length === 0 ? undefined : out.join(';');
}

function joinedLength(members: readonly string[]): number {
  let length = members.length === 0 ? 0 : members.length - 1;
  for (const member of members) length += member.length;
  return length;
}

function report(problem: BaggageProblem | undefined, reason: string, key?: string): void {
  if (problem === undefined) return;
  try {
    problem(reason, key);
  } catch {
    // A diagnostics listener must not break reading or changing baggage.
  }
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** `%x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`: printable ASCII but DQUOTE, comma, semicolon, backslash. */
function isBaggageOctet(c: number): boolean {
  return c === 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) || (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

/** `s[start, end)` is a non-empty RFC 9110 token. */
function isToken(s: string, start: number, end: number): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    const ok =
      (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
      c === 0x21 || (c >= 0x23 && c <= 0x27) || c === 0x2a || c === 0x2b || c === 0x2d || c === 0x2e ||
      c === 0x5e || c === 0x5f || c === 0x60 || c === 0x7c || c === 0x7e;
    if (!ok) return false;
  }
  return true;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}
