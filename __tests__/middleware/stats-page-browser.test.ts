/**
 * The stats page in headless Chromium (Debian's, through playwright-core): a real registry's tree
 * drawn as an aligned table, hostile label values and descriptions inert, the query form and the
 * subtree links working, and no CSP violation or script error.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { MetricsRegistry } from '../../lib/metrics';
import { statsPage } from '../../middleware/stats-page';
import { ARTIFACTS, type Browser, launchChromium, watchPageProblems } from '../helpers/chromium';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const express = require('express') as typeof import('express');

jest.setTimeout(90_000);

const XSS_LABEL = '<img src=x onerror=alert(1)>';
const XSS_DESCRIPTION = '"><svg onload=alert(2)>';

let server: Server;
let origin: string;
let browser: Browser;
let page: Page;
const dialogs: string[] = [];
const problems: string[] = [];

beforeAll(async () => {
  const registry = new MetricsRegistry();
  const requests = registry.counter('web.requests', { description: 'Requests served', labels: ['route', 'status'] });
  requests.labels({ route: 'GET /products', status: '200' }).inc(1280);
  requests.labels({ route: 'POST /orders', status: '201' }).inc(312);
  requests.labels({ route: XSS_LABEL, status: '500' }).inc(3);
  const latency = registry.histogram('web.latency', { unit: 'ms', description: XSS_DESCRIPTION, labels: ['route'] });
  for (let i = 1; i <= 400; i++) latency.labels({ route: 'GET /products' }).record(i / 4);
  for (let i = 1; i <= 100; i++) latency.labels({ route: 'POST /orders' }).record(20 + i);
  registry.gauge('web.in_flight', () => 2, { description: 'Requests being served' });
  registry.histogram('db.query', { unit: 'ms' }).record(3.5);
  registry.meter('jobs.consumed').mark(42);

  const app = express();
  app.use('/_stats', statsPage({ registry, title: 'shop' }));
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  browser = await launchChromium({ width: 1500, height: 700 });
  page = browser.page;
  watchPageProblems(page, { dialogs, problems });
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

test('draws the tree: groups indented, histogram fields in aligned columns, a bar per percentile, the stylesheet applied', async () => {
  await page.goto(`${origin}/_stats`);
  const rows = await page.locator('tbody tr').evaluateAll((els) =>
    els.map((el) => ({
      path: el.getAttribute('data-path'),
      kind: el.getAttribute('data-kind'),
      indent: parseFloat(getComputedStyle(el.querySelector('.name')!).paddingLeft),
      name: el.querySelector('.name')!.textContent,
    })),
  );
  expect(rows.map((r) => r.path)).toEqual([
    'db', 'db.query', 'jobs', 'jobs.consumed', 'web', 'web.in_flight', 'web.latency', 'web.latency.GET /products',
    'web.latency.POST /orders', 'web.requests', 'web.requests.GET /products,200', 'web.requests.POST /orders,201',
    `web.requests.${XSS_LABEL},500`,
  ]);
  // Deeper rows are indented further (the hash-allowed stylesheet applies).
  const indent = Object.fromEntries(rows.map((r) => [r.path, r.indent]));
  expect(indent['web.latency']).toBeGreaterThan(indent.web);
  expect(indent['web.latency.GET /products']).toBeGreaterThan(indent['web.latency']);

  // The p99 cells of every histogram row sit in one column, right-aligned to the same edge.
  const p99 = await page.locator('td[data-field="p99"]').evaluateAll((els) => els.map((el) => Math.round(el.getBoundingClientRect().right)));
  expect(p99).toHaveLength(3);
  expect(new Set(p99).size).toBe(1);
  // Bars grow with the percentile and reach full width at max.
  const widths = await page.locator('tr[data-path="web.latency.GET /products"] svg rect.fill').evaluateAll((els) =>
    els.map((el) => Number(el.getAttribute('width'))),
  );
  expect(widths).toHaveLength(7);
  expect([...widths].sort((a, b) => a - b)).toEqual(widths);
  expect(widths[6]).toBe(48);
  const p50 = await page.locator('tr[data-path="web.latency.GET /products"] td[data-field="p50"]').textContent();
  // Within the sketch's 1% of the exact median (50 ms), with its unit.
  expect(p50).toMatch(/^\d+(\.\d+)?ms$/);
  expect(Math.abs(parseFloat(p50!) - 50)).toBeLessThanOrEqual(0.5);
  await page.screenshot({ path: join(ARTIFACTS, 'stats-page.png'), fullPage: true });
  expect(problems).toEqual([]);
});

test('hostile label values and descriptions are shown as text and never run', async () => {
  await page.goto(`${origin}/_stats/web`);
  const series = page.locator(`tr[data-path="web.requests.${XSS_LABEL},500"] .name`);
  await expect(series.textContent()).resolves.toBe(`route=${XSS_LABEL}, status=500`);
  await expect(page.locator('tr[data-path="web.latency"] .desc').textContent()).resolves.toBe(XSS_DESCRIPTION);
  expect(await page.locator('img, tbody script').count()).toBe(0);
  expect(dialogs).toEqual([]);
  expect(problems).toEqual([]);
});

test('the query form filters, and links lead to subtrees and other formats', async () => {
  await page.goto(`${origin}/_stats`);
  await page.locator('form.query input').fill('p99 > 100');
  await page.locator('form.query button').click();
  await page.waitForURL(/query=p99/);
  const paths = await page.locator('tbody tr').evaluateAll((els) => els.map((el) => el.getAttribute('data-path')));
  expect(paths).toEqual(['web', 'web.latency', 'web.latency.POST /orders']);
  await expect(page.locator('form.query input').inputValue()).resolves.toBe('p99 > 100');

  await page.goto(`${origin}/_stats`);
  await page.locator('tr[data-path="jobs"] .name a').click();
  await page.waitForURL(`${origin}/_stats/jobs`);
  await expect(page.locator('nav.crumbs').textContent()).resolves.toBe('root/jobs');
  expect(await page.locator('tbody tr').count()).toBe(2);
  await page.locator('.formats a', { hasText: 'pretty JSON' }).click();
  await page.waitForURL(/format=prettyjson/);
  const body = JSON.parse((await page.locator('body').textContent()) as string) as { consumed: { count: number } };
  expect(body.consumed.count).toBe(42);
  expect(dialogs).toEqual([]);
  expect(problems).toEqual([]);
});
