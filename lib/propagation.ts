/**
 * Trace-token header codecs: `X-Trace-Info`, W3C `traceparent` (with `tracestate`), B3 single
 * and multi, and W3C `baggage`.
 *
 * Pure functions without tracer state. They run once or twice per request, so they check
 * characters by hand (no regex, no split) and allocate only the strings they return. None
 * of them throws, whatever it is given: a bad header must cost a request its parent, never
 * the request itself.
 */
import { Baggage } from './baggage';
import { carried, type Carried, CARRIED_NONE, CARRIED_RANDOM } from './carried';
import { decodeLegacyToken } from './legacy-token';
import { parseTraceState } from './tracestate';
import type { HeaderCarrier, PropagationFormat, TraceContext } from './types';

/** Longest header value read, in characters (the W3C limit for `tracestate`, used for all). */
export const MAX_HEADER_CHARS = 512;

const TRACE_ID_PAD = '0000000000000000';

/**
 * A context read by this module's parsers: its ids are known valid. The tracer marks spans
 * continued from one as such (`RecordingSpan.checkedIds`), so exporters skip checking their ids
 * again. The ids are kept twice, so a context changed after parsing is no longer vouched for.
 */
export class ParsedContext implements TraceContext {
  traceId: string;
  spanId: string;
  sampled: boolean;
  // Private fields: invisible to spreading, JSON and deep equality, so the context still looks
  // like the plain `{ traceId, spanId, sampled }` it always was.
  readonly #parsedTraceId: string;
  readonly #parsedSpanId: string;
  #carried: Carried;

  constructor(traceId: string, spanId: string, sampled: boolean, random = false) {
    this.traceId = traceId;
    this.spanId = spanId;
    this.sampled = sampled;
    this.#parsedTraceId = traceId;
    this.#parsedSpanId = spanId;
    this.#carried = random ? CARRIED_RANDOM : CARRIED_NONE;
  }

  /** Trace-flags bit 1 (W3C Level 2): the trace id's right-most 7 bytes are random. */
  get random(): boolean {
    return this.#carried.random;
  }

  /** The `tracestate` received with the context (normalised), if any. */
  get traceState(): string | undefined {
    return this.#carried.traceState;
  }

  /** The baggage received with the context, if any. */
  get baggage(): Baggage | undefined {
    return this.#carried.baggage;
  }

  /** What a span continuing this context carries on. */
  get carried(): Carried {
    return this.#carried;
  }

  /** Attaches the `tracestate` and baggage read beside the ids. */
  carry(traceState: string | undefined, baggage: Baggage | undefined): void {
    this.#carried = carried(this.#carried.random, traceState, baggage);
  }

  /** Whether the ids are still the ones parsed. */
  unchanged(): boolean {
    return this.traceId === this.#parsedTraceId && this.spanId === this.#parsedSpanId;
  }
}
const DASH = 0x2d;

const FLAGS = ['-00', '-01', '-02', '-03'];

/**
 * Formats a context as an `X-Trace-Info` token, which is also a valid W3C `traceparent`.
 *
 * @returns `00-<traceId>-<spanId>-<flags>`: flags bit 0 when sampled, bit 1 when `ctx.random`
 *   (W3C Level 2), so `01`, `03`, `00` or `02`; the ids are written as given (the tracer's own
 *   ids are already valid). `''` if `ctx` is not a usable object.
 */
export function formatToken(ctx: TraceContext): string {
  try {
    if (ctx === null || typeof ctx !== 'object') return '';
    return '00-' + ctx.traceId + '-' + ctx.spanId + FLAGS[(ctx.sampled ? 1 : 0) | (ctx.random === true ? 2 : 0)];
  } catch {
    return '';
  }
}

/**
 * Parses an `X-Trace-Info` value: exactly the `traceparent` version-00 grammar
 * (`00-<32 lower hex>-<16 lower hex>-<2 lower hex flags>`, flag bit 0 = sampled), or else,
 * when the value does not have a dash where that grammar puts its first one, a legacy Python
 * token (see `decodeLegacyToken`), which is taken as sampled since the Python tomograph
 * traced every request.
 *
 * @param value a header value as any carrier holds it: a string or a one-element array.
 * @returns the context, or `undefined` when absent or invalid. Never throws.
 */
