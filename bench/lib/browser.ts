/**
 * Real Chromium (Debian's, driven by playwright-core) against the real server. `webgpu: true`
 * adds --enable-unsafe-webgpu, which on a machine without a GPU gives a software (SwiftShader)
 * WebGPU adapter; without it `navigator.gpu.requestAdapter()` resolves to null.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/**
 * `init`: a script run in every page before the app's own (e.g. a replaced Battery Status API).
 * `profile`: a browser profile kept from an earlier `openApp` (`keepProfile`), as a returning user's
 * browser has it: the service worker's caches (the model), IndexedDB (the measurement, the history).
 */
export async function openApp(
  baseUrl: string,
  opts: {
    webgpu: boolean;
    init?: string;
    profile?: string;
    keepProfile?: boolean;
    /** More Chromium switches (e.g. the fake camera: --use-fake-device-for-media-stream …). */
    args?: string[];
    /** Permissions granted to the app's origin (e.g. ['camera']); none: the browser's default (denied, headless). */
    permissions?: string[];
  },
): Promise<Browser & { profile: string }> {
  const userDataDir = opts.profile ?? fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-chromium-'));
  const args = [
    '--headless=new',
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
  ];
  if (opts.webgpu) args.push('--enable-unsafe-webgpu');
  args.push(...(opts.args ?? []));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    args,
    headless: true,
    viewport: { width: 420, height: 900 },
    deviceScaleFactor: 1,
    acceptDownloads: true,
    ...(opts.permissions ? { permissions: opts.permissions } : {}),
  });
  if (opts.init) await context.addInitScript(opts.init);
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(baseUrl);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  return {
    context,
    page,
    profile: userDataDir,
    close: async () => {
      await context.close();
      if (!opts.keepProfile) fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export async function chooseRoute(page: Page, route: 'auto' | 'device' | 'server'): Promise<void> {
  await page.selectOption('#route', route);
}

/** Waits until the history row of the newest task has one of the statuses, and returns its id. */
/**
 * Timeout for tests and hooks that run the model in the page on software WebGPU (SwiftShader): tens of
 * seconds per image on a small VM, several times that while other processes share its cores.
 */
export const SLOW = 300_000;

export async function waitForNewestTask(page: Page, statuses: string[], timeoutMs = 180_000): Promise<string> {
  const row = page.locator('#history li.task').first();
  await row.waitFor({ timeout: timeoutMs });
  const selector = statuses.map((s) => `#history li.task:first-child[data-status="${s}"]`).join(', ');
  await page.waitForSelector(selector, { timeout: timeoutMs });
  return (await row.getAttribute('data-task-id')) ?? '';
}

/** The history as the app exports it (the Export JSON button's download). */
export async function exportedTasks(page: Page): Promise<unknown[]> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  const file = await download.path();
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { tasks: unknown[] }).tasks;
}

export async function logIn(page: Page, username: string, password: string): Promise<void> {
  await page.click('#account button:has-text("Log in")');
  await page.fill('#login input[name="username"]', username);
  await page.fill('#login input[name="password"]', password);
  await page.click('#login button[type="submit"]');
  await page.waitForSelector('#account:has-text("Log out")');
}
