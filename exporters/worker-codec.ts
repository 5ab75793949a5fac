import type { FinishedSpan, Note, SpanKind, TagValue } from '../lib/types';

/**
 * A batch of finished spans packed for the trip to the export worker, so a whole batch crosses
 * with one `postMessage` and no structured clone of any span:
 *
 * - `numbers` (a transferred Float64Array buffer): per span, a flags word, the times, counts and,
 *   for every string, its length in UTF-16 code units, or -1 for "the same string as in this
 *   slot last time" (a span's name, service, host, tag keys and values mostly repeat the previous
 *   span's, and are then sent once per batch);
 * - `text`: every other string of the batch, one after the other, as one string (copied once by
 *   `postMessage`, which costs far less than encoding it as UTF-8 here).
 *
 * Each span also carries its chain of local ancestors (`localParent`, up to the local root) as
 * id, name, service and duration (0 while the ancestor still runs), so exporters in the worker
 * that name spans by their place in the local tree (StatsD) see the same tree.
 */
export interface PackedBatch {
  /** Spans in the batch. */
  readonly count: number;
  readonly numbers: ArrayBuffer;
  readonly text: string;
}

const HAS_PARENT = 1;
const HAS_ERROR = 2;
const SAMPLED = 4;
const HAS_HOST = 8;
const HAS_HOST_ADDRESS = 16;
const HAS_HOST_PORT = 32;
const HAS_REMOTE = 64;
const HAS_REMOTE_SERVICE = 128;
const HAS_REMOTE_ADDRESS = 256;
const HAS_REMOTE_PORT = 512;
/** The kind, 0 (none) to 4, sits in the bits from here. */
const KIND_SHIFT = 10;

