import { randomFillSync } from 'node:crypto';

/** Makes trace and span ids. Injected into a tracer, so tests can have predictable ids. */
export interface IdGenerator {
  /** 32 lower-case hex, never all zeros. */
  traceId(): string;
  /** 16 lower-case hex, never all zeros. */
  spanId(): string;
}

// One crypto call fills 4 KiB: 512 span ids, or 256 trace ids, per call to the kernel's CSPRNG.
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
  let offset = POOL_BYTES;

  function hex(bytes: number): string {
    if (offset + bytes > POOL_BYTES) {
      randomFillSync(pool);
      offset = 0;
    }
    const id = pool.toString('hex', offset, offset + bytes);
    offset += bytes;
    return id;
  }

  return {
    traceId() {
      let id = hex(16);
      while (id === ZERO_TRACE_ID) id = hex(16);
      return id;
    },
    spanId() {
      let id = hex(8);
      while (id === ZERO_SPAN_ID) id = hex(8);
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
