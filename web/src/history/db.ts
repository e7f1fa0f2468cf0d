/**
 * The history, in IndexedDB (idb): every Task from both paths, with its image and a thumbnail,
 * and the server-route tasks that wait for the network. The page reads it once at start and then
 * writes through history.ts (state and database together); the service worker reads and writes it
 * here directly (a push, a Background Sync) and tells the pages what changed (sw-messages.ts).
 */
import { type DBSchema, type IDBPDatabase, openDB } from 'idb';
import type { DetectParams, Task } from '../../../shared/contract.ts';
import { laterTask } from '../../../shared/task-lifecycle.ts';

export interface HistoryEntry {
  task: Task;
  image: Blob;
  thumbnail: Blob;
  /** Set while a server-route task waits to be uploaded (offline, or the upload failed). */
  pending?: { params: DetectParams; attempts: number; lastError?: string };
  updated_at: number;
}

interface Schema extends DBSchema {
  history: { key: string; value: HistoryEntry; indexes: { by_created: string } };
}

let dbPromise: Promise<IDBPDatabase<Schema>> | undefined;

function db(): Promise<IDBPDatabase<Schema>> {
  dbPromise ??= openDB<Schema>('twinlens', 1, {
    upgrade(database) {
      const store = database.createObjectStore('history', { keyPath: 'task.task_id' });
      store.createIndex('by_created', 'task.created_at');
    },
  });
  return dbPromise;
}

export async function putEntry(entry: HistoryEntry): Promise<void> {
  await (await db()).put('history', { ...entry, updated_at: Date.now() });
}

export async function getEntry(taskId: string): Promise<HistoryEntry | undefined> {
  return (await db()).get('history', taskId);
}

/**
 * Changes one entry in one transaction, so the page and the service worker never write back a
 * stale copy. `change` gets the stored entry and returns its new value, or undefined to leave it.
 */
export async function changeEntry(
  taskId: string,
  change: (entry: HistoryEntry) => HistoryEntry | undefined,
): Promise<HistoryEntry | undefined> {
  const tx = (await db()).transaction('history', 'readwrite');
  const entry = await tx.store.get(taskId);
  const next = entry && change(entry);
  if (next) await tx.store.put({ ...next, updated_at: Date.now() });
  await tx.done;
  return next ?? entry;
}

/** Applies a version of a task (from the server, events or a push) to its entry, if we have it and it is not older. */
export async function updateTask(task: Task): Promise<HistoryEntry | undefined> {
  return changeEntry(task.task_id, (entry) => ({ ...entry, task: laterTask(entry.task, task) }));
}

/** Newest first. */
export async function listEntries(): Promise<HistoryEntry[]> {
  return (await (await db()).getAllFromIndex('history', 'by_created')).reverse();
}

export async function pendingEntries(): Promise<HistoryEntry[]> {
  return (await listEntries()).filter((e) => e.pending);
}

export async function deleteEntry(taskId: string): Promise<void> {
  await (await db()).delete('history', taskId);
}

export async function clearHistory(): Promise<void> {
  await (await db()).clear('history');
}
