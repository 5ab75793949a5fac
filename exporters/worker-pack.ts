import type { FinishedSpan } from '../lib/types';
import {
  HAS_ERROR, HAS_HOST, HAS_HOST_ADDRESS, HAS_HOST_PORT, HAS_PARENT, HAS_REMOTE, HAS_REMOTE_ADDRESS,
  HAS_REMOTE_PORT, HAS_REMOTE_SERVICE, KIND_SHIFT, MAX_TAG_SLOTS, NO_DURATION, REPEAT, SAMPLED, SLOTS,
  S_ANCESTOR_NAME, S_ANCESTOR_SERVICE, S_ERROR, S_HOST_ADDRESS, S_NAME, S_NOTE, S_REMOTE_ADDRESS,
  S_REMOTE_SERVICE, S_SERVICE, S_TAGS, TAG_FALSE, TAG_NUMBER, TAG_STRING, TAG_TRUE, kindCode,
  type PackedBatch,
} from './worker-format';

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
