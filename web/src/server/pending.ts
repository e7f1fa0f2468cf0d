/**
 * Server-route tasks made while offline wait in IndexedDB and are sent when the network returns:
 * by Background Sync in the service worker where the browser has it, by the page on `online`
 * elsewhere. The task id is the client's, so two senders racing cannot make two tasks.
 */
import type { Task } from '../../../shared/contract.ts';
import { changeEntry, type HistoryEntry, later, pendingEntries } from '../store.ts';
import { ApiError, uploadTask } from './api.ts';

export const SYNC_TAG = 'twinlens-upload';

/** Sends every waiting task; returns the tasks the server accepted. */
export async function uploadPending(): Promise<Task[]> {
  const sent: Task[] = [];
  for (const entry of await pendingEntries()) {
    const pending = entry.pending;
    if (!pending) continue;
    try {
      const task = await uploadTask(entry.task.task_id, entry.image, pending.params, entry.task.route);
      // The other sender (page or service worker) may have sent it too and followed it further.
      await changeEntry(task.task_id, (current) => ({
        ...current,
        task: later(current.task, task),
        pending: undefined,
      }));
      sent.push(task);
    } catch (err) {
      if (
        err instanceof ApiError &&
        err.status >= 400 &&
        err.status < 500 &&
        err.status !== 401 &&
        err.status !== 408
      ) {
        // The server refused the image itself: sending it again will not help.
        await changeEntry(entry.task.task_id, (current) => (current.pending ? failed(current, err) : undefined));
      } else {
        // Only while it still waits: the other sender may have got it through meanwhile.
        await changeEntry(entry.task.task_id, (current) =>
          current.pending
            ? {
                ...current,
                pending: {
                  ...current.pending,
                  attempts: current.pending.attempts + 1,
                  lastError: (err as Error).message,
                },
              }
            : undefined,
        );
        if (err instanceof ApiError && err.status === 401) continue; // waits for a login
        if (!(err instanceof ApiError)) break; // still offline: try again later
      }
    }
  }
  return sent;
}

function failed(entry: HistoryEntry, err: ApiError): HistoryEntry {
  return {
    ...entry,
    pending: undefined,
    task: {
      ...entry.task,
      status: 'failed',
      finished_at: new Date().toISOString(),
      error: { code: 'invalid_request', message: `${err.code}: ${err.message}` },
    },
  };
}
