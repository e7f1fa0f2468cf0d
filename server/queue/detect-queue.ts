/** The detection queue: its name, job payload and the producer side (BullMQ Queue). */
import { Queue } from 'bullmq';
import type { DetectParams } from '../../shared/contract.ts';
import type { RedisClient } from '../redis.ts';

export const DETECT_QUEUE = 'detect';

export interface DetectJobData {
  taskId: string;
  ownerId: string;
  uploadKey: string;
  params: DetectParams;
}

export interface QueueOptions {
  prefix: string;
  attempts: number;
  backoffMs: number;
}

export class DetectQueue {
  readonly queue: Queue<DetectJobData>;

  constructor(
    connection: RedisClient,
    private readonly opts: QueueOptions,
  ) {
    this.queue = new Queue<DetectJobData>(DETECT_QUEUE, { connection, prefix: opts.prefix });
  }

  /** job id = task id: enqueuing the same task twice is a no-op in BullMQ. */
  async enqueue(data: DetectJobData): Promise<void> {
    await this.queue.add('detect', data, {
      jobId: data.taskId,
      attempts: this.opts.attempts,
      backoff: { type: 'exponential', delay: this.opts.backoffMs },
      // Task records live in our own keys; BullMQ's copies are only for the queue's bookkeeping.
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 24 * 3600, count: 10_000 },
    });
  }

  /** Removes a job that no worker holds. Returns false when it is running (locked) or gone. */
  async removeIfWaiting(taskId: string): Promise<boolean> {
    const job = await this.queue.getJob(taskId);
    if (!job) return false;
    try {
      await job.remove();
      return true;
    } catch {
      return false; // locked by a worker
    }
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
