/**
 * The detection queue (BullMQ) as the rest of the server sees it: its name, the job payload,
 * adding and removing jobs, and its counts — read here, the same way, by /stats, admission and
 * the metrics.
 */
import { Queue } from 'bullmq';
import type { DetectParams, Task } from '../../shared/contract.ts';
import type { RedisClient } from '../redis.ts';

export const DETECT_QUEUE = 'detect';

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

/**
 * The work the workers have before them, for scaling on it (KEDA reads it from GET
 * /metrics/backlog): jobs waiting in the wait list *and* in the prioritized set (album jobs: a
 * trigger that reads only `…:wait`'s length sees none of them), delayed retries, and the jobs
 * running now (scaling to zero while one runs would stop it).
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

export class DetectQueue {
  readonly queue: Queue<DetectJobData>;
  private cached: { at: number; counts: Promise<QueueCounts> } | undefined;

  constructor(
    private readonly connection: RedisClient,
    private readonly opts: QueueOptions,
  ) {
    this.queue = new Queue<DetectJobData>(DETECT_QUEUE, { connection, prefix: opts.prefix });
    // Its connection's errors are logged where it was made (connectRedis); without a listener BullMQ
    // prints each one to stderr, several a second while Redis is away.
    this.queue.on('error', () => {});
  }

  /**
   * job id = task id: enqueuing the same task twice is a no-op in BullMQ. A task of a batch goes
   * behind single uploads, and behind its owner's backlog of album jobs (BATCH_PRIORITY).
   */
  async enqueue(data: DetectJobData, opts: EnqueueOptions = {}): Promise<void> {
    const batch = data.task?.batch_id !== undefined;
    const priority = Math.min(MAX_BATCH_PRIORITY, BATCH_PRIORITY + Math.max(0, opts.albumBacklog ?? 0));
    await this.queue.add('detect', data, {
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
      cached.counts = cached.counts.then((c) => ({
        ...c,
        waiting: c.waiting + 1,
        batchWaiting: c.batchWaiting + (batch ? 1 : 0),
      }));
    }
  }

  /** Removes a job that no worker holds. Returns false when it is running (locked) or gone. */
  async removeIfWaiting(taskId: string): Promise<boolean> {
    try {
      return (await this.queue.remove(taskId)) === 1;
    } catch {
      return false; // locked by a worker
    }
  }

  /** Removes a job whatever its state but running (a finished one too): for a task queued again. */
  async removeJob(taskId: string): Promise<void> {
    await this.queue.remove(taskId).catch(() => 0);
  }

  /**
   * Where each task's job is, read from the jobs themselves (one pipelined HMGET each): `alive`
   * (waiting, prioritized, delayed or running), `completed`, `failed` (with BullMQ's reason), or
   * `absent`. For the reconciler, which looks for tasks whose job is gone or ended without them.
   */
  async jobStates(taskIds: string[]): Promise<JobState[]> {
    if (taskIds.length === 0) return [];
    const pipeline = this.connection.pipeline();
    for (const id of taskIds) pipeline.hmget(this.queue.toKey(id), 'timestamp', 'finishedOn', 'failedReason');
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, fields]): JobState => {
      if (err) throw err;
      const [timestamp = null, finishedOn = null, failedReason = null] = fields as (string | null)[];
      if (timestamp === null) return { state: 'absent' };
      if (finishedOn === null) return { state: 'alive' };
      return failedReason !== null ? { state: 'failed', reason: failedReason } : { state: 'completed' };
    });
  }

  /** Jobs waiting for a worker (the wait list and the prioritized set), read by raw commands on any connection. */
  static waitingKeys(prefix: string): { wait: string; prioritized: string } {
    return { wait: `${prefix}:${DETECT_QUEUE}:wait`, prioritized: `${prefix}:${DETECT_QUEUE}:prioritized` };
  }

  /**
   * Jobs by state. `maxAgeMs` > 0 accepts counts read that recently (one read shared by all
   * requests meanwhile): admission runs on every upload, and a depth a moment old is as good.
   */
  counts(maxAgeMs = 0): Promise<QueueCounts> {
    const now = Date.now();
    if (maxAgeMs > 0 && this.cached && now - this.cached.at <= maxAgeMs) return this.cached.counts;
    const counts = this.queue
      .getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed')
      .then((c) => ({
        waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
        batchWaiting: c.prioritized ?? 0,
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        completed: c.completed ?? 0,
        failed: c.failed ?? 0,
      }));
    this.cached = { at: now, counts };
    // A failed read is not kept for others.
    counts.catch(() => {
      if (this.cached?.counts === counts) this.cached = undefined;
    });
    return counts;
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
