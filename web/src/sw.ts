/**
 * The service worker: precaches the app shell, the model and the wasm binaries (so the app opens
 * and detects on the device offline), sends server-route tasks queued offline (Background Sync),
 * and turns Web Push messages into history updates and notifications, even with no page open.
 */
/// <reference lib="webworker" />
import './zod-jitless.ts';
import { clientsClaim } from 'workbox-core';
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching';
import { NavigationRoute, registerRoute } from 'workbox-routing';
import { DEFAULT_MIN_SCORE, PushMessageSchema, type Task } from '../../shared/contract.ts';
import { getTask } from './api/client.ts';
import { SYNC_TAG, uploadPending } from './api/pending.ts';
import { updateTask } from './history/db.ts';
import type { ServiceWorkerMessage } from './sw-messages.ts';

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: (string | { url: string; revision: string | null })[] };

precacheAndRoute(self.__WB_MANIFEST);
cleanupOutdatedCaches();
registerRoute(
  new NavigationRoute(createHandlerBoundToURL('/index.html'), { denylist: [/^\/api\//, /^\/readyz/, /^\/healthz/] }),
);
self.skipWaiting();
clientsClaim();

async function tellPages(message: ServiceWorkerMessage) {
  for (const client of await self.clients.matchAll({ type: 'window' })) client.postMessage(message);
}

interface SyncEvent extends ExtendableEvent {
  tag: string;
}

self.addEventListener('sync', (event) => {
  const e = event as SyncEvent;
  if (e.tag !== SYNC_TAG) return;
  e.waitUntil(
    uploadPending().then(async (sent) => {
      if (sent.length) await tellPages({ type: 'pending-sent', tasks: sent });
    }),
  );
});

self.addEventListener('push', (event) => {
  event.waitUntil(
    (async () => {
      let task: Task;
      try {
        const message = PushMessageSchema.parse(event.data?.json());
        task = message.task;
        // Big results arrive trimmed; the whole task is one request away (the cookie goes along).
        if (message.detections_omitted > 0) task = await getTask(task.task_id).catch(() => task);
      } catch {
        return;
      }
      await updateTask(task);
      try {
        // The user canceled it; nothing to announce.
        if (task.status !== 'canceled') await announce(task);
      } finally {
        // Pages hear of it once the notification is up (and also when notifications are not allowed).
        // Chromium's getNotifications() drops from its list any notification stored but not yet reported
        // displayed when the call began, so a page that reads the list on this message finds the new one.
        await tellPages({ type: 'task-updated', task });
      }
    })(),
  );
});

function announce(task: Task): Promise<void> {
  // Tasks keep low scores for the slider; the notification names what the app shows by default.
  const found = task.detections.filter((d) => d.score >= DEFAULT_MIN_SCORE).map((d) => d.label);
  const body =
    task.status === 'succeeded'
      ? found.length
        ? `Found ${[...new Set(found)].join(', ')}`
        : 'Nothing found'
      : task.status === 'failed'
        ? `Failed: ${task.error?.message ?? 'unknown error'}`
        : `Task ${task.status}`;
  return self.registration.showNotification('Twinlens: detection finished', {
    body,
    tag: task.task_id,
    icon: '/icons/icon-192.png',
    data: { task_id: task.task_id },
  });
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const id = (event.notification.data as { task_id?: string } | null)?.task_id;
  const url = id ? `/?task=${id}` : '/';
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const open = windows[0];
      if (open) {
        await open.focus();
        open.postMessage({ type: 'open-task', task_id: id } satisfies ServiceWorkerMessage);
      } else await self.clients.openWindow(url);
    })(),
  );
});
