import { randomFillSync } from 'node:crypto';

/** Makes trace and span ids. Injected into a tracer, so tests can have predictable ids. */
export interface IdGenerator {
  /** 32 lower-case hex, never all zeros. */
  traceId(): string;
  /** 16 lower-case hex, never all zeros. */
  spanId(): string;
  /**
   * Set `true` when `traceId()` makes at least the right-most 7 bytes uniformly random: trace
   * ids it makes then carry the W3C `random` flag (trace-flags bit 1). Default: not set, so a
   * custom generator's ids never claim to be random. tomograph's own generator is random.
   */
  readonly random?: boolean;
}

// One crypto call and one hex conversion per 4 KiB: 512 span ids, or 256 trace ids. Cutting ids
// out of one long hex string is about three times cheaper than converting 8 bytes per id.
const POOL_BYTES = 4096;
const ZERO_SPAN_ID = '0000000000000000';
const ZERO_TRACE_ID = ZERO_SPAN_ID + ZERO_SPAN_ID;

/**
 * Ids cut from a pool of crypto-random bytes. Every id is as unpredictable as a direct
 * `crypto.randomBytes` call, at a fraction of the cost, and none is ever all zeros (the one
 * value the W3C and B3 formats forbid).
 */
export function randomIdGenerator(): IdGenerator {
  const pool = Buffer.allocUnsafe(POOL_BYTES);
  let hexPool = '';
  let offset = 0;

  function hex(chars: number): string {
    if (offset + chars > hexPool.length) {
      randomFillSync(pool);
      hexPool = pool.toString('hex');
      offset = 0;
    }
    const id = hexPool.substring(offset, offset + chars);
    offset += chars;
    return id;
  }

  return {
    traceId() {
      let id = hex(32);
      while (id === ZERO_TRACE_ID) id = hex(32);
      return id;
    },
    spanId() {
      let id = hex(16);
      while (id === ZERO_SPAN_ID) id = hex(16);
      return id;
    },
  };
}

/** Ids counting up from 1: readable and predictable, for tests and examples. */
export function sequentialIdGenerator(): IdGenerator {
  let next = 1;
  return {
    traceId: () => (next++).toString(16).padStart(32, '0'),
    spanId: () => (next++).toString(16).padStart(16, '0'),
  };
}