export function parseToken(value: unknown): TraceContext | undefined {
  const s = headerString(value);
  return typeof s === 'string' ? tokenFromString(s) : undefined;
}

/**
 * Parses a W3C `traceparent` value: version `00` is exactly 55 characters; a higher version
 * (not `ff`) may carry further `-`-separated fields after the 55th character, which are
 * ignored. Lower-case hex only; all-zero ids are invalid.
 *
 * @returns the context (sampled = flag bit 0), or `undefined`. Never throws.
 */
export function parseTraceparent(value: unknown): TraceContext | undefined {
  const s = headerString(value);
  return typeof s === 'string' ? traceparentFromString(s) : undefined;
}

/**
 * Parses a B3 single header: `{traceId}-{spanId}[-{sampling}[-{parentSpanId}]]`, trace id 16
 * or 32 lower hex (16 is left-padded to 32 with zeros), span id 16, sampling `1`, `0` or `d`
 * (debug, hence sampled). A missing sampling state is a deferred decision, which we take as
 * sampled: the caller chose to propagate ids, and tomograph has no later point to decide at.
 *
 * @returns the context, or `undefined` when absent, invalid, or a decision without ids
 *   (`0`, `1`, `d`; `extractContext` does not count that one as malformed). Never throws.
 */
export function parseB3Single(value: unknown): TraceContext | undefined {
  const s = headerString(value);
  if (typeof s !== 'string') return undefined;
  const ctx = b3SingleFromString(s);
  return ctx === null ? undefined : ctx;
}

/**
 * Parses B3 multi headers, read through `get` by lower-case name: `x-b3-traceid` (16 or 32
 * lower hex), `x-b3-spanid` (16), `x-b3-sampled` (`1`, `0`, `true`, `false`; absent means
 * sampled, as for `parseB3Single`), `x-b3-flags` (`1` = debug, hence sampled).
 *
 * @returns the context, or `undefined` when ids are missing or anything is invalid. Never throws.
 */
