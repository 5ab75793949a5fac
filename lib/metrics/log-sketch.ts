/**
 * The percentile structure: a DDSketch-style sketch over logarithmic buckets, each bucket no
 * wider than a ratio γ = (1+α)/(1-α), answering with the point within α of both its ends; so
 * every quantile it reports is within α of the value of that rank, whatever the distribution,
 * and two sketches merge by adding bucket counts, with no loss. The bucket of a value comes from
 * DDSketch's cubically interpolated mapping: log2 approximated from the double's bits (its
 * exponent, plus a cubic in its mantissa) instead of `Math.log`, several times faster for 1% more
 * buckets than the exact logarithm. Zeros are counted exactly, apart from the buckets. Count,
 * mean, M2 (the sum of squared deviations), min and max are exact and merge exactly (Chan et
 * al.); see `add` for how the moments are kept without a division per value.
 * BENCHMARKS.md § Metrics compares it with the alternatives.
 */

/**
 * The relative accuracy α. Just under 1%, so that floating-point rounding at a bucket edge
 * (a value landing one bucket off) can never take an answer past 1%.
 */
export const RELATIVE_ACCURACY = 0.0099;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);

// The cubic P(s) = A·s³ + B·s² + C·s on the mantissa s in [0, 1): P(0) = 0, P(1) = 1, and its
// slope against ln(v), P'(s)·(1+s), stays within 1% of its minimum C, so buckets are at most
// 1% narrower than they need be. Buckets of 1/MULTIPLIER in P-units are at most ln γ wide in ln(v).
const A = 6 / 35;
const B = -3 / 5;
const C = 10 / 7;
const MULTIPLIER = 1 / (C * Math.log(GAMMA));

const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);
// Which 32-bit word holds the sign, exponent and top of the mantissa (1 on little-endian machines).
const HIGH = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
const LOW = 1 - HIGH;
const TWO_POW_MINUS_20 = 2 ** -20;
const TWO_POW_MINUS_52 = 2 ** -52;

/** log2(v), approximated as exponent + P(mantissa); exact at powers of two, monotonic. */
function approximateLog2(value: number): number {
  bits[0] = value;
  const high = words[HIGH];
  // The mantissa's 52 bits as a fraction, exactly, from both words: writing an edited high
  // word back and reading the double again would be a store the CPU cannot forward.
  const s = (high & 0x000fffff) * TWO_POW_MINUS_20 + words[LOW] * TWO_POW_MINUS_52;
  return ((A * s + B) * s + C) * s + ((high >>> 20) - 1023);
}

/** The inverse of `approximateLog2` (Newton on the cubic; read time only). */
function approximatePow2(log2: number): number {
  const exponent = Math.floor(log2);
  const target = log2 - exponent;
  let s = target;
  for (let i = 0; i < 8; i++) s -= (((A * s + B) * s + C) * s - target) / ((3 * A * s + 2 * B) * s + C);
  return Math.pow(2, exponent) * (1 + s);
}

/** Values from here up to `MAX_TRACKED_VALUE` get the 1% bound; below, they share the lowest bucket. */
export const MIN_TRACKED_VALUE = 1e-9;
/** Above this, values share the highest bucket (their quantiles are clamped to the exact max). */
export const MAX_TRACKED_VALUE = 1e15;
const MIN_INDEX = Math.ceil(approximateLog2(MIN_TRACKED_VALUE) * MULTIPLIER);
const MAX_INDEX = Math.ceil(approximateLog2(MAX_TRACKED_VALUE) * MULTIPLIER);
const INDEX_SPAN = MAX_INDEX - MIN_INDEX + 1;
/** A first array of 32 buckets: 64 bytes for a recording sketch, small enough for V8 to keep it in the object heap. */
const INITIAL_BUCKETS = 32;

/** The bucket of a positive value: bucket i holds (lower(i), lower(i+1)]. */
export function bucketIndex(value: number): number {
  const index = Math.ceil(approximateLog2(value) * MULTIPLIER);
  return index < MIN_INDEX ? MIN_INDEX : index > MAX_INDEX ? MAX_INDEX : index;
}

// Answers by bucket, computed on first use (readers ask for a few dozen distinct buckets).
let answers: Float64Array | undefined;

/** The value a bucket answers with: 2lu/(l+u), within (u-l)/(u+l) <= α of both ends. */
export function bucketValue(index: number): number {
  if (answers === undefined) answers = new Float64Array(INDEX_SPAN);
  const cached = answers[index - MIN_INDEX];
  if (cached !== 0) return cached;
  const lower = approximatePow2((index - 1) / MULTIPLIER);
  const upper = approximatePow2(index / MULTIPLIER);
  return (answers[index - MIN_INDEX] = (2 * lower * upper) / (lower + upper));
}

