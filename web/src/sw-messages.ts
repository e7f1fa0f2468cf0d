/**
 * What the service worker posts to the app's pages (web/src/sw.ts → web/src/main.ts): a task it
 * updated from a push, pending uploads it sent, or a notification the user clicked.
 */
import type { Task } from '../../shared/contract.ts';

export type ServiceWorkerMessage =
  | { type: 'task-updated'; task: Task }
  | { type: 'pending-sent' }
  | { type: 'open-task'; task_id: string | undefined };
