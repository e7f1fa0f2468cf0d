/**
 * What the service worker posts to the app's pages (web/src/sw.ts → web/src/sw/bridge.ts): a task it updated
 * from a push, the pending uploads it sent (the server's copies), or a notification the user clicked.
 * Each carries what changed: the page applies it to its state without reading the history again.
 */
import type { Task } from '../../shared/contract.ts';

export type ServiceWorkerMessage =
  | { type: 'task-updated'; task: Task }
  | { type: 'pending-sent'; tasks: Task[] }
  | { type: 'open-task'; task_id: string | undefined };