const NO_COUNTS = new Uint16Array(0);
/** Values per chunk of the moments (see `LogSketch.add`). */
const CHUNK = 64;
/** A recording sketch's bucket at or above this moves into `carried`, so 16 bits never overflow. */
const CARRY_AT = 0x8000;
/**
 * Values between two checks for buckets to carry: checks come when a chunk settles (at most
 * CHUNK values apart), so no bucket gains more than CARRY_AT - 1 between two of them, and one at
 * most CARRY_AT - 1 after a check stays within 0xffff.
 */
const CARRY_CHECK_EVERY = CARRY_AT - CHUNK;

/** A sketch as JSON-safe data (inside `HistogramState.window`). */
export interface EncodedSketch {
  /** How many values. */
  n: number;
  /** How many of them were 0. */
  zero: number;
  min: number;
  max: number;
  mean: number;
  /** Sum of squared differences from the mean (Welford's M2). */
  m2: number;
  /** Bucket index of `counts[0]`. */
  offset: number;
  counts: number[];
}

/**
 * One sketch. Recording sketches (one per sub-window) count in a `Uint16Array`, 2 bytes per
 * bucket: every CARRY_CHECK_EVERY values, a bucket that reached CARRY_AT moves into a small map
 * of carried counts (only a bucket holding over half of 32,768 values of one sub-window ever
 * does), so the hot path needs no overflow check and its array keeps one type. Their array
 * covers the buckets in use, grows by a quarter when a value falls outside, and is trimmed back
 * to the range in use when the sketch is cleared for reuse, so memory follows the data (at most
 * ~8 KB over the whole tracked range). Merged sketches (readers) count in a `Float64Array`
 * that grows by doubling.
 */
export class LogSketch {
  counts: Uint16Array | Float64Array = NO_COUNTS;
  offset = 0;
  zero = 0;
  n = 0;
  min = Infinity;
  max = -Infinity;
  /** Mean and M2 of the values before the current chunk (`n - chunkCount` of them). */
  private settledMean = 0;
  private settledM2 = 0;
  /** The current chunk: sums of (value - shift) and of its square, and values left before it settles. */
  private shift = 0;
  private chunkSum = 0;
  private chunkSquares = 0;
  private chunkLeft = 1;
  private chunkSize = 1;
  /** Recording sketches: counts moved out of `counts` by absolute bucket index, or undefined. */
  private carried: Map<number, number> | undefined = undefined;
  private carryCheckAt = CARRY_CHECK_EVERY;

  constructor(private readonly wide = false) {}

  /** The mean of the values (exact but for rounding). */
  get mean(): number {
    this.settle();
    return this.settledMean;
  }

  /** The sum of squared differences from the mean (Welford's M2). */
  get m2(): number {
    this.settle();
    return this.settledM2;
  }

  /**
   * Adds a value the caller has checked: finite and >= 0.
   *
   * Welford's update divides by n on every value, and each update waits for the previous one's
   * division. Instead, values gather in chunks of `CHUNK` as sums of (value - shift) and of its
   * square, where the shift is a value already recorded (the first chunk after a clear is that
   * one value alone), then settle into mean and M2 by Chan's merge. With a shift from the data,
   * the chunk's M2 as `squares - sum²/k` loses at most ~k·ε of the total M2 to rounding, so the
   * moments stay as exact as Welford's; reads settle the chunk first.
   */
  add(value: number): void {
    this.n++;
    const shifted = value - this.shift;
    this.chunkSum += shifted;
    this.chunkSquares += shifted * shifted;
    if (--this.chunkLeft === 0) this.settle(value);
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (value === 0) {
      this.zero++;
      return;
    }
    // Unclamped and in int32 (a double's log2 index is within ±40,000): an index outside the
    // tracked range is outside the array too, which covers tracked buckets only, so the clamp
    // is left to the cold path.
    const slot = (Math.ceil(approximateLog2(value) * MULTIPLIER) | 0) - this.offset;
    const counts = this.counts;
    if (slot >= 0 && slot < counts.length) counts[slot]++;
    else this.addOutside(bucketIndex(value), 1);
  }

  /**
   * Empties the sketch, keeping its array for reuse; a recording sketch's array is first trimmed
   * to what its values used, when they used less than half of it.
   */
  clear(): void {
    if (this.n !== 0) {
      const range = this.wide || this.counts.length <= INITIAL_BUCKETS ? undefined : this.usedRange();
      const used = range === undefined ? 0 : range[1] - range[0] + 1;
      if (range !== undefined && used * 2 < this.counts.length) this.place(range[0], range[1], false);
      else this.counts.fill(0);
    }
    this.carried = undefined;
    this.carryCheckAt = CARRY_CHECK_EVERY;
    this.zero = 0;
    this.n = 0;
    this.min = Infinity;
    this.max = -Infinity;
    this.settledMean = 0;
    this.settledM2 = 0;
    this.shift = 0;
    this.chunkSum = 0;
    this.chunkSquares = 0;
    this.chunkLeft = this.chunkSize = 1;
  }

