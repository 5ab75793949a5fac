/**
 * `npm run demo`, end to end, from a private build of the package (see helpers/demo-build.ts):
 * the compiled demo with `--once` exits 0 after printing traces that cross both services and
 * flushing every exporter (Zipkin and StatsD turned on from the environment, the shop's metrics
 * included); and the live demo serves a trace page on which headless Chromium opens a trace and
 * finds the shop's server span, its query and HTTP client spans, the inventory's server span and
 * its query, nested in order, and a stats page with the shop's request metrics.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS, type Browser, launchChromium } from '../helpers/chromium';
import { buildDemo, type DemoBuild, DemoRun, logLines, processGone, traceBlocks } from '../helpers/demo-build';
import { StatsdDaemon } from '../helpers/statsd-daemon';
import { ZipkinCollector } from '../helpers/zipkin-collector';


jest.setTimeout(180_000);

let build: DemoBuild;
const runs: DemoRun[] = [];

beforeAll(async () => {
  build = await buildDemo();
});

afterAll(async () => {
  await Promise.all(runs.map((run) => run.kill()));
  build?.remove();
});

/** The pids the demo prints for its two services. */
function servicePids(output: string): number[] {
  return [...output.matchAll(/^\s+(?:shop|inventory)\s+http:\/\/127\.0\.0\.1:\d+\s+pid (\d+)$/gm)].map((m) => Number(m[1]));
}

describe('npm run demo -- --once', () => {
  let collector: ZipkinCollector;
  let statsd: StatsdDaemon;

  beforeAll(async () => {
    collector = await ZipkinCollector.start();
    statsd = await StatsdDaemon.start();
  });

  afterAll(async () => {
    await collector?.stop();
    await statsd?.close();
  });

  test('exits 0 after printing trace trees that cross both services, with every service stopped and every exporter flushed', async () => {
    const run = new DemoRun(build.main, ['--once'], {
      TOMOGRAPH_ZIPKIN_URL: collector.url,
      TOMOGRAPH_STATSD_HOST: '127.0.0.1',
      TOMOGRAPH_STATSD_PORT: String(statsd.port),
    });
    runs.push(run);
    const code = await run.exited;
    const output = run.output;
    expect({ code, output }).toEqual({ code: 0, output: expect.any(String) });

    // Every request got the answer it should, including the failing and the slow one.
    expect(output).toMatch(/^28 requests: 13 × 200, 12 × 201, 1 × 404, 1 × 409, 1 × 502; slowest /m);
    expect(output).not.toMatch(/unexpected|exited unexpectedly|did not stop|demo failed/);

    // Trees whose spans come from both services, the inventory's under the shop's HTTP call.
    const blocks = traceBlocks(output);
    expect(blocks).toHaveLength(28);
    const crossing = blocks.filter((block) => block.includes('[shop]') && block.includes('[inventory]'));
    expect(crossing.length).toBeGreaterThanOrEqual(26);
    const product = crossing.find((block) => block.split('\n')[1].startsWith('GET /api/products/:sku [shop] server'));
    expect(product?.split('\n').slice(1).map((line) => line.replace(/\s+[\d.]+ ms at \+[\d.]+ ms.*$/, ''))).toEqual([
      'GET /api/products/:sku [shop] server',
      '├─ select [shop] client',
      '└─ GET [shop] client',
      '   └─ GET /stock/:sku [inventory] server',
      '      └─ select [inventory] client',
    ]);
    const failed = crossing.find((block) => block.includes('vintage-poster'));
    expect(failed?.split('\n')[1]).toMatch(/^POST \/api\/orders \[shop\] server .*✗ inventory answered 404: no stock record for vintage-poster$/);
    // Both services logged the failure (pino, through tomograph/pino) with the trace's id.
    const logs = logLines(output);
    const shopLog = logs.find((line) => line.msg === 'request failed');
    const inventoryLog = logs.find((line) => line.msg === 'reservation for an unknown sku');
    expect(failed?.split('\n')[0]).toBe(`trace ${String(shopLog?.trace_id)}`);
    expect(inventoryLog?.trace_id).toBe(shopLog?.trace_id);
    expect(logs.filter((line) => line.msg === 'order placed')).toHaveLength(12);
    expect(logs.every((line) => /^[0-9a-f]{32}$/.test(String(line.trace_id)))).toBe(true);
    const slow = crossing.find((block) => block.includes('recount shelves [inventory]'));
    expect(slow?.split('\n')[1]).toMatch(/^GET \/api\/reports\/stock \[shop\] server\s+(\d+)\.\d+ ms/);
    expect(Number(slow!.split('\n')[1].match(/server\s+(\d+)\./)![1])).toBeGreaterThanOrEqual(400);

    // The services are gone and their temp data with them.
    const pids = servicePids(output);
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(processGone(pid)).toBe(true);
    const dataDir = output.match(/^tomograph demo \(data in (.+)\)$/m)![1];
    expect(existsSync(dataDir)).toBe(false);

    // Every span each service finished reached Zipkin (flushed at shutdown), valid, in shared traces.
    const finished = Object.fromEntries(
      [...output.matchAll(/^(shop|inventory): (\d+) spans finished, (\d+) exported, 0 dropped, 0 export errors$/gm)].map((m) => [
        m[1],
        Number(m[2]),
      ]),
    );
    expect(Object.keys(finished).sort()).toEqual(['inventory', 'shop']);
    expect(collector.problems).toEqual([]);
    const byService = (name: string) =>
      collector.spans.filter((span) => (span.localEndpoint as { serviceName?: string } | undefined)?.serviceName === name);
    expect(byService('shop')).toHaveLength(finished.shop);
    expect(byService('inventory')).toHaveLength(finished.inventory);
    const shopTraces = new Set(byService('shop').map((span) => span.traceId));
    expect(byService('inventory').every((span) => shopTraces.has(span.traceId))).toBe(true);

    // And StatsD got both services' timers (UDP: wait for the daemon to have read them).
    await statsd.until('timers of both services', () =>
      statsd.lines.some((line) => line.startsWith('tomograph.shop.')) && statsd.lines.some((line) => line.startsWith('tomograph.inventory.')),
    );
    expect(statsd.lines.some((line) => /^tomograph\.shop\.[^.]+\.POST_api_orders\.error:[\d.]+\|ms/.test(line))).toBe(true);

    // The shop's metrics too, flushed at shutdown: one count per request, by route and status.
    const requestCounts = () =>
      [...statsd.counters].filter(([key]) => key.startsWith('tomograph.shop.http.requests.')).reduce((sum, [, n]) => sum + n, 0);
    await statsd.until('28 requests counted', () => requestCounts() >= 28);
    expect(requestCounts()).toBe(28);
    expect(statsd.counters.get('tomograph.shop.http.requests.POST_api_orders.502')).toBe(1);
    expect(statsd.counters.get('tomograph.shop.http.requests.GET_api_products_sku.404')).toBe(1);
    const calls = await statsd.timer('tomograph.shop.inventory.calls', 27);
    expect(Math.round(calls.count)).toBe(27); // every request but the unknown product's calls the inventory once
  });
});

