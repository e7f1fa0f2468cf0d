/**
 * The detection queues (BullMQ) as the rest of the server sees them: one queue per model, so that a
 * worker takes only jobs for the models it serves and a job for a model no live worker serves waits
 * in its queue until one starts. Their names, the job payload, adding and removing jobs, and their
 * counts — read here, the same way, by /stats, admission and the metrics.
 */
import { Queue } from 'bullmq';
import type { DetectParams, Task } from '../../shared/contract.ts';
import { DEFAULT_MODEL_ID } from '../../shared/models/builtin.ts';
import type { RedisClient } from '../redis.ts';

/** The default model's queue keeps the name the only queue had, so jobs queued before an upgrade still run. */
export const DETECT_QUEUE = 'detect';

/** A model's queue: `detect` for centernet (as before models could be chosen), `detect-<id>` for the others. */
export function queueName(model: string): string {
  return model === DEFAULT_MODEL_ID ? DETECT_QUEUE : `${DETECT_QUEUE}-${model}`;
}

export interface DetectJobData {
  taskId: string;
  ownerId: string;
  uploadKey: string;
  params: DetectParams;
  /** The task as it was created: a worker claims it without reading the record first. (Jobs from
   * before this field was added lack it; the worker reads the record then.) */
  task?: Task;
}

export interface QueueOptions {
  prefix: string;
  attempts: number;
  backoffMs: number;
}

/**
 * Album (batch) jobs are prioritized; single uploads are not. Jobs without a priority sit in the
 * wait list, which a worker always empties before it takes a prioritized job (BullMQ's
 * moveToActive), so a photo uploaded alone never waits behind an album, however long.
 *
 * Among albums, a fair share per user: an album job's priority is 1 + its place in its owner's
 * album backlog when it is queued (lower runs first, FIFO within a priority). A user with 1000
 * photos waiting gets priorities up to 1000; another user's album, queued later, starts at 1 and
 * runs alongside instead of after them (the users' backlogs are served toward equal).
 */
export const BATCH_PRIORITY = 1;
/** BullMQ's largest priority is 2^21; places beyond this share the last one (FIFO among them). */
const MAX_BATCH_PRIORITY = 2_000_000;

export interface EnqueueOptions {
  /** For an album job: how many of its owner's album jobs are waiting before it. */
  albumBacklog?: number;
}

/** Jobs by state. `waiting` includes prioritized jobs (they wait too, in another list). */
export interface QueueCounts {
  waiting: number;
  /** Of `waiting`, the album jobs (prioritized, behind every single upload). */
  batchWaiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
}

const EMPTY: QueueCounts = { waiting: 0, batchWaiting: 0, active: 0, delayed: 0, completed: 0, failed: 0 };

/**
 * The work the workers have before them, for scaling on it (KEDA reads it from GET
 * /metrics/backlog): jobs waiting in the wait lists *and* in the prioritized sets (album jobs: a
 * trigger that reads only `…:wait`'s length sees none of them), delayed retries, and the jobs
 * running now (scaling to zero while one runs would stop it). Every model's queue together.
 */
export interface Backlog {
  backlog: number;
  waiting: number;
  prioritized: number;
  delayed: number;
  active: number;
}

export function backlogOf(c: QueueCounts): Backlog {
  const waiting = c.waiting - c.batchWaiting;
  return {
    backlog: c.waiting + c.delayed + c.active,
    waiting,
    prioritized: c.batchWaiting,
    delayed: c.delayed,
    active: c.active,
  };
}

export type JobState = { state: 'alive' | 'completed' | 'absent' } | { state: 'failed'; reason: string };

/** A job's model (jobs queued before models could be chosen ran the default). */
export function modelOf(data: Pick<DetectJobData, 'params'>): string {
  return data.params.model ?? DEFAULT_MODEL_ID;
}

export class DetectQueue {
  private readonly byModel = new Map<string, Queue<DetectJobData>>();
  private cached: { at: number; counts: Promise<Map<string, QueueCounts>> } | undefined;

  /** `models`: the model ids whose queues are counted (the catalog's; a model's queue is made on first use). */
  constructor(
    private readonly connection: RedisClient,
    private readonly opts: QueueOptions,
    private readonly models: () => Promise<string[]> = async () => [DEFAULT_MODEL_ID],
  ) {}

  /** The queue of one model. */
  queueFor(model: string): Queue<DetectJobData> {
    let q = this.byModel.get(model);
    if (!q) {
      q = new Queue<DetectJobData>(queueName(model), { connection: this.connection, prefix: this.opts.prefix });
      // Its connection's errors are logged where it was made (connectRedis); without a listener BullMQ
      // prints each one to stderr, several a second while Redis is away.
      q.on('error', () => {});
      this.byModel.set(model, q);
    }
    return q;
  }

  /** Every model's queue known now (for the queue dashboard). */
  async queues(): Promise<Queue<DetectJobData>[]> {
    for (const m of await this.models()) this.queueFor(m);
    return [...this.byModel.values()];
  }

