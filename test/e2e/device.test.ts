/**
 * On-device detection in real Chromium with a software WebGPU adapter (SwiftShader: what a
 * machine without a GPU offers): the backends are measured and WebAssembly wins; no upload; the
 * shared contract.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TaskSchema } from '../../shared/contract.ts';
import { FIXTURES } from '../helpers/api.ts';
import { useSystem } from '../helpers/system.ts';
import { type Browser, chooseRoute, exportedTasks, openApp, SLOW, waitForNewestTask } from './browser.ts';

const ctx = useSystem({ workers: 0 });
let browser: Browser;
const uploads: string[] = [];

beforeAll(async () => {
  browser = await openApp(ctx.sys.baseUrl, { webgpu: true });
  browser.page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().includes('/api/v1/tasks')) uploads.push(r.url());
  });
}, SLOW);
afterAll(async () => {
  await browser?.close();
});

it(
  '"On this device" runs the backend measured fastest (WebAssembly, not software WebGPU): astronaut → person, nothing uploaded',
  async () => {
    const { page } = browser;
    await chooseRoute(page, 'device');
    await page.waitForSelector('#where[data-measured]', { timeout: 120_000 });
    expect(await page.getAttribute('#where', 'data-backend')).toBe('wasm');
    // The route line says what was chosen and why: the others were measured slower (or stopped).
    const line = (await page.textContent('#where')) ?? '';
    expect(line).toMatch(/WebAssembly, \d+ ms per photo/);
    expect(line).toMatch(/WebGPU (stopped after|\d)/);
    await page.setInputFiles('#files', path.join(FIXTURES, 'astronaut.png'));
    const id = await waitForNewestTask(page, ['succeeded', 'failed']);
    expect(await page.getAttribute(`li[data-task-id="${id}"]`, 'data-status')).toBe('succeeded');
    await page.waitForSelector(`#result[data-task-id="${id}"] canvas[data-boxes]`);
    expect(Number(await page.getAttribute('#result-canvas', 'data-boxes'))).toBeGreaterThanOrEqual(1);
    await expect.poll(() => page.textContent('#result-list'), { timeout: 10_000 }).toContain('person');

    const tasks = (await exportedTasks(page)).map((t) => TaskSchema.parse(t));
    const task = tasks.find((t) => t.task_id === id);
    expect(task?.source).toBe('device');
    expect(task?.model?.backend).toBe('wasm');
    expect(task?.route).toMatchObject({ chosen: 'device', reason: expect.stringMatching(/chosen/) });
    const person = task?.detections.find((d) => d.label === 'person');
    expect(person?.score).toBeGreaterThanOrEqual(0.5);
    expect(task?.image).toMatchObject({ width: 512, height: 512, mime: 'image/png' });
    expect(uploads).toEqual([]);
  },
  SLOW,
);

it(
  'the next photo takes the result view as soon as it is detected, and is kept with its hash and thumbnail',
  async () => {
    const { page } = browser;
    const first = await page.getAttribute('#history li.task', 'data-task-id');
    await page.setInputFiles('#files', path.join(FIXTURES, 'coffee.png'));
    await page.waitForFunction((before) => {
      const row = document.querySelector<HTMLElement>('#history li.task');
      return row && row.dataset.taskId !== before && row.dataset.status === 'succeeded';
    }, first);
    const id = await page.getAttribute('#history li.task', 'data-task-id');
    // The view left the earlier result for this one: drawn from the bitmap the model ran on.
    await page.waitForSelector(`#result[data-shown="${id}"] canvas[data-boxes]`);
    await expect.poll(() => page.textContent('#result-list'), { timeout: 10_000 }).toContain('cup');
    expect(await page.getAttribute('#result-canvas', 'width')).toBe('600');

    // Written while the model ran, then completed: the task, its hash, its thumbnail.
    const task = (await exportedTasks(page)).map((t) => TaskSchema.parse(t)).find((t) => t.task_id === id);
    const sha256 = createHash('sha256')
      .update(fs.readFileSync(path.join(FIXTURES, 'coffee.png')))
      .digest('hex');
    expect(task).toMatchObject({ status: 'succeeded', source: 'device', image: { sha256, width: 600, height: 400 } });
    expect(task?.started_at).not.toBeNull();
    const thumb = await page.$eval(`li[data-task-id="${id}"] img`, (img) => (img as HTMLImageElement).naturalWidth);
    expect(thumb).toBe(160);
    // After a reload, from IndexedDB alone.
    await page.reload();
    await page.waitForSelector(`#history li.task[data-task-id="${id}"][data-status="succeeded"]`);
    expect(uploads).toEqual([]);
  },
  SLOW,
);
