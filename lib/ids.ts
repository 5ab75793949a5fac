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

// One crypto call and one hex conversion per 16 KiB: 2,048 span ids, or 1,024 trace ids. Cutting
// ids out of one long hex string is about three times cheaper than converting 8 bytes per id,
// and a crypto call costs ~13 k instructions before its first byte (callgrind: 24 k for 4 KiB,
// 57 k for 16 KiB), so a bigger pool pays that less often.
const POOL_BYTES = 16384;
/** Every id is 8 or 16 bytes cut at a multiple of 8 bytes into the pool. */
const WORD_BYTES = 8;

/**
 * Ids cut from a pool of crypto-random bytes. Every id is as unpredictable as a direct
 * `crypto.randomBytes` call, at a fraction of the cost, and none is ever all zeros (the one
 * value the W3C and B3 formats forbid).
 */
export function randomIdGenerator(): IdGenerator {
  const pool = Buffer.allocUnsafe(POOL_BYTES);
  const words = new Uint32Array(pool.buffer, pool.byteOffset, POOL_BYTES / 4);
  let hexPool = '';
  let offset = 0;

  function refill(): void {
    randomFillSync(pool);
    // No 8-byte word of the pool is all zeros, so no id cut from it is: checked here on the
    // bytes, once per pool, rather than by comparing each id's text with "000…" (a string
    // comparison that V8 runs in C++, a fifth of a span's cost).
    for (let i = 0; i < words.length; i += 2) {
      while (words[i] === 0 && words[i + 1] === 0) randomFillSync(pool, i * 4, WORD_BYTES);
    }
    hexPool = pool.toString('hex');
    offset = 0;
  }

  function hex(chars: number): string {
    if (offset + chars > hexPool.length) refill();
    const id = hexPool.substring(offset, offset + chars);
    offset += chars;
    return id;
  }

  return {
    traceId: () => hex(32),
    spanId: () => hex(16),
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
