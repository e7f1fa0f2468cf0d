/**
 * The page's side of the service worker (after Squoosh's sw-bridge): registration, what the worker
 * tells the page, and Background Sync. A message carries what changed (sw-messages.ts), and is
 * handed on as such: the page applies it to its state, never re-reading the history for it.
 */
import { Workbox } from 'workbox-window';
import { SYNC_TAG } from '../api/pending.ts';
import type { ServiceWorkerMessage } from '../sw-messages.ts';

export interface ServiceWorkerEvents {
  /** A push updated a task in the history (the database has it already). */
  taskUpdated(message: Extract<ServiceWorkerMessage, { type: 'task-updated' }>): void;
  /** Background Sync sent waiting uploads; the server's copies of those tasks. */
  pendingSent(message: Extract<ServiceWorkerMessage, { type: 'pending-sent' }>): void;
  /** A notification was clicked: show that task. */
  openTask(message: Extract<ServiceWorkerMessage, { type: 'open-task' }>): void;
}

/** Registers the service worker (module, built by vite-plugin-pwa) and forwards its messages. */
export function registerServiceWorker(events: ServiceWorkerEvents): void {
  if (!('serviceWorker' in navigator)) return;
  const wb = new Workbox('/sw.js', { type: 'module' });
  wb.addEventListener('message', (e) => {
    const m = e.data as ServiceWorkerMessage;
    if (m.type === 'task-updated') events.taskUpdated(m);
    else if (m.type === 'pending-sent') events.pendingSent(m);
    else if (m.type === 'open-task') events.openTask(m);
  });
  void wb.register();
}

/** Asks the service worker to send waiting uploads when the network returns, where the browser has Background Sync. */
export async function requestSync(): Promise<void> {
  const reg = await navigator.serviceWorker?.ready.catch(() => undefined);
  const sync = (reg as (ServiceWorkerRegistration & { sync?: { register(tag: string): Promise<void> } }) | undefined)
    ?.sync;
  await sync?.register(SYNC_TAG).catch(() => undefined);
}