  /**
   * Empties the sketch and places its array over buckets `low..high`, reusing the array when it
   * is long enough: a reader merges many windows through one scratch sketch without allocating.
   */
  resetOver(low: number, high: number): void {
    this.clear();
    const length = high - low + 1;
    if (this.counts.length < length) this.counts = this.wide ? new Float64Array(length) : new Uint16Array(length);
    this.offset = low;
  }

  /** The lowest and highest bucket index in use, or undefined when no bucket holds a value. */
  usedRange(): [number, number] | undefined {
    const counts = this.counts;
    let first = 0;
    let last = counts.length - 1;
    while (first <= last && counts[first] === 0) first++;
    while (last >= first && counts[last] === 0) last--;
    let low = first > last ? Infinity : this.offset + first;
    let high = first > last ? -Infinity : this.offset + last;
    if (this.carried !== undefined) {
      for (const index of this.carried.keys()) {
        if (index < low) low = index;
        if (index > high) high = index;
      }
    }
    return low > high ? undefined : [low, high];
  }

  /** Adds every value of `other` into this one. */
  merge(other: LogSketch): void {
    if (other.n === 0) return;
    this.mergeMoments(other.n, other.mean, other.m2, other.min, other.max);
    this.zero += other.zero;
    const counts = other.counts;
    for (let i = 0; i < counts.length; i++) {
      const c = counts[i];
      if (c !== 0) this.addCount(other.offset + i, c);
    }
    if (other.carried !== undefined) for (const [index, c] of other.carried) this.addCount(index, c);
  }

  /** Adds an encoded sketch (from another process); false when it is malformed. */
  mergeEncoded(encoded: EncodedSketch): boolean {
    if (!isEncodedSketch(encoded)) return false;
    if (encoded.n === 0) return true;
    this.mergeMoments(encoded.n, encoded.mean, encoded.m2, encoded.min, encoded.max);
    this.zero += encoded.zero;
    for (let i = 0; i < encoded.counts.length; i++) {
      const c = encoded.counts[i];
      if (c > 0) this.addCount(Math.min(MAX_INDEX, Math.max(MIN_INDEX, encoded.offset + i)), c);
    }
    return true;
  }

  /**
   * The q-quantile by the nearest-rank definition (the smallest value with at least q·n values at
   * or below it: 0-based rank ⌈q·n⌉−1), within α, clamped to the exact min and max. `out[k]` gets
   * the answer for `qs[k]`; `qs` must be ascending. Never called empty.
   */
  quantiles(qs: readonly number[], out: number[]): void {
    let k = 0;
    let seen = this.zero;
    while (k < qs.length && nearestRank(qs[k], this.n) < seen) out[k++] = 0;
    const counts = this.counts;
    const carried = this.carried;
    for (let i = 0; i < counts.length && k < qs.length; i++) {
      seen += carried === undefined ? counts[i] : counts[i] + (carried.get(this.offset + i) ?? 0);
      while (k < qs.length && nearestRank(qs[k], this.n) < seen) {
        const rank = nearestRank(qs[k], this.n);
        // The first and last ranks are the exact min and max; the rest come from their bucket.
        const value = rank === 0 ? this.min : rank === this.n - 1 ? this.max : bucketValue(this.offset + i);
        out[k++] = value < this.min ? this.min : value > this.max ? this.max : value;
      }
    }
    // Only reachable through a corrupt merged count; answer with the max rather than nothing.
    while (k < qs.length) out[k++] = this.max;
  }

  /** JSON-safe data, with leading and trailing empty buckets trimmed. */
  encode(): EncodedSketch {
    const range = this.usedRange();
    const kept: number[] = [];
    const carried = this.carried;
    if (range !== undefined) {
      for (let i = range[0] - this.offset; i <= range[1] - this.offset; i++) {
        kept.push(carried === undefined ? this.counts[i] : this.counts[i] + (carried.get(this.offset + i) ?? 0));
      }
    }
    return {
      n: this.n, zero: this.zero, min: this.min, max: this.max, mean: this.mean, m2: this.m2,
      offset: range === undefined ? this.offset : range[0], counts: kept,
    };
  }

  /** Bytes held by the bucket array (and carried counts, at ~40 bytes each). */
  get countBytes(): number {
    return this.counts.byteLength + (this.carried === undefined ? 0 : this.carried.size * 40);
  }

