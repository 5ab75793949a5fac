import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

// CI installs it with: apt-get update && apt-get install -y chromium
const CHROMIUM = '/usr/bin/chromium';

/** Where browser tests save their screenshots (gitignored). */
export const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts');

/** A headless Chromium with a fresh profile; `close()` also deletes the profile. */
export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** What a page did that a test of it expects never to happen. */
export interface PageProblems {
  /** Every alert, confirm or prompt the page opened (each dismissed). */
  readonly dialogs: string[];
  /** Console errors and warnings, and uncaught exceptions. */
  readonly problems: string[];
}

/** Records the page's dialogs (dismissing them), console errors and warnings, and page errors. */
export function watchPageProblems(page: Page, into: PageProblems): void {
  page.on('dialog', (dialog) => {
    into.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') into.problems.push(message.text());
  });
  page.on('pageerror', (error) => into.problems.push(String(error)));
}

/**
 * Debian's Chromium driven by playwright-core, headless, with the flags this machine needs (no
 * sandbox as root, and no background networking: the machine has no network beyond loopback).
 */
export async function launchChromium(viewport: { width: number; height: number }): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install it with "apt-get update && apt-get install -y chromium"`);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  const userDataDir = mkdtempSync(join(tmpdir(), 'tomograph-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
      viewport,
      colorScheme: 'light',
    });
  } catch (error) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw error;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  let closed = false;
  return {
    context,
    page,
    async close() {
      if (closed) return;
      closed = true;
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
