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
