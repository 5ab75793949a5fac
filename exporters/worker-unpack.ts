import type { FinishedSpan, Note, SpanKind, TagValue } from '../lib/types';
import {
  HAS_ERROR, HAS_HOST, HAS_HOST_ADDRESS, HAS_HOST_PORT, HAS_PARENT, HAS_REMOTE, HAS_REMOTE_ADDRESS,
  HAS_REMOTE_PORT, HAS_REMOTE_SERVICE, KINDS, KIND_SHIFT, MAX_TAG_SLOTS, NO_DURATION, REPEAT, SAMPLED, SLOTS,
  S_ANCESTOR_NAME, S_ANCESTOR_SERVICE, S_ERROR, S_HOST_ADDRESS, S_NAME, S_NOTE, S_REMOTE_ADDRESS,
  S_REMOTE_SERVICE, S_SERVICE, S_TAGS, TAG_NUMBER, TAG_STRING, TAG_TRUE, type PackedBatch,
} from './worker-format';

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

