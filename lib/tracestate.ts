/**
 * W3C `tracestate` (Trace Context, "tracestate Header Field Values"): read leniently, passed on
 * unchanged. tomograph adds no entry of its own (README, "Trace Context and Baggage"), so the
 * value it sends on is the one it received, normalised: repeated header lines combined in
 * order, empty members and optional whitespace around members dropped, every key and value
 * kept byte for byte, in order (duplicate keys too, as the specification allows).
 *
 * Runs only when a `tracestate` header is present: the common request without one costs a
 * header lookup in `extractContext` and nothing here.
 */

/** Most list members a `tracestate` may hold (the specification's limit). */
export const MAX_TRACESTATE_MEMBERS = 32;

/**
 * Longest combined `tracestate` passed on, in characters: the specification's minimum, and
 * what OpenTelemetry JS accepts. Over it, whole members are dropped as the specification's
 * "tracestate Limits" directs: members over 128 characters first, then from the end.
 */
export const MAX_TRACESTATE_CHARS = 512;

/** Longest raw input considered at all (32 members of 513 characters, plus separators and OWS). */
const MAX_INPUT_CHARS = 32 * 1024;
const LARGE_MEMBER_CHARS = 128;
const MAX_KEY_CHARS = 256;
const MAX_VALUE_CHARS = 256;

const COMMA = 0x2c;
const EQUALS = 0x3d;
const SPACE = 0x20;
const TAB = 0x09;

/**
 * Parses an incoming `tracestate`: a string, or an array of header lines (combined in order,
 * as RFC 9110 field order directs). Each member must match the grammar
 * (`key = ( lcalpha / DIGIT ) 0*255( lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@" )`, value 1 to
 * 256 printable ASCII characters except `,` and `=`, not ending in a space); empty and
 * whitespace-only members are allowed and dropped.
 *
 * @returns the value to pass on (members joined by `,`); `undefined` when there is nothing to
 *   pass on (absent, empty); `null` when the header is malformed (any invalid member, more than
 *   32 members, a non-string): then the whole header is discarded, as the specification allows
 *   and the W3C test suite expects. Never throws.
 */
export function parseTraceState(raw: unknown): string | null | undefined {
  if (raw === undefined || raw === null) return undefined;
  let value: string;
  if (typeof raw === 'string') {
    value = raw;
  } else if (Array.isArray(raw)) {
    for (let i = 0; i < raw.length; i++) if (typeof raw[i] !== 'string') return null;
    value = raw.join(',');
  } else {
    return null;
  }
  if (value.length === 0) return undefined;
  if (value.length > MAX_INPUT_CHARS) return null;

  const members: string[] = [];
  // Whether the input is already in normal form (no OWS, no empty members): then the very
  // string received is passed on.
  let same = true;
  let length = 0;
  const n = value.length;
  let i = 0;
  for (;;) {
    let end = value.indexOf(',', i);
    if (end === -1) end = n;
    let start = i;
    while (start < end && isOws(value.charCodeAt(start))) start++;
    let last = end;
    while (last > start && isOws(value.charCodeAt(last - 1))) last--;
    if (last === start) {
      // An empty or whitespace-only member: allowed, and dropped.
      same = false;
    } else {
      if (!isMember(value, start, last)) return null;
      if (members.length === MAX_TRACESTATE_MEMBERS) return null;
      if (start !== i || last !== end) same = false;
      members.push(value.slice(start, last));
      length += last - start;
    }
    if (end === n) break;
    i = end + 1;
  }
  if (members.length === 0) return undefined;
  length += members.length - 1;
  if (length <= MAX_TRACESTATE_CHARS) return same ? value : members.join(',');
  return truncate(members);
}

/** Whether `s[start, end)` (no surrounding OWS) is a valid `key=value` list member. */
function isMember(s: string, start: number, end: number): boolean {
  const eq = s.indexOf('=', start);
  if (eq === -1 || eq >= end) return false;
  const keyLength = eq - start;
  if (keyLength < 1 || keyLength > MAX_KEY_CHARS) return false;
  const first = s.charCodeAt(start);
  if (!(isLcAlpha(first) || isDigit(first))) return false;
  for (let i = start + 1; i < eq; i++) if (!isKeyChar(s.charCodeAt(i))) return false;
  const valueLength = end - eq - 1;
  if (valueLength < 1 || valueLength > MAX_VALUE_CHARS) return false;
  for (let i = eq + 1; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < SPACE || c > 0x7e || c === COMMA || c === EQUALS) return false;
  }
  // The member was trimmed of OWS, so its last character is not a space.
  return true;
}

/** Drops whole members until the list fits: those over 128 characters first, then from the end. */
function truncate(members: string[]): string | undefined {
  let kept = members;
  let length = joinedLength(kept);
  if (length > MAX_TRACESTATE_CHARS) {
    const small: string[] = [];
    for (let i = 0; i < kept.length; i++) {
      if (kept[i].length > LARGE_MEMBER_CHARS && length > MAX_TRACESTATE_CHARS) {
        length -= kept[i].length + 1;
      } else {
        small.push(kept[i]);
      }
    }
    kept = small;
  }
  while (kept.length > 0 && joinedLength(kept) > MAX_TRACESTATE_CHARS) kept = kept.slice(0, -1);
  return kept.length === 0 ? undefined : kept.join(',');
}

function joinedLength(members: readonly string[]): number {
  let length = members.length === 0 ? 0 : members.length - 1;
  for (let i = 0; i < members.length; i++) length += members[i].length;
  return length;
}

function isOws(c: number): boolean {
  return c === SPACE || c === TAB;
}

function isLcAlpha(c: number): boolean {
  return c >= 0x61 && c <= 0x7a;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isKeyChar(c: number): boolean {
  // lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"
  return isLcAlpha(c) || isDigit(c) || c === 0x5f || c === 0x2d || c === 0x2a || c === 0x2f || c === 0x40;
}
