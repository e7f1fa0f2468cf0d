/**
 * Backpressure for task creation, checked before the body is read (a refusal costs no upload):
 * a per-user rate limit counted in Redis (so it holds across API processes), then the queue's
 * depth. Both refusals say when to try again in `Retry-After`.
 */
import type { MiddlewareHandler } from 'hono';
import type { DetectQueue, QueueCounts } from '../queue/detect-queue.ts';
import type { Keys, RedisClient } from '../redis.ts';
import type { WorkerRegistry } from '../workers/worker-registry.ts';
import { sendError } from './errors.ts';
import type { AppEnv } from './types.ts';

export interface AdmissionOptions {
  redis: RedisClient;
  keys: Keys;
  queue: DetectQueue;
  workers: WorkerRegistry;
  maxQueueDepth: number;
  /**
   * Which jobs count toward maxQueueDepth. Default: the interactive ones (waiting + delayed, less
   * the album jobs waiting behind them), so a big album never makes single uploads queue_full.
   */
  depthOf?: (counts: QueueCounts) => number;
  /** 0 = no limit. */
  ratePerMinute: number;
  /** Rough seconds one job takes a worker, for the queue_full Retry-After estimate. */
  secondsPerJob?: number;
}

export function admission(opts: AdmissionOptions): MiddlewareHandler<AppEnv> {
  const secondsPerJob = opts.secondsPerJob ?? 0.5;
  const depthOf = opts.depthOf ?? interactiveDepth;
  return async (c, next) => {
    if (c.req.method !== 'POST') return next();
    const user = c.get('user');
    if (opts.ratePerMinute > 0) {
      // Fixed one-minute windows: INCR, and the key expires with its window.
      const now = Date.now();
      const window = Math.floor(now / 60_000);
      const key = opts.keys.rateLimit(user.id, window);
      const res = await opts.redis.multi().incr(key).expire(key, 61).exec();
      const count = Number(res?.[0]?.[1] ?? 0);
      if (count > opts.ratePerMinute) {
        const retryAfter = Math.max(1, Math.ceil(((window + 1) * 60_000 - now) / 1000));
        await discardBody(c.req.raw);
        return sendError(
          c,
          'rate_limited',
          `more than ${opts.ratePerMinute} tasks in a minute; try again in ${retryAfter} s`,
          { 'Retry-After': String(retryAfter) },
        );
      }
    }
    // A depth up to a quarter of a second old is as good for this, and shared by concurrent uploads.
    const counts = await opts.queue.counts(250);
    const depth = depthOf(counts);
    if (depth >= opts.maxQueueDepth) {
      // Estimate: the time the live workers need to bring the queue back under the limit.
      const workers = Math.max(1, (await opts.workers.alive()).length);
      const excess = depth - opts.maxQueueDepth + 1;
      const retryAfter = Math.min(300, Math.max(1, Math.ceil((excess * secondsPerJob) / workers)));
      await discardBody(c.req.raw);
      return sendError(c, 'queue_full', `the queue is full (${depth} tasks waiting); try again in ${retryAfter} s`, {
        'Retry-After': String(retryAfter),
      });
    }
    return next();
  };
}

/** Single uploads waiting (or delayed for a retry); album jobs wait behind them and are not counted. */
export function interactiveDepth(counts: QueueCounts): number {
  return counts.waiting - counts.batchWaiting + counts.delayed;
}

/**
 * Reads the rest of the body and drops it, chunk by chunk, without keeping it. Answering while
 * the client is still sending made fetch (undici) fail with "other side closed" instead of
 * reading our 429/503 (found by faults-backpressure.test.ts); draining keeps the refusal cheap
 * (no parsing, decoding, hashing or storage) and the answer readable. The upload limit still
 * applies: uploadLimit runs before this.
 */
async function discardBody(req: Request): Promise<void> {
  const reader = req.body?.getReader();
  if (!reader) return;
  try {
    for (;;) {
      const { done } = await reader.read();
      if (done) return;
    }
  } catch {
    // a body over the limit or a client gone: nothing to read anyway
  }
}
