/** Ownership: a task is visible only to the user who made it. */
import { TwinlensError } from '../../shared/errors.ts';
import type { StoredTask, TaskStore } from './task-store.ts';

/** Task ids are lowercase UUIDs (server-made or client-chosen). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The task if it exists and belongs to the user; `task_not_found` otherwise (never reveal others'
 * ids). `readWithSession`: the record the session lookup read along (requireUser's `taskOf`),
 * used instead of reading it again.
 */
export async function ownTask(
  tasks: TaskStore,
  id: string,
  userId: string,
  readWithSession?: { id: string; stored: StoredTask | null },
): Promise<StoredTask> {
  const stored = !UUID.test(id) ? null : readWithSession?.id === id ? readWithSession.stored : await tasks.get(id);
  if (!stored || stored.ownerId !== userId) throw new TwinlensError('task_not_found', `no task ${id}`);
  return stored;
}

/** The task id a path under /tasks/{id} names (for requireUser's `taskOf`). */
export function taskIdInPath(path: string): string | undefined {
  const id = /\/tasks\/([^/]+)/.exec(path)?.[1];
  return id && UUID.test(id) ? id : undefined;
}
