import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium (`apt-get install -y chromium`); the tests never download a browser. */
export const CHROMIUM = '/usr/bin/chromium';

/** Why the browser tests cannot run here, or undefined when they can. */
export const skipReason = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium) to run the console's browser tests`;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * A page that records every console error and uncaught exception, and every failed request, so a
 * test can assert the console ran cleanly.
 */
export async function watchedPage(context: BrowserContext): Promise<{ page: Page; problems: string[] }> {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return { page, problems };
}

/** Where screenshots go: a temporary folder, never committed (CONSOLE_SCREENSHOTS overrides it). */
export function screenshotDir(): string {
  const dir = process.env.CONSOLE_SCREENSHOTS ?? join(tmpdir(), 'devconnect-console-screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Bundles the page as `npm run build` does, unless `npm test` just built it: a test run on its own
 * must not test a stale bundle in dist/.
 */
export function buildBundle(): void {
  if (process.env.DEVCONNECT_TEST_BUILT === '1') return;
  const result = spawnSync(process.execPath, ['scripts/build-console.mjs'], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error('bundling the console failed (node scripts/build-console.mjs)');
}
