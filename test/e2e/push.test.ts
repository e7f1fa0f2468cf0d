/**
 * Web Push in real Chromium: a push delivered to the service worker (DevTools protocol
 * ServiceWorker.deliverPushMessage) updates the history and shows a notification with no page open.
 */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Task, TaskSchema } from '../../shared/contract.ts';
import type { ServiceWorkerMessage } from '../../web/src/sw-messages.ts';
import { auth, FIXTURES, waitForTask } from '../helpers/api.ts';
import { useSystem } from '../helpers/system.ts';
import { type Browser, chooseRoute, logIn, openApp } from './browser.ts';

const ctx = useSystem({ workers: 0 });
let browser: Browser;

beforeAll(async () => {
  browser = await openApp(ctx.sys.baseUrl, { webgpu: false });
  // What the user grants when they turn notifications on.
  await browser.context.grantPermissions(['notifications'], { origin: ctx.sys.baseUrl });
  await browser.page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
});
afterAll(async () => {
  await browser?.close();
});

it('a push for a finished server task updates the history and shows a notification, with no app page open', async () => {
  const { page, context } = browser;
  await logIn(page, ctx.sys.admin.username, ctx.sys.admin.password);
  await chooseRoute(page, 'server');
  await page.setInputFiles('#files', path.join(FIXTURES, 'astronaut.png'));
  const row = page.locator('#history li.task[data-status="queued"]').first();
  await row.waitFor();
  const id = (await row.getAttribute('data-task-id')) ?? '';
  // The row shows before the upload has reached the server; leaving the page earlier would cancel it.
  await expect
    .poll(async () => (await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${id}`, { headers: auth(ctx.token) })).status, {
      timeout: 30_000,
    })
    .toBe(200);

  // Leave the app: only a same-origin non-app page stays (to read IndexedDB and talk to DevTools).
  await page.goto(`${ctx.sys.baseUrl}/healthz`);
  // The service worker still controls that page: it is how the page hears of the push below.
  expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
  await ctx.sys.startWorker();
  const finished: Task = await waitForTask(ctx.sys.baseUrl, ctx.token, id);
  expect(finished.status).toBe('succeeded');
  expect(await storedStatus(id)).toBe('queued'); // no page follows it any more

  const cdp = await context.newCDPSession(page);
  const registrationId = await new Promise<string>((resolve) => {
    cdp.on(
      'ServiceWorker.workerRegistrationUpdated',
      (e: { registrations: { registrationId: string; scopeURL: string }[] }) => {
        const reg = e.registrations.find((r) => r.scopeURL.startsWith(ctx.sys.baseUrl));
        if (reg) resolve(reg.registrationId);
      },
    );
    void cdp.send('ServiceWorker.enable');
  });
  // The service worker tells its pages last, once the notification is shown. Reading the notifications
  // while one is being shown would make Chromium drop it from the list (see web/src/sw.ts), so the
  // page waits for that message (listening before the push is sent) and reads once.
  await page.evaluate((taskId) => {
    (window as unknown as { told: Promise<void> }).told = new Promise<void>((resolve) => {
      navigator.serviceWorker.addEventListener('message', (e: MessageEvent<ServiceWorkerMessage>) => {
        if (e.data.type === 'task-updated' && e.data.task.task_id === taskId) resolve();
      });
    });
  }, id);
  await cdp.send('ServiceWorker.deliverPushMessage', {
    origin: new URL(ctx.sys.baseUrl).origin,
    registrationId,
    data: JSON.stringify({ type: 'task', task: finished, detections_omitted: 0 }),
  });
  await page.evaluate(() => (window as unknown as { told: Promise<void> }).told);

  expect(await storedStatus(id)).toBe('succeeded');
  const notifications = await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.getRegistration('/');
    return (await reg?.getNotifications())?.map((n) => ({ title: n.title, body: n.body, tag: n.tag })) ?? [];
  });
  expect(notifications).toEqual([{ title: 'Twinlens: detection finished', body: 'Found person', tag: id }]);
});

/** The task's status in the app's IndexedDB history, read from a same-origin page. */
async function storedStatus(id: string): Promise<string | null> {
  const raw = await browser.page.evaluate(
    (taskId) =>
      new Promise<unknown>((resolve, reject) => {
        const open = indexedDB.open('twinlens');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const get = open.result.transaction('history').objectStore('history').get(taskId);
          get.onsuccess = () => {
            resolve((get.result as { task?: unknown } | undefined)?.task ?? null);
            open.result.close();
          };
          get.onerror = () => reject(get.error);
        };
      }),
    id,
  );
  return raw ? TaskSchema.parse(raw).status : null;
}
