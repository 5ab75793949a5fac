/**
 * Decides whether a new root trace is recorded. Called only for roots: a span with a parent
 * (local, or from an incoming header) follows its parent's decision.
 */
export type SamplerFunction = (name: string) => boolean;

/** A ratio from 0 to 1, or a function. */
export type Sampler = number | SamplerFunction;

/** Turns the `sampler` option into one function, decided once at configure time. */
export function rootSampler(sampler: Sampler, random: () => number): SamplerFunction {
  if (typeof sampler === 'function') return sampler;
  if (sampler >= 1) return alwaysSample;
  if (sampler <= 0) return neverSample;
  return () => random() < sampler;
}

function alwaysSample(): boolean {
  return true;
}

function neverSample(): boolean {
  return false;
}

/**
 * A cap on new recorded traces, as Jaeger's rate-limiting sampler: a token bucket that refills
 * at `perSecond` and holds at most max(1, perSecond) tokens (one second's burst). Every trace
 * that would start recording in this process takes one: new roots the sampler chose and, above
 * all, requests that arrive with a sampled token, which any client can send. Spans of a trace
 * already recorded here take none. The clock is the tracer's, so tests drive it by hand.
 */
export class TraceRateLimiter {
  private readonly perUs: number;
  private readonly maxTokens: number;
  private tokens: number;
  private lastUs: number;

  constructor(perSecond: number, nowUs: number) {
    this.perUs = perSecond / 1e6;
    this.maxTokens = Math.max(1, perSecond);
    this.tokens = this.maxTokens;
    this.lastUs = nowUs;
  }

  /** True when a new trace may be recorded now (and takes its token). */
  take(nowUs: number): boolean {
    const elapsedUs = nowUs - this.lastUs;
    if (elapsedUs > 0) {
      this.tokens = Math.min(this.maxTokens, this.tokens + elapsedUs * this.perUs);
      this.lastUs = nowUs;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