  /**
   * job id = task id: enqueuing the same task twice is a no-op in BullMQ. A task of a batch goes
   * behind single uploads, and behind its owner's backlog of album jobs (BATCH_PRIORITY).
   */
  async enqueue(data: DetectJobData, opts: EnqueueOptions = {}): Promise<void> {
    const batch = data.task?.batch_id !== undefined;
    const priority = Math.min(MAX_BATCH_PRIORITY, BATCH_PRIORITY + Math.max(0, opts.albumBacklog ?? 0));
    const model = modelOf(data);
    await this.queueFor(model).add('detect', data, {
      jobId: data.taskId,
      ...(batch ? { priority } : {}),
      attempts: this.opts.attempts,
      backoff: { type: 'exponential', delay: this.opts.backoffMs },
      // Task records live in our own keys; BullMQ's copies are only for the queue's bookkeeping.
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 24 * 3600, count: 10_000 },
    });
    // Counts this process read a moment ago stay right about its own uploads.
    const cached = this.cached;
    if (cached) {
      cached.counts = cached.counts.then((byModel) => {
        const c = byModel.get(model) ?? EMPTY;
        return new Map(byModel).set(model, {
          ...c,
          waiting: c.waiting + 1,
          batchWaiting: c.batchWaiting + (batch ? 1 : 0),
        });
      });
    }
  }

  /** Removes a job that no worker holds. Returns false when it is running (locked) or gone. */
  async removeIfWaiting(taskId: string, model: string): Promise<boolean> {
    try {
      return (await this.queueFor(model).remove(taskId)) === 1;
    } catch {
      return false; // locked by a worker
    }
  }

  /** Removes a job whatever its state but running (a finished one too): for a task queued again. */
  async removeJob(taskId: string, model: string): Promise<void> {
    await this.queueFor(model)
      .remove(taskId)
      .catch(() => 0);
  }

  /**
   * Where each task's job is, read from the jobs themselves (one pipelined HMGET per task and model
   * queue: a job is in its model's queue, and the reconciler has only the task ids): `alive` (waiting,
   * prioritized, delayed or running), `completed`, `failed` (with BullMQ's reason), or `absent`. For the
   * reconciler, which looks for tasks whose job is gone or ended without them.
   */
  async jobStates(taskIds: string[]): Promise<JobState[]> {
    if (taskIds.length === 0) return [];
    const queues = await this.queues();
    const pipeline = this.connection.pipeline();
    for (const id of taskIds) {
      for (const q of queues) pipeline.hmget(q.toKey(id), 'timestamp', 'finishedOn', 'failedReason');
    }
    const replies = (await pipeline.exec()) ?? [];
    return taskIds.map((_, i): JobState => {
      for (const [err, fields] of replies.slice(i * queues.length, (i + 1) * queues.length)) {
        if (err) throw err;
        const [timestamp = null, finishedOn = null, failedReason = null] = fields as (string | null)[];
        if (timestamp === null) continue;
        if (finishedOn === null) return { state: 'alive' };
        return failedReason !== null ? { state: 'failed', reason: failedReason } : { state: 'completed' };
      }
      return { state: 'absent' };
    });
  }

  /** Where jobs for these models wait for a worker (wait lists and prioritized sets), for raw commands on any connection. */
  static waitingKeys(prefix: string, models: string[]): { wait: string; prioritized: string }[] {
    return models.map((m) => ({
      wait: `${prefix}:${queueName(m)}:wait`,
      prioritized: `${prefix}:${queueName(m)}:prioritized`,
    }));
  }

  /**
   * Jobs by state. `maxAgeMs` > 0 accepts counts read that recently (one read shared by all
   * requests meanwhile): admission runs on every upload, and a depth a moment old is as good.
   */
  async counts(maxAgeMs = 0): Promise<QueueCounts> {
    let total = EMPTY;
    for (const c of (await this.countsByModel(maxAgeMs)).values()) {
      total = {
        waiting: total.waiting + c.waiting,
        batchWaiting: total.batchWaiting + c.batchWaiting,
        active: total.active + c.active,
        delayed: total.delayed + c.delayed,
        completed: total.completed + c.completed,
        failed: total.failed + c.failed,
      };
    }
    return total;
  }

  /** Jobs by state, per model (every model the catalog knows, and any queue used by this process). */
  countsByModel(maxAgeMs = 0): Promise<Map<string, QueueCounts>> {
    const now = Date.now();
    if (maxAgeMs > 0 && this.cached && now - this.cached.at <= maxAgeMs) return this.cached.counts;
    const counts = this.queues().then(async (queues) => {
      const read = await Promise.all(
        queues.map((q) => q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed')),
      );
      const byModel = new Map<string, QueueCounts>();
      [...this.byModel.keys()].forEach((model, i) => {
        const c = read[i] ?? {};
        byModel.set(model, {
          waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
          batchWaiting: c.prioritized ?? 0,
          active: c.active ?? 0,
          delayed: c.delayed ?? 0,
          completed: c.completed ?? 0,
          failed: c.failed ?? 0,
        });
      });
      return byModel;
    });
    this.cached = { at: now, counts };
    // A failed read is not kept for others.
    counts.catch(() => {
      if (this.cached?.counts === counts) this.cached = undefined;
    });
    return counts;
  }

  async close(): Promise<void> {
    await Promise.all([...this.byModel.values()].map((q) => q.close()));
  }
}
