import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ARTIFACTS, type Browser, launchChromium, watchPageProblems } from '../helpers/chromium';
import { startPageApp, XSS_NAME, XSS_NOTE, XSS_TAG, type PageApp } from '../helpers/trace-page-app';


jest.setTimeout(90_000);

let app: PageApp;
let browser: Browser;
let page: Page;
const dialogs: string[] = [];
const problems: string[] = [];
const requests: string[] = [];

beforeAll(async () => {
  // The page's own polling goes through the tracing middleware too: the page must leave it out.
  app = await startPageApp({ traceThePage: true });
  expect((await app.hit('/users/42')).status).toBe(200);
  expect((await app.hit('/fail')).status).toBe(500);
  expect((await app.hit('/xss')).status).toBe(200);
  expect((await app.hit('/users/7')).status).toBe(200);

  browser = await launchChromium({ width: 1400, height: 860 });
  page = browser.page;
  watchPageProblems(page, { dialogs, problems });
  page.on('request', (request) => requests.push(request.url()));
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

async function openTrace(name: string): Promise<void> {
  await page.locator('.trace-item', { has: page.locator('.t-name', { hasText: name }) }).first().click();
  await page.locator('.span-row').first().waitFor();
}

test('lists the traces and draws a chosen trace as a nested waterfall', async () => {
  await page.goto(`${app.origin}/_traces`);
  await page.locator('body[data-loaded="true"]').waitFor();
  const names = await page.locator('.trace-item .t-name').allTextContents();
  // Four app requests; the page's own requests (traced too) are left out.
  expect(names).toHaveLength(4);
  expect(names).toEqual(expect.arrayContaining(['GET /users/42', 'GET /fail', 'GET /xss', 'GET /users/7']));
  expect(names[0]).toBe('GET /users/7'); // newest first

  await openTrace('GET /users/42');
  const rows = await page.locator('.span-row').evaluateAll((els) =>
    els.map((el) => ({
      name: el.querySelector('.span-name')!.textContent,
      id: el.getAttribute('data-span-id'),
      parent: el.getAttribute('data-parent-id'),
      depth: Number(el.getAttribute('data-depth')),
      level: el.getAttribute('aria-level'),
      indent: parseFloat(getComputedStyle(el.querySelector('.span-label')!).paddingLeft),
      barLeft: el.querySelector('.bar')!.getBoundingClientRect().left,
    })),
  );
  expect(rows.map((r) => [r.name, r.depth])).toEqual([
    ['GET /users/42', 0],
    ['load user', 1],
    ['select', 2],
    ['select', 2],
    ['GET /profile', 1],
  ]);
  const byName = (i: number) => rows[i];
  expect(byName(0).parent).toBeNull();
  expect(byName(1).parent).toBe(byName(0).id);
  expect(byName(2).parent).toBe(byName(1).id);
  expect(byName(3).parent).toBe(byName(1).id);
  expect(byName(4).parent).toBe(byName(0).id);
  expect(rows.map((r) => r.level)).toEqual(['1', '2', '3', '3', '2']);
  // Deeper rows are indented further, and later spans start further right on the time axis.
  expect(byName(1).indent).toBeGreaterThan(byName(0).indent);
  expect(byName(2).indent).toBeGreaterThan(byName(1).indent);
  expect(byName(3).barLeft).toBeGreaterThanOrEqual(byName(2).barLeft);
  expect(byName(4).barLeft).toBeGreaterThanOrEqual(byName(3).barLeft);
  // Notes are ticks on their bar: the two queries' 'rows' and 'cache miss' on 'load user'.
  await expect(page.locator('.span-row').nth(1).locator('.bar .note').count()).resolves.toBe(1);
  await expect(page.locator('.span-row').nth(1).locator('.bar .note').getAttribute('title')).resolves.toMatch(/^cache miss at \+/);

  // Tags show on click.
  await page.locator('.span-row').nth(2).click();
  const detail = page.locator('.span-detail');
  await expect(detail.count()).resolves.toBe(1);
  const tags = await detail.locator('.kv.tags dt').allTextContents();
  expect(tags).toEqual(['db.statement', 'db.system']);
  await expect(detail.locator('.kv.tags dd').first().textContent()).resolves.toBe('SELECT * FROM users WHERE id = ?');

  // The header shows the tracer's counters.
  await expect(page.locator('#stats .chip').first().textContent()).resolves.toMatch(/^started\d+$/);
  await page.screenshot({ path: join(ARTIFACTS, 'trace-page-waterfall.png') });
});

test('shows a failed trace under Failed, with its error', async () => {
  await page.locator('.tab[data-view="failed"]').click();
  await expect(page.locator('.trace-item .t-name').allTextContents()).resolves.toEqual(['GET /fail']);
  await openTrace('GET /fail');
  await expect(page.locator('.wf-error').textContent()).resolves.toBe('HTTP 500');
  const failed = await page.locator('.span-row.error .span-name').allTextContents();
  expect(failed).toEqual(['GET /fail', 'charge card']);
  await page.locator('.span-row.error').nth(1).click();
  await expect(page.locator('.span-detail .kv dd.err').textContent()).resolves.toBe('card declined');
  await page.screenshot({ path: join(ARTIFACTS, 'trace-page-failed.png') });
});

test('renders hostile span names, tags and notes as text', async () => {
  await page.locator('.tab[data-view="recent"]').click();
  await openTrace('GET /xss');
  const hostile = page.locator('.span-row', { has: page.locator('.span-name', { hasText: XSS_NAME }) });
  await expect(hostile.locator('.span-name').textContent()).resolves.toBe(XSS_NAME);
  await hostile.click();
  await expect(page.locator('.span-detail .kv.tags dt').textContent()).resolves.toBe(XSS_TAG);
  await expect(page.locator('.span-detail .kv.tags dd').textContent()).resolves.toBe(XSS_TAG);
  await expect(page.locator('.span-detail .kv').last().locator('dd').first().textContent()).resolves.toBe(XSS_NOTE);
  expect(await page.evaluate(() => document.querySelectorAll('img, svg, .span-row script').length)).toBe(0);
  expect(dialogs).toEqual([]);
  await page.screenshot({ path: join(ARTIFACTS, 'trace-page-xss.png') });
});

test('reflects nothing from the URL, follows its CSP, and asks only its own origin', async () => {
  const evil = encodeURIComponent('"><img src=x onerror=alert(4)>');
  await page.goto(`${app.origin}/_traces/?q=${evil}&id=${evil}#trace=${evil}`);
  await page.locator('body[data-loaded="true"]').waitFor();
  expect(await page.evaluate(() => document.querySelectorAll('img').length)).toBe(0);
  expect(await page.content()).not.toContain('onerror=alert(4)');
  expect(dialogs).toEqual([]);
  // A deep link with a real trace id opens that trace.
  const id = await page.locator('.trace-item').first().getAttribute('data-trace-id');
  await page.goto(`${app.origin}/_traces#trace=${id}`);
  await page.locator('.span-row').first().waitFor();
  await expect(page.locator('.wf-meta .mono').textContent()).resolves.toBe(id);
  // Large enough to copy, and one click selects all of it (user-select: all).
  const idStyle = await page.locator('.wf-meta .trace-id').evaluate((e) => {
    const css = getComputedStyle(e);
    return { size: parseFloat(css.fontSize), select: css.userSelect || css.getPropertyValue('-webkit-user-select') };
  });
  expect(idStyle.size).toBeGreaterThanOrEqual(15);
  expect(idStyle.select).toBe('all');
  // No console errors: a CSP violation (a wrong hash) would be one.
  expect(problems).toEqual([]);
  expect(requests.every((url) => url.startsWith(app.origin + '/_traces'))).toBe(true);
});
