/**
 * Server-route tasks made while offline wait in IndexedDB and are sent when the network returns:
 * by Background Sync in the service worker where the browser has it, by the page (tasks/dispatch.ts)
 * on `online` elsewhere. Both send through tasks/server-run.ts, so a refusal means the same on both.
 * The task id is the client's, so two senders racing cannot make two tasks.
 */
import type { Task } from '../../../shared/contract.ts';
import { laterTask } from '../../../shared/task-lifecycle.ts';
import { changeEntry, pendingEntries } from '../history/db.ts';
import { type ServerUploader, sendToServer } from '../tasks/server-run.ts';
import { uploadTask } from './client.ts';

export const SYNC_TAG = 'twinlens-upload';

/** Uploads with fetch (no progress: nobody watches a Background Sync); the cookie says who is logged in. */
const uploader: ServerUploader = {
  online: () => true,
  loggedIn: () => true,
  upload: (row) =>
    uploadTask(row.task.task_id, row.image, row.pending?.params ?? row.task.params, row.task.route, row.task.file_name),
  loggedOut: () => undefined,
};

/** Sends every waiting task; returns the tasks the server accepted. */
export async function uploadPending(): Promise<Task[]> {
  const sent: Task[] = [];
  for (const entry of await pendingEntries()) {
    const id = entry.task.task_id;
    const out = await sendToServer(entry, uploader, { progress: () => undefined, uploaded: () => undefined });
    if (out.kind === 'sent') {
      // The other sender (page or service worker) may have sent it too and followed it further.
      await changeEntry(id, (e) => ({ ...e, task: laterTask(e.task, out.task), pending: undefined }));
      sent.push(out.task);
    } else if (out.kind === 'done') {
      // Refused for good (the photo itself): only while it still waits, the other sender may have got it through.
      await changeEntry(id, (e) => (e.pending ? { ...e, pending: undefined, task: out.task } : undefined));
    } else {
      await changeEntry(id, (e) =>
        e.pending
          ? { ...e, pending: { ...e.pending, attempts: e.pending.attempts + 1, lastError: out.reason } }
          : undefined,
      );
      if (out.retry === 'network') break; // still offline: the next sync tries again
    }
  }
  return sent;
}
