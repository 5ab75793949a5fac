// The batch format between the main thread (worker-pack.ts) and the export worker
// (worker-unpack.ts): what a batch is, and the flags, codes and repeat-cache slots both use.
import type { SpanKind } from '../lib/types';

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

export const HAS_PARENT = 1;
export const HAS_ERROR = 2;
export const SAMPLED = 4;
export const HAS_HOST = 8;
export const HAS_HOST_ADDRESS = 16;
export const HAS_HOST_PORT = 32;
export const HAS_REMOTE = 64;
export const HAS_REMOTE_SERVICE = 128;
export const HAS_REMOTE_ADDRESS = 256;
export const HAS_REMOTE_PORT = 512;
/** The kind, 0 (none) to 4, sits in the bits from here. */
export const KIND_SHIFT = 10;

export const KINDS: readonly (SpanKind | undefined)[] = [undefined, 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
export const TAG_STRING = 0;
export const TAG_NUMBER = 1;
export const TAG_TRUE = 2;
export const TAG_FALSE = 3;
/** A note without a duration. */
export const NO_DURATION = -1;
/** In place of a string's length: the same string as the last one in its slot. */
export const REPEAT = -1;

// Slots of the repeat cache. Any assignment is correct as long as packer and unpacker use the
// same one; these put strings that tend to repeat from span to span in a slot of their own.
// (Ids are sent as they are, without a slot: they seldom repeat, and comparing costs more.)
export const S_NAME = 0;
export const S_SERVICE = 1;
export const S_HOST_ADDRESS = 2;
export const S_REMOTE_SERVICE = 3;
export const S_REMOTE_ADDRESS = 4;
export const S_ERROR = 5;
export const S_NOTE = 6;
export const S_ANCESTOR_NAME = 7;
export const S_ANCESTOR_SERVICE = 8;
/** Tag i's key and value: slots S_TAGS + 2i and S_TAGS + 2i + 1, the last pair shared past MAX_TAG_SLOTS. */
export const S_TAGS = 9;
export const MAX_TAG_SLOTS = 24;
export const SLOTS = S_TAGS + 2 * MAX_TAG_SLOTS;

export function kindCode(kind: SpanKind | undefined): number {
  switch (kind) {
    case 'SERVER': return 1;
    case 'CLIENT': return 2;
    case 'PRODUCER': return 3;
    case 'CONSUMER': return 4;
    default: return 0;
  }
}
