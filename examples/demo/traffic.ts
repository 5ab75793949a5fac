/**
 * The demo's own traffic against the shop: browsing, orders, one order that fails across both
 * services (the warehouse does not stock the item: inventory 404, shop 502), one the warehouse
 * cannot fill (409), a product that does not exist (404), and one slow report.
 */

/** One request to the shop, and the status it should get. */
export interface DemoRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  expectStatus: number;
}

/** What came back. */
export interface DemoResult {
  request: DemoRequest;
  /** The HTTP status, or 0 when the request itself failed. */
  status: number;
  /** Wall time, in milliseconds. */
  durationMs: number;
  /** The shop's `x-trace-id` response header. */
  traceId: string | undefined;
  /** Why the request failed (network error), if it did. */
  error?: string;
}

const get = (path: string, expectStatus = 200): DemoRequest => ({ method: 'GET', path, expectStatus });
const order = (sku: string, quantity: number, expectStatus = 201): DemoRequest => ({
  method: 'POST',
  path: '/api/orders',
  body: { sku, quantity },
  expectStatus,
});

/** The traffic `npm run demo` sends, in this order (a few at a time). */
export const DEMO_TRAFFIC: readonly DemoRequest[] = [
  get('/api/products'),
  get('/api/products/espresso-beans'),
  get('/api/products/grinder'),
  order('espresso-beans', 2),
  get('/api/products/filter-papers'),
  order('filter-papers', 3),
  get('/api/products/kettle'),
  order('grinder', 1),
  order('espresso-beans', 1),
  // In the catalogue, but the warehouse dropped it: inventory 404, shop 502.
  order('vintage-poster', 1, 502),
  get('/api/products'),
  order('filter-papers', 1),
  order('kettle', 1),
  // More kettles than the warehouse has: 409 from both.
  order('kettle', 50, 409),
  get('/api/products/espresso-beans'),
  // The slow one: the inventory recounts its shelves.
  get('/api/reports/stock'),
  order('espresso-beans', 3),
  get('/api/products/teapot', 404),
  get('/api/products/grinder'),
  order('grinder', 2),
  get('/api/products/kettle'),
  order('filter-papers', 2),
  get('/api/products'),
  order('espresso-beans', 1),
  get('/api/products/filter-papers'),
  order('kettle', 1),
  get('/api/products/espresso-beans'),
  order('espresso-beans', 2),
];

/** Sends one request to the shop at `baseUrl`; never throws. */
export async function send(baseUrl: string, request: DemoRequest): Promise<DemoResult> {
  const started = performance.now();
  try {
    const res = await fetch(baseUrl + request.path, {
      method: request.method,
      headers: request.body === undefined ? undefined : { 'content-type': 'application/json' },
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
    });
    await res.arrayBuffer();
    return {
      request,
      status: res.status,
      durationMs: performance.now() - started,
      traceId: res.headers.get('x-trace-id') ?? undefined,
    };
  } catch (error) {
    return { request, status: 0, durationMs: performance.now() - started, traceId: undefined, error: String(error) };
  }
}

/** Sends `requests` in order, `concurrency` at a time; the results in the same order. */
export async function drive(baseUrl: string, requests: readonly DemoRequest[], concurrency = 4): Promise<DemoResult[]> {
  const results: DemoResult[] = new Array(requests.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < requests.length) {
      const i = next++;
      results[i] = await send(baseUrl, requests[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, requests.length) }, worker));
  return results;
}

/** One line per kind of outcome: `28 requests: 24 × 201/200, …`, and the slowest. */
export function summarize(results: readonly DemoResult[]): string {
  const byStatus = new Map<number, number>();
  for (const result of results) byStatus.set(result.status, (byStatus.get(result.status) ?? 0) + 1);
  const statuses = [...byStatus.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([status, count]) => `${count} × ${status === 0 ? 'network error' : status}`)
    .join(', ');
  const slowest = results.reduce((a, b) => (b.durationMs > a.durationMs ? b : a));
  return (
    `${results.length} requests: ${statuses}; slowest ${slowest.request.method} ${slowest.request.path} ` +
    `${slowest.durationMs.toFixed(0)} ms`
  );
}
