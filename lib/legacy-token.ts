/**
 * The Python tomograph's trace token, read only so that a mixed fleet keeps its traces
 * while services migrate: `X-Trace-Info: base64(pickle.dumps((trace_id, span_id)))`.
 *
 * This is NOT an unpickler. It recognises exactly the byte shapes that CPython 2 and 3
 * produce for a 2-tuple of non-negative integers (protocols 0 to 5) and rejects every other
 * opcode, so a crafted pickle (`GLOBAL` + `REDUCE` and friends) can never do anything but
 * fail to match. It never emits the format.
 */

/** Longest token considered, in characters; checked before any decoding work. */
const MAX_TOKEN_CHARS = 512;

/** 2^128 and 2^64: trace ids and span ids must stay below these. */
const TRACE_ID_LIMIT = 1n << 128n;
const SPAN_ID_LIMIT = 1n << 64n;

/**
 * Ids above 2^128 cannot be valid, so longer integers are rejected before any BigInt work:
 * 39 decimal digits and 17 little-endian bytes (16 plus the sign byte) cover 2^128 - 1.
 */
const MAX_DECIMAL_DIGITS = 39;
const MAX_LONG_BYTES = 17;

// The opcodes a pickled (int, int) can contain; pickletools names them.
const PROTO = 0x80;
const FRAME = 0x95;
const MARK = 0x28; // '('
const INT = 0x49; // 'I': decimal text, protocol 0 (and Python 2 ints over 32 bits)
const LONG = 0x4c; // 'L': decimal text with an optional 'L' suffix
const BININT = 0x4a; // 'J': 4-byte signed little-endian
const BININT1 = 0x4b; // 'K': 1-byte unsigned
const BININT2 = 0x4d; // 'M': 2-byte unsigned little-endian
const LONG1 = 0x8a; // 1-byte length, then two's complement little-endian
const LONG4 = 0x8b; // 4-byte length, then two's complement little-endian
const TUPLE = 0x74; // 't': everything since MARK
const TUPLE2 = 0x86;
const PUT = 0x70; // 'p': decimal memo index + '\n'
const BINPUT = 0x71; // 'q'
const LONG_BINPUT = 0x72; // 'r'
const MEMOIZE = 0x94;
const STOP = 0x2e; // '.'
const NEWLINE = 0x0a;

/**
 * Decodes a legacy Python tomograph token.
 *
 * @param value the `X-Trace-Info` header value: standard or URL-safe base64 (padding
 *   optional) of `pickle.dumps((trace_id, span_id))`, protocol 0 to 5, at most 512 characters.
 * @returns the ids as lower-case hex, the trace id left-padded to 32 characters and the
 *   span id to 16, or `undefined` for anything else: another pickle shape, a negative, zero
 *   or too large id (trace id must be below 2^128, span id below 2^64), bad base64,
 *   trailing bytes. Never throws.
 */
export function decodeLegacyToken(value: string): { traceId: string; spanId: string } | undefined {
  if (typeof value !== 'string' || value.length > MAX_TOKEN_CHARS) return undefined;
  try {
    const bytes = decodeBase64(value);
    return bytes === undefined ? undefined : decodePickledPair(bytes);
  } catch {
    // Nothing above is expected to throw; this only keeps the promise made to callers.
    return undefined;
  }
}

/** Strict base64: only the two alphabets, padding only at the end and only where it fits. */
function decodeBase64(value: string): Buffer | undefined {
  const n = value.length;
  let end = n;
  if (end > 0 && value.charCodeAt(end - 1) === 0x3d /* = */) end--;
  if (end > 0 && value.charCodeAt(end - 1) === 0x3d) end--;
  // Padding, when present, must complete a 4-character group; a lone trailing char is no byte.
  if ((end < n && n % 4 !== 0) || end % 4 === 1 || end === 0) return undefined;
  for (let i = 0; i < end; i++) {
    const c = value.charCodeAt(i);
    const ok =
      (c >= 0x41 && c <= 0x5a) || // A-Z
      (c >= 0x61 && c <= 0x7a) || // a-z
      (c >= 0x30 && c <= 0x39) || // 0-9
      c === 0x2b || c === 0x2f || // + /
      c === 0x2d || c === 0x5f; //   - _ (URL-safe)
    if (!ok) return undefined;
  }
  // Node's base64 decoder reads both alphabets; the loop above made its leniency moot.
  return Buffer.from(value, 'base64');
}

