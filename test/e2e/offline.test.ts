/** Offline in real Chromium: the service worker serves the app and the model; server tasks wait for the network. */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TaskSchema } from '../../shared/contract.ts';
import { FIXTURES } from '../helpers/api.ts';
import { useSystem } from '../helpers/system.ts';
import { type Browser, chooseRoute, exportedTasks, logIn, openApp, SLOW, waitForNewestTask } from './browser.ts';

const ctx = useSystem({ workers: 1 });
let browser: Browser;

beforeAll(async () => {
  browser = await openApp(ctx.sys.baseUrl, { webgpu: true });
  // One online visit: the service worker installs and precaches the shell, the model and the wasm.
  await browser.page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  await browser.page.reload();
  // The first load may still be measuring software WebGPU in the background: the browser's GPU process
  // finishes that work before the reloaded page's WebGPU probe is answered (tens of seconds under load).
  await browser.page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  expect(await browser.page.evaluate(() => Boolean(navigator.serviceWorker.controller))).toBe(true);
}, SLOW);
afterAll(async () => {
  await browser?.close();
});

it(
  'with the network cut, a reload loads the app and detects on the device',
  async () => {
    const { page, context } = browser;
    await context.setOffline(true);
    try {
      await page.reload();
      await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
      await chooseRoute(page, 'device');
      await page.waitForSelector('#where[data-backend]', { timeout: 120_000 });
      await page.setInputFiles('#files', path.join(FIXTURES, 'astronaut.png'));
      const id = await waitForNewestTask(page, ['succeeded', 'failed']);
      expect(await page.getAttribute(`li[data-task-id="${id}"]`, 'data-status')).toBe('succeeded');
      await expect.poll(() => page.textContent('#result-list'), { timeout: 10_000 }).toContain('person');
    } finally {
      await context.setOffline(false);
    }
  },
  SLOW,
);

it(
  'a server-route task made offline waits, and completes when the network returns',
  async () => {
    const { page, context } = browser;
    await page.reload();
    // As long as the offline reload above may take: the page probes WebGPU (software here) before it is ready.
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    await logIn(page, ctx.sys.admin.username, ctx.sys.admin.password);
    await chooseRoute(page, 'server');
    await context.setOffline(true);
    await page.setInputFiles('#files', path.join(FIXTURES, 'coffee.png'));
    const row = page.locator('#history li.task').first();
    // The page may still be measuring its slower backends in the background (seconds of CPU here).
    await expect.poll(() => row.textContent(), { timeout: 30_000 }).toContain('waiting for the network');
    const id = (await row.getAttribute('data-task-id')) ?? '';
    const before = await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${id}`, {
      headers: { authorization: `Bearer ${ctx.token}` },
    });
    expect(before.status).toBe(404); // nothing reached the server

    await context.setOffline(false);
    // This task's row by its id, not whichever row is first while the list is redrawn.
    const mine = page.locator(`#history li.task[data-task-id="${id}"]`);
    await expect.poll(() => mine.getAttribute('data-status'), { timeout: 60_000 }).toMatch(/^(succeeded|failed)$/);
    expect(await mine.getAttribute('data-status')).toBe('succeeded');
    const task = (await exportedTasks(page)).map((t) => TaskSchema.parse(t)).find((t) => t.task_id === id);
    expect(task?.source).toBe('server');
    expect(task?.detections.map((d) => d.label)).toContain('cup');
    const after = await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${id}`, {
      headers: { authorization: `Bearer ${ctx.token}` },
    });
    expect(TaskSchema.parse(await after.json()).status).toBe('succeeded'); // the same task id on both sides
  },
  SLOW,
);
