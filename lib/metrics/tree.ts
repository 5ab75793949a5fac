/**
 * Builds `snapshot()`'s tree from dotted paths. Keys come from metric names (safe segments) and
 * from label values (anything, `__proto__` included), so keys are defined, never assigned.
 */

/** Defines `key` on `target` as an own enumerable property, whatever the key is. */
export function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function isNode(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object';
}

/**
 * Puts `value` at `path` in `tree`. A path that extends another's goes inside the other's
 * object; a number that gets children becomes `{ value: n, ...children }`.
 */
export function placeInTree(tree: Record<string, unknown>, path: string, value: unknown): void {
  const segments = path.split('.');
  let node = tree;
  for (let i = 0; i < segments.length - 1; i++) {
    const segment = segments[i];
    const next = Object.prototype.hasOwnProperty.call(node, segment) ? node[segment] : undefined;
    if (isNode(next)) node = next;
    else {
      const child: Record<string, unknown> = next === undefined ? {} : { value: next };
      setKey(node, segment, child);
      node = child;
    }
  }
  const last = segments[segments.length - 1];
  const existing = Object.prototype.hasOwnProperty.call(node, last) ? node[last] : undefined;
  if (existing === undefined) setKey(node, last, value);
  else if (isNode(existing) && isNode(value)) {
    for (const key of Object.keys(value)) setKey(existing, key, value[key]);
  } else if (isNode(existing)) setKey(existing, 'value', value);
  else setKey(node, last, isNode(value) ? { ...value, value: existing } : value);
}