  /**
   * Moves the current chunk into mean and M2 (Chan's merge of the two parts), and starts the
   * next one, shifted by `nextShift`: a value already recorded.
   */
  private settle(nextShift = this.shift): void {
    // Empty: the first chunk stays one value long, so its shift comes from the data.
    if (this.n === 0) return;
    const k = this.chunkSize - this.chunkLeft;
    if (k > 0) {
      const settled = this.n - k;
      const sum = this.chunkSum;
      const chunkMean = this.shift + sum / k;
      const chunkM2 = Math.max(0, this.chunkSquares - (sum * sum) / k);
      const delta = chunkMean - this.settledMean;
      this.settledM2 += chunkM2 + (delta * delta * settled * k) / this.n;
      this.settledMean += (delta * k) / this.n;
    }
    this.shift = nextShift;
    this.chunkSum = 0;
    this.chunkSquares = 0;
    this.chunkLeft = this.chunkSize = CHUNK;
    if (this.n >= this.carryCheckAt) this.carryFullBuckets();
  }

  // Cold: every CARRY_CHECK_EVERY values of a recording sketch.
  private carryFullBuckets(): void {
    this.carryCheckAt = this.n + CARRY_CHECK_EVERY;
    if (this.wide) return;
    const counts = this.counts;
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] >= CARRY_AT) {
        this.carry(this.offset + i, counts[i]);
        counts[i] = 0;
      }
    }
  }

  private carry(index: number, count: number): void {
    const carried = (this.carried ??= new Map<number, number>());
    carried.set(index, (carried.get(index) ?? 0) + count);
  }

  private mergeMoments(n: number, mean: number, m2: number, min: number, max: number): void {
    this.settle();
    const total = this.n + n;
    const delta = mean - this.settledMean;
    this.settledM2 += m2 + (delta * delta * this.n * n) / total;
    this.settledMean += (delta * n) / total;
    this.n = total;
    if (min < this.min) this.min = min;
    if (max > this.max) this.max = max;
  }

  private addCount(index: number, count: number): void {
    const slot = index - this.offset;
    if (slot < 0 || slot >= this.counts.length) {
      this.addOutside(index, count);
      return;
    }
    const total = this.counts[slot] + count;
    if (this.wide || total < CARRY_AT) this.counts[slot] = total;
    else {
      this.counts[slot] = 0;
      this.carry(index, total);
    }
  }

  // Cold: grows the array to cover `index` (a recording sketch's by a quarter, a reader's by
  // doubling), within the tracked range, then counts.
  private addOutside(index: number, count: number): void {
    const old = this.counts;
    if (old.length === 0) {
      this.place(index - (INITIAL_BUCKETS >> 1), index - (INITIAL_BUCKETS >> 1) + INITIAL_BUCKETS - 1, true);
    } else {
      const low = Math.min(this.offset, index);
      const high = Math.max(this.offset + old.length - 1, index);
      const needed = high - low + 1;
      const extra = this.wide ? Math.max(needed, old.length * 2) - needed : Math.max(16, needed >> 2);
      // The room to spare goes on the side that grew: values spread further that way.
      if (index < this.offset) this.place(low - extra, high, true);
      else this.place(low, high + extra, true);
    }
    this.addCount(index, count);
  }

  /**
   * Places the array over buckets `low..high` (clamped to the tracked range), keeping the counts
   * it held there when `keep` (else all zero).
   */
  private place(low: number, high: number, keep: boolean): void {
    const length = Math.min(INDEX_SPAN, high - low + 1);
    const offset = Math.max(MIN_INDEX, Math.min(low, MAX_INDEX - length + 1));
    const old = this.counts;
    const placed = this.wide ? new Float64Array(length) : new Uint16Array(length);
    if (keep && old.length > 0) {
      // The old array lies inside the new one whenever it grows; copy what overlaps in any case.
      const from = Math.max(offset, this.offset);
      const to = Math.min(offset + length, this.offset + old.length);
      if (from < to) placed.set(old.subarray(from - this.offset, to - this.offset), from - offset);
    }
    this.counts = placed;
    this.offset = offset;
  }
}

/**
 * The 0-based nearest rank of quantile q among n values. The epsilon keeps q·n from landing one
 * rank high through rounding (0.999 · 1000 is not exactly 999 in binary).
 */
export function nearestRank(q: number, n: number): number {
  const rank = Math.ceil(q * n - 1e-9) - 1;
  return rank < 0 ? 0 : rank;
}

function isEncodedSketch(value: unknown): value is EncodedSketch {
  if (value === null || typeof value !== 'object') return false;
  const s = value as Partial<EncodedSketch>;
  return (
    isCount(s.n) && isCount(s.zero) && typeof s.mean === 'number' && typeof s.m2 === 'number' &&
    typeof s.min === 'number' && typeof s.max === 'number' && Number.isInteger(s.offset) &&
    Array.isArray(s.counts) && s.counts.length <= INDEX_SPAN && s.counts.every(isCount)
  );
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
