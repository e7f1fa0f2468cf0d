/** Ownership: a task is visible only to the user who made it. */
import { TwinlensError } from '../../shared/errors.ts';
import type { StoredTask, TaskStore } from './task-store.ts';

/** Task ids are lowercase UUIDs (server-made or client-chosen). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The task if it exists and belongs to the user; `task_not_found` otherwise (never reveal others' ids). */
export async function ownTask(tasks: TaskStore, id: string, userId: string): Promise<StoredTask> {
  const stored = UUID.test(id) ? await tasks.get(id) : null;
  if (!stored || stored.ownerId !== userId) throw new TwinlensError('task_not_found', `no task ${id}`);
  return stored;
}
