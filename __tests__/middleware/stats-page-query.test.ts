import { compare, filterTree, MAX_QUERY_LENGTH, parseQuery, subtree, type StatsTree } from '../../middleware/stats-page-query';

const TREE: StatsTree = {
  web: {
    requests: { 'GET /users/:id,200': 41, 'GET /users/:id,500': 2 },
    latency: { count: 10, sum: 55, p50: 5, p99: 10, max: 10, errors: 2 },
    in_flight: 3,
  },
  jobs: { latency: { count: 4, sum: 9 }, state: 'idle', 'a.b': { c: 1 } },
};

describe('parseQuery', () => {
  test('a key alone, or key op value with or without spaces', () => {
    expect(parseQuery('p99')).toEqual({ key: 'p99' });
    expect(parseQuery('  p99 >= 100 ')).toEqual({ key: 'p99', op: '>=', value: '100' });
    expect(parseQuery('p99>100')).toEqual({ key: 'p99', op: '>', value: '100' });
    for (const op of ['>=', '>', '<=', '<', '=', '==', '!=']) expect(parseQuery(`count ${op} 3`)).toEqual({ key: 'count', op, value: '3' });
    expect(parseQuery('state = idle now')).toEqual({ key: 'state', op: '=', value: 'idle now' });
  });

  test('anything else is a message, never a throw', () => {
    for (const bad of ['', 'p99 >', '> 3', 'a b', 'p99 => 3', 'x'.repeat(MAX_QUERY_LENGTH + 1)]) {
      expect(typeof parseQuery(bad)).toBe('string');
    }
  });
});

describe('compare', () => {
  test('each operator means what it says (scales swapped < and <=)', () => {
    expect([compare(5, '<', '5'), compare(5, '<=', '5'), compare(4, '<', '5'), compare(6, '<=', '5')]).toEqual([false, true, true, false]);
    expect([compare(5, '>', '5'), compare(5, '>=', '5'), compare(6, '>', '5')]).toEqual([false, true, true]);
    expect([compare(5, '=', '5'), compare(5, '==', '5.0'), compare(5, '!=', '5'), compare(5, '!=', '6')]).toEqual([true, true, false, true]);
    expect([compare(0.001, '<', '1e-2'), compare(-3, '<', '-2')]).toEqual([true, true]);
  });

  test('text compares for equality only', () => {
    expect([compare('idle', '=', 'idle'), compare('idle', '!=', 'busy'), compare('idle', '>', '3'), compare(3, '=', 'x')]).toEqual([
      true, true, false, false,
    ]);
  });
});

describe('filterTree', () => {
  test('keeps matching leaves at any depth with their ancestors', () => {
    expect(filterTree(TREE, { key: 'count' })).toEqual({ web: { latency: { count: 10 } }, jobs: { latency: { count: 4 } } });
    expect(filterTree(TREE, { key: 'count', op: '>', value: '5' })).toEqual({ web: { latency: { count: 10 } } });
    expect(filterTree(TREE, { key: 'count', op: '<', value: '4' })).toBeUndefined();
    expect(filterTree(TREE, { key: 'count', op: '<=', value: '4' })).toEqual({ jobs: { latency: { count: 4 } } });
  });

  test('a * in the key is a wildcard; regexp characters are literal', () => {
    expect(filterTree(TREE, { key: 'GET*,500' })).toEqual({ web: { requests: { 'GET /users/:id,500': 2 } } });
    expect(filterTree(TREE, { key: 'p*', op: '>=', value: '10' })).toEqual({ web: { latency: { p99: 10 } } });
    expect(filterTree(TREE, { key: 'a.b' })).toBeUndefined(); // a.b is a group, not a leaf
    expect(filterTree(TREE, { key: '.*' })).toBeUndefined();
  });
});

describe('subtree', () => {
  test('slash or dot paths; whole segments first (keys may hold dots)', () => {
    expect(subtree(TREE, '/')).toEqual({ keys: [], value: TREE });
    expect(subtree(TREE, '/web/latency')?.value).toBe((TREE.web as StatsTree).latency);
    expect(subtree(TREE, '/web.latency/')?.keys).toEqual(['web', 'latency']);
    expect(subtree(TREE, '/jobs/a.b')?.value).toEqual({ c: 1 });
    expect(subtree(TREE, `/web/requests/${encodeURIComponent('GET /users/:id,200')}`)?.value).toBe(41);
  });

  test('unknown, malformed and prototype paths are not found', () => {
    for (const path of ['/nope', '/web/latency/p50/x', '/web/%E0%A4%A', '/__proto__', '/web/constructor', '/web..latency']) {
      expect([path, subtree(TREE, path)]).toEqual([path, undefined]);
    }
  });
});