/** Reads the opcode stream of `(int, int)`; see the module comment for what is accepted. */
function decodePickledPair(b: Buffer): { traceId: string; spanId: string } | undefined {
  const len = b.length;
  let pos = 0;
  if (b[pos] === PROTO) {
    const proto = b[pos + 1];
    if (proto === undefined || proto < 2 || proto > 5) return undefined;
    pos += 2;
    if (b[pos] === FRAME) {
      if (proto < 4 || pos + 9 > len) return undefined;
      // The frame length is 8 bytes little-endian; a real one for this pickle is tiny.
      for (let i = pos + 5; i < pos + 9; i++) if (b[i] !== 0) return undefined;
      const frameLen = b.readUInt32LE(pos + 1);
      pos += 9;
      // pickle.dumps puts the whole rest, STOP included, in one frame.
      if (frameLen !== len - pos) return undefined;
    }
  }
  const marked = b[pos] === MARK;
  if (marked) pos++;

  const reader = { pos };
  const traceId = readNonNegativeInt(b, reader);
  if (traceId === undefined) return undefined;
  const spanId = readNonNegativeInt(b, reader);
  if (spanId === undefined) return undefined;
  pos = reader.pos;

  // MARK ... TUPLE in protocols 0/1, TUPLE2 from protocol 2; a third int fails here.
  if (b[pos++] !== (marked ? TUPLE : TUPLE2)) return undefined;

  // At most one memo store of the tuple (CPython always writes one; hand-made pickles may not).
  const op = b[pos];
  if (op === PUT) {
    const nl = b.indexOf(NEWLINE, pos + 1);
    if (nl < 0 || !isDecimal(b, pos + 1, nl, 10)) return undefined;
    pos = nl + 1;
  } else if (op === BINPUT) {
    pos += 2;
  } else if (op === LONG_BINPUT) {
    pos += 5;
  } else if (op === MEMOIZE) {
    pos += 1;
  }

  if (pos !== len - 1 || b[pos] !== STOP) return undefined;
  if (traceId === 0n || traceId >= TRACE_ID_LIMIT) return undefined;
  if (spanId === 0n || spanId >= SPAN_ID_LIMIT) return undefined;
  return {
    traceId: traceId.toString(16).padStart(32, '0'),
    spanId: spanId.toString(16).padStart(16, '0'),
  };
}

/** One integer opcode at `r.pos`; advances `r.pos`. Negative values and bools are rejected. */
function readNonNegativeInt(b: Buffer, r: { pos: number }): bigint | undefined {
  const len = b.length;
  const op = b[r.pos];
  const at = r.pos + 1;
  switch (op) {
    case INT:
    case LONG: {
      const nl = b.indexOf(NEWLINE, at);
      if (nl < 0) return undefined;
      // Python writes longs as `L123L\n`; its unpickler also takes `L123\n`.
      const end = op === LONG && nl > at && b[nl - 1] === LONG ? nl - 1 : nl;
      // Canonical digits only: no sign, no spaces, and no leading zero, which also rules
      // out the protocol-0 bools `I00\n` / `I01\n`.
      if (!isDecimal(b, at, end, MAX_DECIMAL_DIGITS)) return undefined;
      r.pos = nl + 1;
      return BigInt(b.toString('latin1', at, end));
    }
    case BININT: {
      if (at + 4 > len) return undefined;
      const v = b.readInt32LE(at);
      if (v < 0) return undefined;
      r.pos = at + 4;
      return BigInt(v);
    }
    case BININT1:
      if (at + 1 > len) return undefined;
      r.pos = at + 1;
      return BigInt(b[at]);
    case BININT2:
      if (at + 2 > len) return undefined;
      r.pos = at + 2;
      return BigInt(b.readUInt16LE(at));
    case LONG1:
    case LONG4: {
      const head = op === LONG1 ? 1 : 4;
      if (at + head > len) return undefined;
      const n = op === LONG1 ? b[at] : b.readUInt32LE(at);
      const start = at + head;
      if (n > MAX_LONG_BYTES || start + n > len) return undefined;
      r.pos = start + n;
      if (n === 0) return 0n;
      if (b[start + n - 1] & 0x80) return undefined; // two's complement: negative
      let v = 0n;
      for (let i = start + n - 1; i >= start; i--) v = (v << 8n) | BigInt(b[i]);
      return v;
    }
    default:
      return undefined;
  }
}

/** True if `b[start, end)` is 1 to `maxDigits` ASCII digits without a leading zero. */
function isDecimal(b: Buffer, start: number, end: number, maxDigits: number): boolean {
  const n = end - start;
  if (n < 1 || n > maxDigits) return false;
  if (n > 1 && b[start] === 0x30) return false;
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}
