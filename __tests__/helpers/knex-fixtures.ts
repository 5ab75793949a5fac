/**
 * Shared pieces of the Knex tests: both Knex majors, a tracer per test, and span lookups.
 */
import type { FinishedSpan } from '../../lib/types';

/** A Knex factory: `require('knex')` (3) or `require('knex2')` (2). */
export type KnexFactory = (config: Record<string, unknown>) => KnexLike;

/** The slice of a Knex instance the tests use, typed loosely: Knex 2 and 3 types differ. */
export type KnexLike = any;

/** Both Knex majors the integration supports, loaded from node_modules. */
export const knexVersions: ReadonlyArray<[string, KnexFactory]> = [
  ['knex 3', require('knex') as KnexFactory],
  ['knex 2', require('knex2') as KnexFactory],
];

/** The spans whose local parent is `parent` (by id), in start order. */
export function childrenOf(spans: readonly FinishedSpan[], parent: FinishedSpan): FinishedSpan[] {
  return spans.filter((s) => s.parentId === parent.id && s.traceId === parent.traceId).sort((a, b) => a.timestamp - b.timestamp);
}

/** The only span named `name`; fails the test when there is not exactly one. */
export function only(spans: readonly FinishedSpan[], name: string): FinishedSpan {
  const found = spans.filter((s) => s.name === name);
  if (found.length !== 1) throw new Error(`expected one span "${name}", found ${found.length}: ${spans.map((s) => s.name).join(', ')}`);
  return found[0];
}

/** Every exported field of every span, as one JSON text: to prove a value appears nowhere. */
export function exportedText(spans: readonly FinishedSpan[]): string {
  return JSON.stringify(spans.map(({ localParent: _ignored, ...rest }) => rest));
}

/** The largest number of `spans` open at one instant (start inclusive, end exclusive). */
export function maxOverlap(spans: readonly FinishedSpan[]): number {
  const edges: Array<[number, number]> = [];
  for (const s of spans) edges.push([s.timestamp, 1], [s.timestamp + s.duration, -1]);
  // At equal times, ends first: a span that ends when another starts did not overlap it.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let max = 0;
  for (const [, delta] of edges) {
    open += delta;
    max = Math.max(max, open);
  }
  return max;
}
