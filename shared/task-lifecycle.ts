/**
 * The task lifecycle, one place for both paths: how a task is made, which status changes are
 * allowed, and the order of statuses. The server's task service (server/tasks/task-service.ts)
 * checks every change against `TRANSITIONS` inside Redis; the web app makes its tasks with
 * `newTask` and keeps the latest version of each with `laterTask`.
 *
 *   queued ──claim──▶ running ──succeed──▶ succeeded
 *     │                 │ ╰────fail─────▶ failed
 *     ╰──────cancel─────┴──────cancel───▶ canceled
 *     ╰─────abandon─────┴─────abandon───▶ failed   (server reconciliation)
 *
 * `claim` is allowed from `running` too: a worker that died mid-job leaves its task running, and
 * the next attempt takes it over.
 */
import {
  type DetectParams,
  DetectParamsSchema,
  FINAL_STATUSES,
  type ImageInfo,
  type Task,
  type TaskSource,
  type TaskStatus,
} from './contract.ts';

export type Transition = 'claim' | 'succeed' | 'fail' | 'cancel' | 'abandon';

export const TRANSITIONS: Record<Transition, { from: readonly TaskStatus[]; to: TaskStatus }> = {
  claim: { from: ['queued', 'running'], to: 'running' },
  succeed: { from: ['running'], to: 'succeeded' },
  fail: { from: ['running'], to: 'failed' },
  cancel: { from: ['queued', 'running'], to: 'canceled' },
  // The server's reconciliation: a task that can no longer run (its job given up without an outcome,
  // or lost in a failover with its upload) fails with the reason, from wherever it stopped.
  abandon: { from: ['queued', 'running'], to: 'failed' },
};

export function canTransition(status: TaskStatus, transition: Transition): boolean {
  return TRANSITIONS[transition].from.includes(status);
}

export function isFinalStatus(status: TaskStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

/** How far along a status is: a task only moves forward. */
const STAGE: Record<TaskStatus, number> = { queued: 0, running: 1, succeeded: 2, failed: 2, canceled: 2 };

/**
 * The later of two versions of one task. Versions can arrive out of order (an upload's answer
 * after the live events, two senders racing, a push), so an older one never replaces a newer one.
 */
export function laterTask(current: Task, next: Task): Task {
  return STAGE[next.status] >= STAGE[current.status] ? next : current;
}

/** A new task, before anything ran: both paths make theirs with this. */
export function newTask(opts: {
  id: string;
  source: TaskSource;
  image: ImageInfo;
  params?: Partial<DetectParams>;
  now?: Date;
  /** The album job it belongs to (server batches); recorded in the task. */
  batchId?: string;
}): Task {
  const task: Task = {
    task_id: opts.id,
    status: 'queued',
    source: opts.source,
    created_at: (opts.now ?? new Date()).toISOString(),
    started_at: null,
    finished_at: null,
    params: DetectParamsSchema.parse(opts.params ?? {}),
    model: null,
    image: opts.image,
    detections: [],
    timings: { queue_ms: null, inference_ms: null, total_ms: null },
    error: null,
  };
  if (opts.batchId) task.batch_id = opts.batchId;
  return task;
}
