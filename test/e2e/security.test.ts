/**
 * The page under its Content-Security-Policy, in real Chromium: the model compiles and runs in the
 * worker (WebAssembly), and the page's own writes with the session cookie pass the same-origin
 * check, with no violation reported.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/api.ts';
import { useSystem } from '../helpers/system.ts';
import { type Browser, chooseRoute, logIn, openApp, waitForNewestTask } from './browser.ts';

const ctx = useSystem({ workers: 1 });
let browser: Browser;
const violations: string[] = [];

beforeAll(async () => {
  browser = await openApp(ctx.sys.baseUrl, { webgpu: false });
  const { page } = browser;
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
});
afterAll(async () => {
  await browser?.close();
});

it('detects on the device and on the server under the policy, with nothing blocked', async () => {
  const { page } = browser;
  const doc = await page.goto(`${ctx.sys.baseUrl}/?backends=wasm`);
  expect(doc?.headers()['content-security-policy']).toContain("script-src 'self' 'wasm-unsafe-eval'");
  await page.waitForSelector('body[data-ready="true"]');

  await chooseRoute(page, 'device');
  await page.waitForSelector('#where[data-backend="wasm"]', { timeout: 60_000 });
  await page.setInputFiles('#files', path.join(FIXTURES, 'astronaut.png'));
  const onDevice = await waitForNewestTask(page, ['succeeded', 'failed'], 60_000);
  expect(await page.getAttribute(`li[data-task-id="${onDevice}"]`, 'data-status')).toBe('succeeded');

  await logIn(page, ctx.sys.admin.username, ctx.sys.admin.password);
  await chooseRoute(page, 'server');
  await page.setInputFiles('#files', path.join(FIXTURES, 'coffee.png'));
  await page.waitForFunction(() => document.querySelectorAll('#history li.task').length === 2);
  const onServer = await waitForNewestTask(page, ['succeeded', 'failed'], 60_000);
  expect(onServer).not.toBe(onDevice);
  expect(await page.getAttribute(`li[data-task-id="${onServer}"]`, 'data-status')).toBe('succeeded');

  expect(violations).toEqual([]);
});
