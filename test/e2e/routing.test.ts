/**
 * Auto routes each photo by measurement, in real Chromium against the real server and model:
 * no login wall for work the device can do, the server when it is faster or the battery is low,
 * the device when the queue is long, on Save-Data, or when the server fails; a device that fails
 * hands the task (same id) to the server. Each decision is recorded in the Task's `route`.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { type Task, TaskSchema } from '../../shared/contract.ts';
import { auth, FIXTURES, fixture, submit } from '../helpers/api.ts';
import { useSystem } from '../helpers/system.ts';
import { type Browser, chooseRoute, exportedTasks, logIn, openApp, SLOW, waitForNewestTask } from './browser.ts';

const ctx = useSystem({ workers: 1 });
let browser: Browser | undefined;
afterEach(async () => {
  await browser?.close();
  browser = undefined;
});

const LOW_BATTERY = `navigator.getBattery = async () => ({ level: 0.1, charging: false, addEventListener() {} });`;
const SAVE_DATA = `Object.defineProperty(navigator, 'connection', { value: { saveData: true, effectiveType: '4g', downlink: 10, rtt: 50 } });`;

async function open(opts: { webgpu?: boolean; init?: string; query?: string } = {}) {
  const b = await openApp(`${ctx.sys.baseUrl}/${opts.query ?? ''}`, { webgpu: opts.webgpu ?? false, init: opts.init });
  browser = b;
  const posts: string[] = [];
  b.page.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/api/v1/tasks') posts.push(r.url());
  });
  await b.page.waitForSelector('#where[data-backend]', { timeout: 120_000 });
  return { ...b, posts };
}

async function detectOne(page: Browser['page'], file = 'astronaut.png'): Promise<Task> {
  const before = await page.locator('#history li.task').count();
  await page.setInputFiles('#files', path.join(FIXTURES, file));
  // The row appears once the photo's thumbnail is encoded and its entry written; the page's canvas work can wait
  // behind a software WebGPU measurement still draining in the browser's GPU process (tens of seconds under load).
  await page.waitForFunction((n) => document.querySelectorAll('#history li.task').length > n, before, {
    timeout: 120_000,
  });
  const id = await waitForNewestTask(page, ['succeeded', 'failed'], 120_000);
  const task = (await exportedTasks(page)).map((t) => TaskSchema.parse(t)).find((t) => t.task_id === id);
  if (!task) throw new Error(`task ${id} not in the history`);
  return task;
}

describe('not logged in', () => {
  it(
    'Auto without WebGPU: detected on the device with WebAssembly, no upload, no login dialog',
    async () => {
      const { page, posts } = await open();
      await chooseRoute(page, 'auto');
      expect(await page.textContent('#where')).toMatch(/Auto: on this device/);
      // The first visit downloaded the model with a progress bar, hidden once done.
      expect(await page.getAttribute('#model-progress', 'data-last')).toBe('1');
      expect(await page.isHidden('#model-progress')).toBe(true);
      const task = await detectOne(page);
      expect(task).toMatchObject({ status: 'succeeded', source: 'device', model: { backend: 'wasm' } });
      expect(task.route).toMatchObject({ chosen: 'device', reason: expect.stringMatching(/not logged in/) });
      expect(task.detections.some((d) => d.label === 'person')).toBe(true);
      expect(posts).toEqual([]);
      expect(await page.locator('#login[open]').count()).toBe(0);
    },
    SLOW,
  );

  it(
    'a software WebGPU adapter: Auto measures it slower than WebAssembly and uses WebAssembly',
    async () => {
      const { page } = await open({ webgpu: true });
      await chooseRoute(page, 'auto');
      await page.waitForSelector('#where[data-measured]', { timeout: 120_000 });
      expect(await page.getAttribute('#where', 'data-backend')).toBe('wasm');
      // WebAssembly first (on one thread or several, whichever measured faster: issue 24), WebGPU after it.
      expect(await page.textContent('#where')).toMatch(/WebAssembly, \d+ ms per photo( on \d+ threads?)?; .*WebGPU/);
      const task = await detectOne(page);
      expect(task.model?.backend).toBe('wasm');
      // A second visit loads the winner at once from what was measured (IndexedDB), measuring nothing.
      await page.reload();
      await page.waitForSelector('#where[data-measured="stored"]', { timeout: 60_000 });
      expect(await page.getAttribute('#where', 'data-backend')).toBe('wasm');
    },
    SLOW,
  );
});

describe('logged in', () => {
  it(
    'a slow device (software WebGPU only) and an idle server: Auto sends the photo to the server',
    async () => {
      const { page } = await open({ webgpu: true, query: '?backends=webgpu' });
      await logIn(page, ctx.sys.admin.username, ctx.sys.admin.password);
      await chooseRoute(page, 'auto');
      const task = await detectOne(page);
      expect(task).toMatchObject({ status: 'succeeded', source: 'server' });
      expect(task.route).toMatchObject({ chosen: 'server', reason: expect.stringMatching(/faster on the server/) });
      expect(task.route?.device_estimate_ms).toBeGreaterThan(
        task.route?.server_estimate_ms ?? Number.POSITIVE_INFINITY,
      );
      // The server's record carries the same decision.
      const res = await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${task.task_id}`, { headers: auth(ctx.token) });
      expect(TaskSchema.parse(await res.json()).route).toEqual(task.route);
    },
    SLOW,
  );

  it(
    'a long server queue: Auto detects on the device',
    async () => {
      // Only a worker that takes 3 s per task, and a queue of forty: an estimated wait of several seconds.
      for (const w of ctx.sys.workers.splice(0)) {
        w.child.kill('SIGKILL');
        await w.exited;
      }
      const slow = await ctx.sys.startWorker({ DEBUG_INFERENCE_BLOCK_MS: '3000' });
      const ids: string[] = [];
      try {
        for (let i = 0; i < 40; i++)
          ids.push((await submit(ctx.sys.baseUrl, ctx.token, fixture('coffee.png'))).task_id);
        const { page, posts } = await open();
        await logIn(page, ctx.sys.admin.username, ctx.sys.admin.password);
        await chooseRoute(page, 'auto');
        const task = await detectOne(page);
        expect(task).toMatchObject({ status: 'succeeded', source: 'device' });
        expect(task.route).toMatchObject({ chosen: 'device', reason: expect.stringMatching(/faster here/) });
        expect(task.route?.server_estimate_ms).toBeGreaterThan(3000);
        expect(posts).toEqual([]);
      } finally {
        for (const id of ids)
          await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${id}`, { method: 'DELETE', headers: auth(ctx.token) });
        slow.child.kill('SIGKILL');
        await slow.exited;
        ctx.sys.workers.splice(ctx.sys.workers.indexOf(slow), 1);
        await ctx.sys.startWorker();
      }
    },
    SLOW,
  );

  it(
    'battery low: the server; with Save-Data too: the device',
    async () => {
      const low = await open({ init: LOW_BATTERY });
      await logIn(low.page, ctx.sys.admin.username, ctx.sys.admin.password);
      await chooseRoute(low.page, 'auto');
      const onServer = await detectOne(low.page);
      expect(onServer).toMatchObject({ status: 'succeeded', source: 'server' });
      expect(onServer.route?.reason).toMatch(/battery at 10 %/);
      await browser?.close();

      const saving = await open({ init: LOW_BATTERY + SAVE_DATA });
      await logIn(saving.page, ctx.sys.admin.username, ctx.sys.admin.password);
      await chooseRoute(saving.page, 'auto');
      const onDevice = await detectOne(saving.page);
      expect(onDevice).toMatchObject({ status: 'succeeded', source: 'device' });
      expect(onDevice.route?.reason).toMatch(/Save-Data/);
      expect(saving.posts).toEqual([]);
    },
    SLOW,
  );

  it(
    'a device inference that throws: the same task completes on the server, and says why',
    async () => {
      // Posting a photo to the detection worker fails from now on, as a lost device would.
      const init = `{
      const post = Worker.prototype.postMessage;
      Worker.prototype.postMessage = function (m, t) {
        if (window.__failDevice && m && m.type === 'detect') throw new Error('device lost (test)');
        return post.call(this, m, t);
      };
    }`;
      const { page } = await open({ init });
      await logIn(page, ctx.sys.admin.username, ctx.sys.admin.password);
      await chooseRoute(page, 'device');
      await page.evaluate(() => {
        (window as unknown as { __failDevice: boolean }).__failDevice = true;
      });
      const task = await detectOne(page);
      expect(task).toMatchObject({ status: 'succeeded', source: 'server' });
      expect(task.route).toMatchObject({
        chosen: 'server',
        reason: expect.stringMatching(/device lost \(test\).*server/),
      });
      // One task, one id: the server has it under the id the device gave it.
      const res = await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${task.task_id}`, { headers: auth(ctx.token) });
      expect(res.status).toBe(200);
    },
    SLOW,
  );

  it(
    'the server cannot be reached: the photo chosen for it is detected on the device',
    async () => {
      const { page, context } = await open({ init: LOW_BATTERY });
      await logIn(page, ctx.sys.admin.username, ctx.sys.admin.password);
      await chooseRoute(page, 'auto');
      await context.route('**/api/v1/tasks', (r) =>
        r.request().method() === 'POST' ? r.abort('connectionfailed') : r.continue(),
      );
      const task = await detectOne(page);
      expect(task).toMatchObject({ status: 'succeeded', source: 'device' });
      expect(task.route?.reason).toMatch(/cannot be reached/);
    },
    SLOW,
  );

  it(
    'a photo with GPS in its EXIF reaches the server without it, and its detections are unchanged',
    async () => {
      const withGps = await sharp(fixture('astronaut.png'))
        .withExif({ IFD0: { Make: 'PhoneCo' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 29/1' } })
        .jpeg({ quality: 95 })
        .toBuffer();
      const file = path.join(ctx.sys.dataDir, 'gps.jpg');
      fs.writeFileSync(file, withGps);
      expect(withGps.includes('PhoneCo')).toBe(true);
      const { page } = await open();
      // The page says so.
      expect(await page.textContent('#drop .privacy')).toMatch(/without its\s+location/);
      await logIn(page, ctx.sys.admin.username, ctx.sys.admin.password);
      await chooseRoute(page, 'server');
      const before = await page.locator('#history li.task').count();
      await page.setInputFiles('#files', file);
      await page.waitForFunction((n) => document.querySelectorAll('#history li.task').length > n, before);
      const id = await waitForNewestTask(page, ['succeeded', 'failed'], 120_000);
      const stored = Buffer.from(
        await (await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${id}/image`, { headers: auth(ctx.token) })).arrayBuffer(),
      );
      expect(stored.includes('PhoneCo')).toBe(false);
      const exif = (await sharp(stored).metadata()).exif;
      expect(exif?.includes(Buffer.from([0x88, 0x25])) ?? false).toBe(false);
      // The original, sent as it is by a program: the same detections.
      const original = await submit(ctx.sys.baseUrl, ctx.token, withGps);
      let direct: Task;
      do {
        await new Promise((r) => setTimeout(r, 200));
        direct = TaskSchema.parse(
          await (
            await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${original.task_id}`, { headers: auth(ctx.token) })
          ).json(),
        );
      } while (direct.status !== 'succeeded' && direct.status !== 'failed');
      const viaPage = TaskSchema.parse(
        await (await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${id}`, { headers: auth(ctx.token) })).json(),
      );
      // The page asks for scores down to 0.05 (its slider filters later); the program for the default 0.3.
      expect(viaPage.detections.filter((d) => d.score >= direct.params.min_score)).toEqual(direct.detections);
      expect(direct.detections.length).toBeGreaterThan(0);
      expect(await page.textContent('#where')).toBeTruthy();
    },
    SLOW,
  );
});