export function parseB3Multi(get: (lowerName: string) => string | undefined): TraceContext | undefined {
  try {
    const ctx = b3MultiFromValues(get('x-b3-traceid'), get('x-b3-spanid'), get('x-b3-sampled'), get('x-b3-flags'));
    return typeof ctx === 'object' && ctx !== null ? ctx : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads one header from any carrier: a WHATWG `Headers` or other object with a `get`
 * function (a `null` answer means absent; an `undefined` one, as from a `Map`, is retried
 * with `canonicalName`), an object with `getHeader` (Node's `OutgoingMessage`), else a plain
 * object or Node's `IncomingHttpHeaders` (`lowerName`, then `canonicalName`, e.g.
 * `X-Trace-Info`; other casings are not searched).
 *
 * @returns the raw value (string, string[], number, ...) or `undefined`. Never throws.
 */
export function readHeader(carrier: HeaderCarrier, lowerName: string, canonicalName: string): unknown {
  try {
    return readHeaderUnsafe(carrier, lowerName, canonicalName);
  } catch {
    return undefined;
  }
}

/**
 * Finds the incoming trace context. Precedence: `X-Trace-Info`, `traceparent`, `b3`,
 * `X-B3-*`. The first header that is present and valid wins; a present but malformed one
 * (bad grammar, all-zero ids, over 512 characters, CR or LF, an array of more than one
 * value, a non-string) is reported through `onMalformed` and the next one is tried. An empty
 * value counts as absent; so does a B3 decision without ids (`b3: 0`), whose decision is
 * therefore dropped. A carrier whose getters throw is reported once as header `'*'` with
 * the thrown value.
 *
 * With a context found, two more headers are read: `tracestate` (see `parseTraceState`), when
 * the context came from `traceparent`, or from `X-Trace-Info` and no `traceparent` of another
 * trace is present (a `tracestate` belongs to the `traceparent` it came with); and `baggage`
 * (see `Baggage.parse`). A malformed one is reported and dropped; the context stands. The
 * context's `random`, `traceState` and `baggage` give what was read.
 *
 * @param onMalformed called with the lower-case header name (for B3 multi, the first bad one
 *   of `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled`, `x-b3-flags`) and its raw value;
 *   exceptions it throws are swallowed.
 * @returns the context, or `undefined` (the request then starts a new root). Never throws.
 */
export function extractContext(
  carrier: HeaderCarrier | undefined | null,
  onMalformed: (header: string, value: unknown) => void,
): TraceContext | undefined {
  if (carrier === null || carrier === undefined || typeof carrier !== 'object') return undefined;
  try {
    let raw = readHeaderUnsafe(carrier, 'x-trace-info', 'X-Trace-Info');
    let s = headerString(raw);
    if (s !== undefined) {
      const ctx = s === null ? undefined : tokenFromString(s);
      if (ctx !== undefined) return withCarried(carrier, ctx, 'x-trace-info', onMalformed);
      report(onMalformed, 'x-trace-info', raw);
    }

    raw = readHeaderUnsafe(carrier, 'traceparent', 'Traceparent');
    s = headerString(raw);
    if (s !== undefined) {
      const ctx = s === null ? undefined : traceparentFromString(s);
      if (ctx !== undefined) return withCarried(carrier, ctx, 'traceparent', onMalformed);
      report(onMalformed, 'traceparent', raw);
    }

    raw = readHeaderUnsafe(carrier, 'b3', 'B3');
    s = headerString(raw);
    if (s !== undefined) {
      const ctx = s === null ? undefined : b3SingleFromString(s);
      if (ctx !== undefined && ctx !== null) return withCarried(carrier, ctx, 'b3', onMalformed);
      if (ctx === undefined) report(onMalformed, 'b3', raw);
    }

    const traceId = readHeaderUnsafe(carrier, 'x-b3-traceid', 'X-B3-TraceId');
    const spanId = readHeaderUnsafe(carrier, 'x-b3-spanid', 'X-B3-SpanId');
    // The common no-header request stops here, without two more lookups.
    if (traceId === undefined && spanId === undefined) return undefined;
    const sampled = readHeaderUnsafe(carrier, 'x-b3-sampled', 'X-B3-Sampled');
    const flags = readHeaderUnsafe(carrier, 'x-b3-flags', 'X-B3-Flags');
    const multi = b3MultiFromValues(traceId, spanId, sampled, flags);
    if (typeof multi === 'object') return withCarried(carrier, multi, 'b3', onMalformed);
    if (multi === 'x-b3-traceid') report(onMalformed, multi, traceId);
    else if (multi === 'x-b3-spanid') report(onMalformed, multi, spanId);
    else if (multi === 'x-b3-sampled') report(onMalformed, multi, sampled);
    else if (multi === 'x-b3-flags') report(onMalformed, multi, flags);
    return undefined;
  } catch (err) {
    report(onMalformed, '*', err);
    return undefined;
  }
}

/**
 * Reads the W3C `baggage` header alone: for a request that carries baggage but no trace
 * context (`extractContext` reads it with one). Invalid members are dropped and reported.
 *
 * @returns the baggage, or `undefined` when absent or empty. Never throws.
 */
export function extractBaggage(
  carrier: HeaderCarrier | undefined | null,
  onMalformed: (header: string, value: unknown) => void,
): Baggage | undefined {
  if (carrier === null || carrier === undefined || typeof carrier !== 'object') return undefined;
  try {
    const raw = readHeaderUnsafe(carrier, 'baggage', 'Baggage');
    return raw === undefined ? undefined : readBaggage(raw, onMalformed);
  } catch (err) {
    report(onMalformed, '*', err);
    return undefined;
  }
}

/**
 * Whether `extractContext` or `extractBaggage` could find anything in `carrier`: false only for
 * a plain header object (Node's `IncomingHttpHeaders`) none of whose enumerable keys is, in any
 * casing, one of the headers they read. One pass over the keys the object has instead of the
 * dozen lookups of absent names that a request without trace headers costs otherwise: on the
 * header object of an Express request those lookups are megamorphic keyed loads that miss and
 * walk to `Object.prototype` (~2 k instructions per request; BENCHMARKS.md, "Instructions per
 * request"). Carriers with `get` or `getHeader` answer true (they are asked by name). Never throws.
 */
export function mayCarryTrace(carrier: HeaderCarrier | undefined | null): boolean {
  if (carrier === null || carrier === undefined || typeof carrier !== 'object') return false;
  try {
    const c = carrier as AnyCarrier;
    if (typeof c.get === 'function' || typeof c.getHeader === 'function') return true;
    // for-in also lists inherited enumerable keys, which a lookup by name would find too.
    for (const key in c) if (isReadHeaderName(key)) return true;
    return false;
  } catch {
    return true;
  }
}

/** The headers `extractContext` and `extractBaggage` read, lower case. */
const READ_HEADERS = new Set(['x-trace-info', 'traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled', 'x-b3-flags', 'baggage']);

/** `key` is one of `READ_HEADERS` in some casing; most other names fail on length or first letter. */
function isReadHeaderName(key: string): boolean {
  const n = key.length;
  if (n !== 2 && n !== 7 && (n < 10 || n > 12)) return false;
  const first = key.charCodeAt(0) | 0x20;
  if (first !== 0x78 && first !== 0x74 && first !== 0x62) return false; // x t b
  return READ_HEADERS.has(key.toLowerCase());
}

/**
 * Writes `ctx` into outgoing headers, one set per format: `x-trace-info` and `traceparent`
 * (both `formatToken(ctx)`), `b3` (`{traceId}-{spanId}-{1|0}`), and for `b3-multi`
 * `x-b3-traceid`, `x-b3-spanid`, `x-b3-parentspanid` (when `parentSpanId` is given, 16 hex),
 * `x-b3-sampled` (`1`/`0`). With `x-trace-info` or `traceparent` written, `ctx.traceState`
 * (when non-empty) goes in `tracestate`; `ctx.baggage` goes in `baggage` whatever the formats.
 * Names are written in lower case:
 * through `setHeader` (Node's `OutgoingMessage`), else `set` (WHATWG `Headers`, `Map`), else
 * as properties of a plain object, where an existing canonically cased key (`X-Trace-Info`)
 * is overwritten instead so the request does not carry the header twice. Unknown formats
 * are skipped.
 *
 * @returns `true` if everything was written; `false` if `ctx` is invalid (nothing written) or
 *   the carrier refused (frozen, headers already sent). Never throws.
 */
export function injectContext(
  carrier: HeaderCarrier,
  ctx: TraceContext,
  formats: readonly PropagationFormat[],
  parentSpanId?: string,
): boolean {
  try {
    if (carrier === null || typeof carrier !== 'object' || !Array.isArray(formats)) return false;
    if (ctx === null || typeof ctx !== 'object') return false;
    const { traceId, spanId, sampled } = ctx;
    if (!isContextValid(traceId, spanId, sampled)) return false;
    if (parentSpanId !== undefined && !(parentSpanId.length === 16 && isNonZeroLowerHex(parentSpanId, 0, 16))) {
      parentSpanId = undefined;
    }
    let token: string | undefined;
    for (let i = 0; i < formats.length; i++) {
      switch (formats[i]) {
        case 'x-trace-info':
          token ??= formatToken(ctx);
          write(carrier, 'x-trace-info', 'X-Trace-Info', token);
          break;
        case 'traceparent':
          token ??= formatToken(ctx);
          write(carrier, 'traceparent', 'Traceparent', token);
          break;
        case 'b3':
          write(carrier, 'b3', 'B3', traceId + '-' + spanId + (sampled ? '-1' : '-0'));
          break;
        case 'b3-multi':
          write(carrier, 'x-b3-traceid', 'X-B3-TraceId', traceId);
          write(carrier, 'x-b3-spanid', 'X-B3-SpanId', spanId);
          // zipkin-js joins its server span to ours (same span id) and takes that span's
          // parent from this header: without it the shared span would hang loose in Zipkin.
          if (parentSpanId !== undefined) write(carrier, 'x-b3-parentspanid', 'X-B3-ParentSpanId', parentSpanId);
          write(carrier, 'x-b3-sampled', 'X-B3-Sampled', sampled ? '1' : '0');
          break;
        default:
          break;
      }
    }
    // tracestate goes with the W3C-grammar headers; without one of them it would be invalid.
    const traceState = ctx.traceState;
    if (token !== undefined && typeof traceState === 'string' && traceState !== '') {
      write(carrier, 'tracestate', 'Tracestate', traceState);
    }
    const baggage = ctx.baggage;
    if (baggage instanceof Baggage) write(carrier, 'baggage', 'Baggage', baggage.header);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes the `baggage` header alone (baggage set outside any trace).
 *
 * @returns `true` if written; `false` if the carrier refused. Never throws.
 */
export function injectBaggage(carrier: HeaderCarrier, baggage: Baggage): boolean {
  try {
    if (carrier === null || typeof carrier !== 'object') return false;
    write(carrier, 'baggage', 'Baggage', baggage.header);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------
// Internals.

/**
 * Reads `tracestate` (for a W3C-grammar source) and `baggage` beside a context just parsed.
 * Both lookups miss on the common request, which then allocates nothing here.
 */
function withCarried(
  carrier: unknown,
  ctx: ParsedContext,
  source: 'x-trace-info' | 'traceparent' | 'b3',
  onMalformed: (header: string, value: unknown) => void,
): ParsedContext {
  let traceState: string | undefined;
  if (source !== 'b3') {
    const raw = readHeaderUnsafe(carrier, 'tracestate', 'Tracestate');
    if (raw !== undefined && (source === 'traceparent' || sameTraceAsTraceparent(carrier, ctx.traceId))) {
      const parsed = parseTraceState(raw);
      if (parsed === null) report(onMalformed, 'tracestate', raw);
      else traceState = parsed;
    }
  }
  const rawBaggage = readHeaderUnsafe(carrier, 'baggage', 'Baggage');
  const baggage = rawBaggage === undefined ? undefined : readBaggage(rawBaggage, onMalformed);
  if (traceState !== undefined || baggage !== undefined) ctx.carry(traceState, baggage);
  return ctx;
}

/** With the context from `X-Trace-Info`: no `traceparent` of another trace is present. */
function sameTraceAsTraceparent(carrier: unknown, traceId: string): boolean {
  const s = headerString(readHeaderUnsafe(carrier, 'traceparent', 'Traceparent'));
  if (s === undefined) return true;
  const parent = s === null ? undefined : traceparentFromString(s);
  return parent !== undefined && parent.traceId === traceId;
}

function readBaggage(raw: unknown, onMalformed: (header: string, value: unknown) => void): Baggage | undefined {
  let problem = false;
  const baggage = Baggage.parse(raw, () => (problem = true));
  if (problem) report(onMalformed, 'baggage', raw);
  return baggage;
}

/** Carriers seen through the three shapes they come in; never exported. */
type AnyCarrier = {
  get?: unknown;
  set?: unknown;
  getHeader?: unknown;
  setHeader?: unknown;
  [key: string]: unknown;
};

function readHeaderUnsafe(carrier: unknown, lowerName: string, canonicalName: string): unknown {
  if (carrier === null || typeof carrier !== 'object') return undefined;
  const c = carrier as AnyCarrier;
  if (typeof c.get === 'function') {
    let v: unknown = (c.get as (n: string) => unknown)(lowerName);
    // Headers answers null for absent and is case-insensitive; a Map answers undefined.
    if (v === undefined && canonicalName !== lowerName) v = (c.get as (n: string) => unknown)(canonicalName);
    return v === null ? undefined : v;
  }
  if (typeof c.getHeader === 'function') {
    // OutgoingMessage#getHeader is case-insensitive.
    const v: unknown = (c.getHeader as (n: string) => unknown)(lowerName);
    return v === null ? undefined : v;
  }
  const v = c[lowerName];
  return v === undefined ? c[canonicalName] : v;
}

/**
 * Normalises a raw header value: `undefined` when absent (also `null` and `''`), `null` when
 * malformed, else the string. Length is checked first so a huge value costs nothing more.
 */
function headerString(value: unknown): string | null | undefined {
  if (value === undefined || value === null) return undefined;
  let s: unknown = value;
  if (Array.isArray(value)) {
    // Node gives string[] for repeated headers it does not join; only one value is usable.
    if (value.length !== 1) return null;
    s = value[0];
  }
  if (typeof s !== 'string') return null;
  if (s.length > MAX_HEADER_CHARS) return null;
  if (s.length === 0) return undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x0d || c === 0x0a) return null;
  }
  return s;
}

function tokenFromString(s: string): ParsedContext | undefined {
  // Legacy base64 never has a dash in third place (a pickle starts with '(' or 0x80, so the
  // token starts with 'K' or 'g'), so that char tells the two formats apart without guessing.
  if (s.length > 2 && s.charCodeAt(2) === DASH) {
    if (s.length !== 55 || s.charCodeAt(0) !== 0x30 || s.charCodeAt(1) !== 0x30) return undefined;
    return traceparentFields(s);
  }
  const legacy = decodeLegacyToken(s);
  return legacy === undefined ? undefined : new ParsedContext(legacy.traceId, legacy.spanId, true);
}

function traceparentFromString(s: string): ParsedContext | undefined {
  if (s.length < 55 || s.charCodeAt(2) !== DASH || !isLowerHex(s, 0, 2)) return undefined;
  const v0 = s.charCodeAt(0);
  const v1 = s.charCodeAt(1);
  if (v0 === 0x66 && v1 === 0x66) return undefined; // version ff is forbidden
  if (v0 === 0x30 && v1 === 0x30) {
    if (s.length !== 55) return undefined;
  } else if (s.length > 55 && s.charCodeAt(55) !== DASH) {
    // A future version may append fields, but only after a dash.
    return undefined;
  }
  return traceparentFields(s);
}

/** The fields shared by every traceparent version, at fixed offsets 3, 36 and 53. */
function traceparentFields(s: string): ParsedContext | undefined {
  if (s.charCodeAt(35) !== DASH || s.charCodeAt(52) !== DASH) return undefined;
  if (!isNonZeroLowerHex(s, 3, 35) || !isNonZeroLowerHex(s, 36, 52) || !isLowerHex(s, 53, 55)) return undefined;
  const flagsLow = hexValue(s.charCodeAt(54));
  return new ParsedContext(s.slice(3, 35), s.slice(36, 52), (flagsLow & 1) === 1, (flagsLow & 2) === 2);
}

/** `null` means a bare sampling decision (`0`, `1`, `d`): valid, but no ids to continue. */
function b3SingleFromString(s: string): ParsedContext | undefined | null {
  const n = s.length;
  if (n === 1) return isSamplingChar(s.charCodeAt(0)) ? null : undefined;
  let traceLen: number;
  if (n >= 33 && s.charCodeAt(16) === DASH) traceLen = 16;
  else if (n >= 49 && s.charCodeAt(32) === DASH) traceLen = 32;
  else return undefined;
  const spanStart = traceLen + 1;
  const spanEnd = spanStart + 16;
  if (!isNonZeroLowerHex(s, 0, traceLen) || !isNonZeroLowerHex(s, spanStart, spanEnd)) return undefined;
  let sampled = true;
  if (n !== spanEnd) {
    // `-{sampling}` and optionally `-{16-hex parent span id}`, nothing else.
    if (s.charCodeAt(spanEnd) !== DASH || !isSamplingChar(s.charCodeAt(spanEnd + 1))) return undefined;
    sampled = s.charCodeAt(spanEnd + 1) !== 0x30;
    const rest = spanEnd + 2;
    if (n !== rest) {
      if (n !== rest + 17 || s.charCodeAt(rest) !== DASH || !isNonZeroLowerHex(s, rest + 1, n)) return undefined;
    }
  }
  const spanId = s.slice(spanStart, spanEnd);
  const traceId = traceLen === 32 ? s.slice(0, 32) : TRACE_ID_PAD + s.slice(0, 16);
  return new ParsedContext(traceId, spanId, sampled);
}

/**
 * B3 multi from raw values: the context; `undefined` when no id header is present (a bare
 * `x-b3-sampled` included); or the lower-case name of the first malformed header.
 */
function b3MultiFromValues(
  rawTraceId: unknown,
  rawSpanId: unknown,
  rawSampled: unknown,
  rawFlags: unknown,
): ParsedContext | string | undefined {
  const t = headerString(rawTraceId);
  const sp = headerString(rawSpanId);
  if (t === undefined && sp === undefined) return undefined;
  if (typeof t !== 'string' || !(t.length === 16 || t.length === 32) || !isNonZeroLowerHex(t, 0, t.length)) {
    return 'x-b3-traceid';
  }
  if (typeof sp !== 'string' || sp.length !== 16 || !isNonZeroLowerHex(sp, 0, 16)) return 'x-b3-spanid';
  const sampledValue = headerString(rawSampled);
  let sampled = true;
  if (sampledValue !== undefined) {
    if (sampledValue === '1' || sampledValue === 'true') sampled = true;
    else if (sampledValue === '0' || sampledValue === 'false') sampled = false;
    else return 'x-b3-sampled';
  }
  const flags = headerString(rawFlags);
  if (flags !== undefined) {
    if (flags === '1') sampled = true;
    else if (flags !== '0') return 'x-b3-flags';
  }
  return new ParsedContext(t.length === 32 ? t : TRACE_ID_PAD + t, sp, sampled);
}

function write(carrier: unknown, lowerName: string, canonicalName: string, value: string): void {
  const c = carrier as AnyCarrier;
  if (typeof c.setHeader === 'function') {
    (c.setHeader as (n: string, v: string) => unknown)(lowerName, value);
  } else if (typeof c.set === 'function') {
    (c.set as (n: string, v: string) => unknown)(lowerName, value);
  } else if (typeof c.get === 'function') {
    // Something readable but not writable: report failure rather than pretend.
    throw new TypeError('carrier has no setter');
  } else if (canonicalName !== lowerName && Object.prototype.hasOwnProperty.call(c, canonicalName)) {
    c[canonicalName] = value;
  } else {
    c[lowerName] = value;
  }
}

function report(onMalformed: (header: string, value: unknown) => void, header: string, value: unknown): void {
  try {
    onMalformed(header, value);
  } catch {
    // The tracer's counter must not be able to break the request either.
  }
}

function isContextValid(traceId: unknown, spanId: unknown, sampled: unknown): boolean {
  return (
    typeof traceId === 'string' &&
    traceId.length === 32 &&
    isNonZeroLowerHex(traceId, 0, 32) &&
    typeof spanId === 'string' &&
    spanId.length === 16 &&
    isNonZeroLowerHex(spanId, 0, 16) &&
    typeof sampled === 'boolean'
  );
}

function isSamplingChar(c: number): boolean {
  return c === 0x30 || c === 0x31 || c === 0x64; // '0' '1' 'd'
}

/** `s[start, end)` is lower-case hex (and `end` is within `s`). */
function isLowerHex(s: string, start: number, end: number): boolean {
  if (end > s.length) return false;
  for (let i = start; i < end; i++) {
    if (hexValue(s.charCodeAt(i)) < 0) return false;
  }
  return true;
}

/** `s[start, end)` is lower-case hex and not all zeros. */
function isNonZeroLowerHex(s: string, start: number, end: number): boolean {
  if (end > s.length) return false;
  let any = 0;
  for (let i = start; i < end; i++) {
    const v = hexValue(s.charCodeAt(i));
    if (v < 0) return false;
    any |= v;
  }
  return any !== 0;
}

/** The value of a lower-case hex digit, or -1. */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}
