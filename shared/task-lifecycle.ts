/**
 * The task lifecycle, one place for both paths: how a task is made, which status changes are
 * allowed, and the order of statuses. The server's task service (server/tasks/task-service.ts)
 * checks every change against `TRANSITIONS` inside Redis; the web app makes its tasks with
 * `newTask` and keeps the latest version of each with `laterTask`.
 *
 *   queued ──claim──▶ running ──succeed──▶ succeeded
 *     │  ▲              │ ╰────fail─────▶ failed
 *     │  ╰──hand_over───┤
 *     ├──────cancel─────┼──────cancel───▶ canceled
 *     ╰─────abandon─────┴─────abandon───▶ failed   (the server's reconciliation)
 *
 * `claim` is allowed from `running` too: a worker that died mid-job leaves its task running, and
 * the next attempt takes it over. `hand_over` is the web app's: a task the device could not finish
 * goes to the server (or one the server refused comes to the device) as the same task, queued again
 * on its new side. The pure functions below make each change; no caller builds a status by hand.
 */
import {
  type Detection,
  type DetectParams,
  DetectParamsSchema,
  type ErrorInfo,
  FINAL_STATUSES,
  type ImageInfo,
  type ModelInfo,
  type RouteDecision,
  type Task,
  type TaskSource,
  type TaskStatus,
} from './contract.ts';
import { cleanFileName } from './file-name.ts';

export type Transition = 'claim' | 'succeed' | 'fail' | 'cancel' | 'hand_over' | 'abandon';

export const TRANSITIONS: Record<Transition, { from: readonly TaskStatus[]; to: TaskStatus }> = {
  claim: { from: ['queued', 'running'], to: 'running' },
  succeed: { from: ['running'], to: 'succeeded' },
  fail: { from: ['running'], to: 'failed' },
  cancel: { from: ['queued', 'running'], to: 'canceled' },
  hand_over: { from: ['queued', 'running'], to: 'queued' },
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
  /** The client's name for the photo (cleaned here: shared/file-name.ts); metadata only. */
  fileName?: string | undefined;
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
  const fileName = cleanFileName(opts.fileName);
  if (fileName) task.file_name = fileName;
  return task;
}

/** Thrown when a change is asked of a task whose status does not allow it. */
export class TransitionError extends Error {
  constructor(
    readonly transition: Transition,
    readonly status: TaskStatus,
  ) {
    super(`a ${status} task cannot ${transition.replace('_', ' ')}`);
  }
}

function check(task: Task, transition: Transition): void {
  if (!canTransition(task.status, transition)) throw new TransitionError(transition, task.status);
}

/**
 * Queue time to the first attempt's start (a retried task's wait is not counted twice), total to
 * now; never negative, even when two clocks (the API's and a worker host's) disagree a little.
 */
export function timingsAt(task: Task, now: Date, inferenceMs: number | null): Task['timings'] {
  const created = Date.parse(task.created_at);
  const started = task.started_at ? Date.parse(task.started_at) : now.getTime();
  return {
    queue_ms: Math.max(0, started - created),
    inference_ms: inferenceMs,
    total_ms: Math.max(0, now.getTime() - created),
  };
}

const tenths = (ms: number) => Math.round(ms * 10) / 10;

/** queued (or running: a retry) → running, taken by `model` when known. */
export function claimTask(task: Task, opts: { model?: ModelInfo; now?: Date } = {}): Task {
  check(task, 'claim');
  return {
    ...task,
    status: 'running',
    started_at: (opts.now ?? new Date()).toISOString(),
    ...(opts.model ? { model: opts.model } : {}),
  };
}

/** What a finished inference gives a task. */
export interface InferenceResult {
  detections: Detection[];
  inferenceMs: number;
  /** Tiles run besides the whole photo, and their mean ms (shared/detector/tiling.ts). */
  tiles?: number;
  tileMs?: number | null;
  /** The model that ran, when the claim did not say (the device learns its backend at the end). */
  model?: ModelInfo;
}

/** running → succeeded, with the detections and timings. */
export function succeedTask(task: Task, result: InferenceResult, now = new Date()): Task {
  check(task, 'succeed');
  return {
    ...task,
    status: 'succeeded',
    finished_at: now.toISOString(),
    ...(result.model ? { model: result.model } : {}),
    detections: result.detections,
    timings: {
      ...timingsAt(task, now, tenths(result.inferenceMs)),
      tiles: result.tiles ?? 0,
      tile_ms: result.tileMs == null ? null : tenths(result.tileMs),
    },
    error: null,
  };
}

/** running → failed, with the error. A queued task that cannot even start fails through its claim. */
export function failTask(task: Task, error: ErrorInfo, now = new Date()): Task {
  const running = task.status === 'queued' ? claimTask(task, { now }) : task;
  check(running, 'fail');
  return {
    ...running,
    status: 'failed',
    finished_at: now.toISOString(),
    timings: timingsAt(running, now, running.timings.inference_ms),
    error,
  };
}

/** queued or running → canceled. */
export function cancelTask(task: Task, now = new Date()): Task {
  check(task, 'cancel');
  return { ...task, status: 'canceled', finished_at: now.toISOString(), error: null };
}

/**
 * The same task, moved to the other side (the device could not run it; the server refused it or
 * cannot be reached): queued there, its route saying where it goes now and why.
 */
export function handOverTask(task: Task, to: TaskSource, reason: string): Task {
  check(task, 'hand_over');
  return {
    ...task,
    status: 'queued',
    source: to,
    started_at: null,
    route: rerouted(task.route, to, reason),
  };
}

/** A route decision changed after the fact: where the task goes now and why (estimates kept). */
export function rerouted(route: RouteDecision | undefined, chosen: TaskSource, reason: string): RouteDecision {
  return { device_estimate_ms: null, server_estimate_ms: null, ...route, chosen, reason };
}