describe('the live demo in a browser', () => {
  let browser: Browser | undefined;

  afterAll(async () => {
    await browser?.close();
  });

  test('shows a whole cross-service trace as a nested waterfall, then stops cleanly on Ctrl-C', async () => {
    const run = new DemoRun(build.main, ['--port', '0'], { TOMOGRAPH_ZIPKIN_URL: '', TOMOGRAPH_STATSD_HOST: '' });
    runs.push(run);
    // Printed once the demo's own traffic is done.
    const [, pageUrl] = await run.waitFor(/^Trace page: (http:\/\/127\.0\.0\.1:\d+\/_traces) /m);

    browser = await launchChromium({ width: 1400, height: 900 });
    const { page } = browser;
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(String(error)));
    await page.goto(pageUrl);
    await page.locator('body[data-loaded="true"]').waitFor();

    const rowsOf = () =>
      page.locator('.span-row').evaluateAll((els) =>
        els.map((el) => ({
          name: el.querySelector('.span-name')!.textContent,
          service: el.querySelector('.span-service')?.textContent ?? null,
          kind: el.querySelector('.kind')!.textContent,
          id: el.getAttribute('data-span-id'),
          parent: el.getAttribute('data-parent-id'),
          depth: Number(el.getAttribute('data-depth')),
          left: el.querySelector('.bar')!.getBoundingClientRect().left,
          indent: parseFloat(getComputedStyle(el.querySelector('.span-label')!).paddingLeft),
        })),
      );

    // A product page: shop SERVER, its query, its call to the inventory, the inventory's SERVER and query.
    await page.locator('.trace-item', { has: page.locator('.t-name', { hasText: /^GET \/api\/products\/:sku$/ }) }).first().click();
    await page.locator('.span-row').first().waitFor();
    let rows = await rowsOf();
    expect(rows.map((r) => [r.name, r.service, r.kind, r.depth])).toEqual([
      ['GET /api/products/:sku', null, 'SERVER', 0],
      ['select', null, 'CLIENT', 1],
      ['GET', null, 'CLIENT', 1],
      ['GET /stock/:sku', 'inventory', 'SERVER', 2],
      ['select', 'inventory', 'CLIENT', 3],
    ]);
    expect(rows[0].parent).toBeNull();
    expect([rows[1].parent, rows[2].parent, rows[3].parent, rows[4].parent]).toEqual([rows[0].id, rows[0].id, rows[2].id, rows[3].id]);
    // In order on the time axis, and indented by depth.
    for (let i = 1; i < rows.length; i++) expect(rows[i].left).toBeGreaterThanOrEqual(rows[i - 1].left);
    expect(rows[3].indent).toBeGreaterThan(rows[2].indent);
    expect(rows[4].indent).toBeGreaterThan(rows[3].indent);
    await page.screenshot({ path: join(ARTIFACTS, 'demo-product-trace.png') });

    // The failed order: shop 502 over an inventory 404, under Failed.
    await page.locator('.tab[data-view="failed"]').click();
    await page.locator('.trace-item', { has: page.locator('.t-name', { hasText: 'POST /api/orders' }) }).first().click();
    await page.locator('.span-row').first().waitFor();
    await expect(page.locator('.wf-error').textContent()).resolves.toBe('inventory answered 404: no stock record for vintage-poster');
    rows = await rowsOf();
    expect(rows.map((r) => [r.name, r.service, r.depth])).toEqual([
      ['POST /api/orders', null, 0],
      ['select', null, 1],
      ['POST', null, 1],
      ['POST /reservations', 'inventory', 2],
      ['transaction', 'inventory', 3],
      ['select', 'inventory', 4],
    ]);
    await page.screenshot({ path: join(ARTIFACTS, 'demo-failed-order.png') });
    expect(problems).toEqual([]);

    // The stats page beside it: the demo's own metrics, by route and status.
    const statsUrl = pageUrl.replace(/\/_traces$/, '/_stats');
    expect(run.output).toContain(`Stats page: ${statsUrl}`);
    await page.goto(`${statsUrl}/http`);
    const statsRows = await page.locator('tbody tr').evaluateAll((els) => els.map((el) => [el.getAttribute('data-path'), el.getAttribute('data-kind')]));
    expect(statsRows).toEqual(expect.arrayContaining([
      ['http.requests', 'counter'],
      ['http.requests.GET /api/products/:sku,200', 'counter'],
      ['http.requests.POST /api/orders,502', 'counter'],
      ['http.latency', 'histogram'],
      ['http.in_flight', 'gauge'],
    ]));
    const p99 = await page.locator('tr[data-path="http.latency.GET /api/reports/stock"] td[data-field="p99"]').textContent();
    expect(parseFloat(p99!)).toBeGreaterThanOrEqual(400); // the slow report waits for the recount
    // Wide enough for a histogram's twelve columns (this is the screenshot in docs/stats-page.png).
    await page.setViewportSize({ width: 1640, height: 720 });
    await page.goto(statsUrl);
    await page.screenshot({ path: join(ARTIFACTS, 'demo-stats-page.png'), fullPage: true });
    const json = (await (await fetch(`${statsUrl}/inventory?format=json`)).json()) as { calls: { count: number; errors: number } };
    expect(json.calls.count).toBeGreaterThanOrEqual(27);
    expect(json.calls.errors).toBe(0);
    expect(problems).toEqual([]);

    // Ctrl-C: the services stop, flush, and the demo exits 0.
    const pids = servicePids(run.output);
    expect(pids).toHaveLength(2);
    await browser.close();
    run.child.kill('SIGINT');
    await expect(run.exited).resolves.toBe(0);
    expect(run.output).toMatch(/^stopping…$/m);
    expect(run.output).toMatch(/^shop: \d+ spans finished, \d+ exported, 0 dropped, 0 export errors$/m);
    for (const pid of pids) expect(processGone(pid)).toBe(true);
  });
});