const KINDS: readonly (SpanKind | undefined)[] = [undefined, 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
const TAG_STRING = 0;
const TAG_NUMBER = 1;
const TAG_TRUE = 2;
const TAG_FALSE = 3;
/** A note without a duration. */
const NO_DURATION = -1;
/** In place of a string's length: the same string as the last one in its slot. */
const REPEAT = -1;

// Slots of the repeat cache. Any assignment is correct as long as packer and unpacker use the
// same one; these put strings that tend to repeat from span to span in a slot of their own.
// (Ids are sent as they are, without a slot: they seldom repeat, and comparing costs more.)
const S_NAME = 0;
const S_SERVICE = 1;
const S_HOST_ADDRESS = 2;
const S_REMOTE_SERVICE = 3;
const S_REMOTE_ADDRESS = 4;
const S_ERROR = 5;
const S_NOTE = 6;
const S_ANCESTOR_NAME = 7;
const S_ANCESTOR_SERVICE = 8;
/** Tag i's key and value: slots S_TAGS + 2i and S_TAGS + 2i + 1, the last pair shared past MAX_TAG_SLOTS. */
const S_TAGS = 9;
const MAX_TAG_SLOTS = 24;
const SLOTS = S_TAGS + 2 * MAX_TAG_SLOTS;

function kindCode(kind: SpanKind | undefined): number {
  switch (kind) {
    case 'SERVER': return 1;
    case 'CLIENT': return 2;
    case 'PRODUCER': return 3;
    case 'CONSUMER': return 4;
    default: return 0;
  }
}

/**
 * Packs batches. One per export worker: its scratch array is reused from batch to batch (it
 * grows to the largest batch seen), so packing allocates only the two buffers that are sent.
 */
export class BatchPacker {
  private scratch = new Float64Array(4096);
  private n = 0;
  private text = '';
  /** The last string sent in each slot, this batch. */
  private readonly last: (string | undefined)[] = new Array<string | undefined>(SLOTS).fill(undefined);

  /** Packs `spans`; never throws on a span of the FinishedSpan shape. */
  pack(spans: readonly FinishedSpan[]): PackedBatch {
    this.n = 0;
    this.text = '';
    for (let i = 0; i < spans.length; i++) this.span(spans[i]);
    // ArrayBuffer#slice is one copy (TypedArray#slice is far slower on this Node).
    const numbers = this.scratch.buffer.slice(0, this.n * 8);
    const text = this.text;
    this.text = '';
    // Each batch starts afresh (a batch may be lost with a worker), and keeps no strings alive.
    this.last.fill(undefined);
    return { count: spans.length, numbers, text };
  }

  private span(span: FinishedSpan): void {
    const host = span.host;
    const remote = span.remote;
    let flags = kindCode(span.kind) << KIND_SHIFT;
    if (span.parentId !== undefined) flags |= HAS_PARENT;
    if (span.error !== undefined) flags |= HAS_ERROR;
    if (span.sampled) flags |= SAMPLED;
    if (host !== undefined) {
      flags |= HAS_HOST;
      if (host.address !== undefined) flags |= HAS_HOST_ADDRESS;
      if (host.port !== undefined) flags |= HAS_HOST_PORT;
    }
    if (remote !== undefined) {
      flags |= HAS_REMOTE;
      if (remote.service !== undefined) flags |= HAS_REMOTE_SERVICE;
      if (remote.address !== undefined) flags |= HAS_REMOTE_ADDRESS;
      if (remote.port !== undefined) flags |= HAS_REMOTE_PORT;
    }
    const notes = span.notes;
    const tags = span.tags;
    // Upper bound of the numbers this span writes before its tags and ancestors.
    this.reserve(16 + notes.length * 3);
    const s = this.scratch;
    let n = this.n;
    s[n++] = flags;
    s[n++] = span.timestamp;
    s[n++] = span.duration;
    this.n = n;
    this.unique(span.traceId);
    this.unique(span.id);
    if (span.parentId !== undefined) this.unique(span.parentId);
    this.string(span.name, S_NAME);
    this.string(span.service, S_SERVICE);
    if (host !== undefined) {
      if (host.address !== undefined) this.string(host.address, S_HOST_ADDRESS);
      if (host.port !== undefined) this.scratch[this.n++] = host.port;
    }
    if (remote !== undefined) {
      if (remote.service !== undefined) this.string(remote.service, S_REMOTE_SERVICE);
      if (remote.address !== undefined) this.string(remote.address, S_REMOTE_ADDRESS);
      if (remote.port !== undefined) this.scratch[this.n++] = remote.port;
    }
    if (span.error !== undefined) this.string(span.error, S_ERROR);
    this.scratch[this.n++] = notes.length;
    for (let i = 0; i < notes.length; i++) {
      const note = notes[i];
      this.scratch[this.n++] = note.timestamp;
      this.scratch[this.n++] = note.duration ?? NO_DURATION;
      this.string(note.value, S_NOTE);
    }
    const countAt = this.n++;
    let tagCount = 0;
    for (const key in tags) {
      const value = tags[key];
      const slot = S_TAGS + 2 * (tagCount < MAX_TAG_SLOTS ? tagCount : MAX_TAG_SLOTS - 1);
      this.reserve(4);
      this.string(key, slot);
      if (typeof value === 'string') {
        this.scratch[this.n++] = TAG_STRING;
        this.string(value, slot + 1);
      } else if (typeof value === 'number') {
        this.scratch[this.n++] = TAG_NUMBER;
        this.scratch[this.n++] = value;
      } else {
        this.scratch[this.n++] = value === true ? TAG_TRUE : TAG_FALSE;
      }
      tagCount++;
    }
    this.scratch[countAt] = tagCount;
    const depthAt = this.n++;
    let depth = 0;
    for (let parent = span.localParent; parent !== undefined; parent = parent.localParent) {
      this.reserve(4);
      this.scratch[this.n++] = parent.duration;
      this.unique(parent.id);
      this.string(parent.name, S_ANCESTOR_NAME);
      this.string(parent.service, S_ANCESTOR_SERVICE);
      depth++;
    }
    this.scratch[depthAt] = depth;
  }

  /** A string that rarely repeats (an id): sent as it is, with no comparison. */
  private unique(value: string): void {
    this.scratch[this.n++] = value.length;
    this.text += value;
  }

  private string(value: string, slot: number): void {
    if (this.last[slot] === value) {
      this.scratch[this.n++] = REPEAT;
      return;
    }
    this.last[slot] = value;
    this.scratch[this.n++] = value.length;
    this.text += value;
  }

  /** Room for `more` numbers, plus the string lengths they come with. */
  private reserve(more: number): void {
    if (this.n + more * 2 <= this.scratch.length) return;
    const grown = new Float64Array(Math.max(this.scratch.length * 2, this.n + more * 2));
    grown.set(this.scratch.subarray(0, this.n));
    this.scratch = grown;
  }
}

/** A decoded span: the FinishedSpan shape, writable, so a stand-in ancestor can be completed later. */
interface DecodedSpan {
  traceId: string;
  id: string;
  parentId: string | undefined;
  name: string;
  service: string;
  kind: SpanKind | undefined;
  host: { address?: string; port?: number } | undefined;
  remote: { service?: string; address?: string; port?: number } | undefined;
  timestamp: number;
  duration: number;
  notes: Note[];
  tags: Record<string, TagValue>;
  error: string | undefined;
  sampled: boolean;
  localParent: DecodedSpan | undefined;
}

/**
 * Unpacks batches in the worker. Ancestors still running when a batch was packed are kept as
 * stand-ins by id (at most `maxOpenAncestors`, oldest forgotten first), so that every span of one
 * local tree points at the same ancestor object, and that object becomes the real span (its final
 * name, its duration) when the ancestor arrives: exporters that hold spans until their local root
 * ends (StatsD) see it end.
 */
export class BatchUnpacker {
  private readonly open = new Map<string, DecodedSpan>();
  private readonly last: string[] = new Array<string>(SLOTS).fill('');
  private numbers = new Float64Array(0);
  private text = '';
  private n = 0;
  private at = 0;

  constructor(private readonly maxOpenAncestors = 10000) {}

  /** Ancestor stand-ins held now. */
  get openAncestors(): number {
    return this.open.size;
  }

  unpack(batch: PackedBatch): FinishedSpan[] {
    this.numbers = new Float64Array(batch.numbers);
    this.text = batch.text;
    this.n = 0;
    this.at = 0;
    const spans: FinishedSpan[] = [];
    for (let i = 0; i < batch.count; i++) spans.push(this.span());
    this.text = '';
    this.last.fill('');
    return spans;
  }

  private span(): FinishedSpan {
    const flags = this.number();
    const timestamp = this.number();
    const duration = this.number();
    const traceId = this.unique();
    const id = this.unique();
    const parentId = flags & HAS_PARENT ? this.unique() : undefined;
    const name = this.string(S_NAME);
    const service = this.string(S_SERVICE);
    let host: DecodedSpan['host'];
    if (flags & HAS_HOST) {
      host = {};
      if (flags & HAS_HOST_ADDRESS) host.address = this.string(S_HOST_ADDRESS);
      if (flags & HAS_HOST_PORT) host.port = this.number();
    }
    let remote: DecodedSpan['remote'];
    if (flags & HAS_REMOTE) {
      remote = {};
      if (flags & HAS_REMOTE_SERVICE) remote.service = this.string(S_REMOTE_SERVICE);
      if (flags & HAS_REMOTE_ADDRESS) remote.address = this.string(S_REMOTE_ADDRESS);
      if (flags & HAS_REMOTE_PORT) remote.port = this.number();
    }
    const error = flags & HAS_ERROR ? this.string(S_ERROR) : undefined;
    const notes: Note[] = [];
    for (let i = this.number(); i > 0; i--) {
      const noteTimestamp = this.number();
      const noteDuration = this.number();
      const value = this.string(S_NOTE);
      notes.push(noteDuration === NO_DURATION ? { timestamp: noteTimestamp, value } : { timestamp: noteTimestamp, value, duration: noteDuration });
    }
    const tags: Record<string, TagValue> = {};
    const tagCount = this.number();
    for (let i = 0; i < tagCount; i++) {
      const slot = S_TAGS + 2 * (i < MAX_TAG_SLOTS ? i : MAX_TAG_SLOTS - 1);
      const key = this.string(slot);
      const type = this.number();
      tags[key] = type === TAG_STRING ? this.string(slot + 1) : type === TAG_NUMBER ? this.number() : type === TAG_TRUE;
    }
    const localParent = this.ancestors(this.number());
    const kind = KINDS[(flags >> KIND_SHIFT) & 7];

    // Every field in one order, absent ones undefined, as the main thread's spans have them (one shape).
    const span: DecodedSpan = {
      traceId, id, parentId, name, service, kind, host, remote, timestamp, duration, notes, tags, error,
      sampled: (flags & SAMPLED) !== 0, localParent,
    };
    // An ancestor of earlier spans, still open when they were packed: that object becomes this
    // span, so whatever holds it (StatsD's wait for a local root) sees it end.
    const standIn = this.open.get(id);
    if (standIn === undefined) return span as FinishedSpan;
    this.open.delete(id);
    return Object.assign(standIn, span) as FinishedSpan;
  }

  /** Reads `depth` ancestors (nearest first) and links them; returns the nearest. */
  private ancestors(depth: number): DecodedSpan | undefined {
    let nearest: DecodedSpan | undefined;
    let below: DecodedSpan | undefined;
    for (let i = 0; i < depth; i++) {
      const duration = this.number();
      const id = this.unique();
      const name = this.string(S_ANCESTOR_NAME);
      const service = this.string(S_ANCESTOR_SERVICE);
      let ancestor = this.open.get(id);
      const known = ancestor !== undefined;
      if (ancestor === undefined) {
        ancestor = standInSpan(id, name, service, duration);
        if (duration === 0) this.remember(ancestor);
      } else {
        // Its name and duration as of this batch: a root may be renamed while it runs.
        ancestor.name = name;
        ancestor.duration = duration;
      }
      if (below === undefined) nearest = ancestor;
      else below.localParent = ancestor;
      below = ancestor;
      // A known stand-in already has its chain above it.
      if (known) {
        this.skipAncestors(depth - i - 1);
        return nearest;
      }
    }
    return nearest;
  }

  private skipAncestors(count: number): void {
    for (let i = 0; i < count; i++) {
      this.number();
      this.unique();
      this.string(S_ANCESTOR_NAME);
      this.string(S_ANCESTOR_SERVICE);
    }
  }

  private remember(ancestor: DecodedSpan): void {
    if (this.open.size >= this.maxOpenAncestors) {
      const oldest = this.open.keys().next();
      if (oldest.done !== true) this.open.delete(oldest.value);
    }
    this.open.set(ancestor.id, ancestor);
  }

  private number(): number {
    return this.numbers[this.n++];
  }

  private unique(): string {
    const length = this.numbers[this.n++];
    const start = this.at;
    this.at += length;
    return ownString(this.text.slice(start, this.at));
  }

  private string(slot: number): string {
    const length = this.numbers[this.n++];
    if (length === REPEAT) return this.last[slot];
    const start = this.at;
    this.at += length;
    const value = ownString(this.text.slice(start, this.at));
    this.last[slot] = value;
    return value;
  }
}

/**
 * A copy of `slice` that does not keep the batch's whole text alive: V8 makes a slice of 13
 * characters or more a view into its parent string, and exporters may keep a string for long (a
 * StatsD name cache). Flattening a concatenation allocates a fresh string of its own.
 */
function ownString(slice: string): string {
  return slice.length < 13 ? slice : (slice + ' ').slice(0, -1);
}

function standInSpan(id: string, name: string, service: string, duration: number): DecodedSpan {
  return {
    traceId: '', id, parentId: undefined, name, service, kind: undefined, host: undefined, remote: undefined,
    timestamp: 0, duration, notes: [], tags: {}, error: undefined, sampled: true, localParent: undefined,
  };
}
