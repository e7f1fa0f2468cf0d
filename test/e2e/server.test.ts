/** The server path in real Chromium: "Server" sends the photo to the queue; events bring the result. */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TaskSchema } from '../../shared/contract.ts';
import { FIXTURES } from '../helpers/api.ts';
import { useSystem } from '../helpers/system.ts';
import { type Browser, chooseRoute, exportedTasks, logIn, openApp, waitForNewestTask } from './browser.ts';

const ctx = useSystem({ workers: 1 });
let browser: Browser;
const requests: string[] = [];

beforeAll(async () => {
  browser = await openApp(ctx.sys.baseUrl, { webgpu: false });
  browser.page.on('request', (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`));
});
afterAll(async () => {
  await browser?.close();
});

it('"Server": upload → queued → succeeded through the events, boxes drawn, source server', async () => {
  const { page } = browser;
  await chooseRoute(page, 'server');
  await page.waitForSelector('#where[data-route="server"]');
  await logIn(page, ctx.sys.admin.username, ctx.sys.admin.password);
  await page.setInputFiles('#files', path.join(FIXTURES, 'astronaut.png'));
  const id = await waitForNewestTask(page, ['succeeded', 'failed'], 60_000);
  expect(await page.getAttribute(`li[data-task-id="${id}"]`, 'data-status')).toBe('succeeded');
  await page.waitForSelector(`#result[data-task-id="${id}"] canvas[data-boxes]`);
  expect(Number(await page.getAttribute('#result-canvas', 'data-boxes'))).toBeGreaterThanOrEqual(1);
  await expect.poll(() => page.textContent('#result-list'), { timeout: 10_000 }).toContain('person');

  expect(requests).toContain('POST /api/v1/tasks');
  expect(requests).toContain(`GET /api/v1/tasks/${id}/events`);
  const task = (await exportedTasks(page)).map((t) => TaskSchema.parse(t)).find((t) => t.task_id === id);
  expect(task?.source).toBe('server');
  expect(task?.status).toBe('succeeded');
  expect(task?.file_name).toBe('astronaut.png'); // the photo's name, sent with it and kept by the server
  expect(['wasm', 'tensorflow']).toContain(task?.model?.backend);
  // The same task, as the server has it.
  const res = await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${id}`, {
    headers: { authorization: `Bearer ${ctx.token}` },
  });
  expect(TaskSchema.parse(await res.json())).toEqual(task);
});
