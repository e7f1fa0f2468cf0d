/**
 * Which workers are alive: each writes a heartbeat (its id and model) into a sorted set scored by
 * time; a worker is alive while its last beat is within three intervals. Written by the worker
 * process, read the same way by /readyz, /api/v1/stats, admission (Retry-After) and the metrics.
 */
import type { ModelInfo } from '../../shared/contract.ts';
import type { Keys, RedisClient } from '../redis.ts';

export interface Heartbeat {
  id: string;
  model: ModelInfo;
  /** The models whose queues it takes jobs from (absent: a worker from before models could be chosen, the default only). */
  models?: string[];
}

/** Beats older than this many intervals are dropped from the set altogether. */
const FORGET_AFTER_BEATS = 10;
/** A worker is alive while its last beat is at most this many intervals old. */
const ALIVE_BEATS = 3;

export class WorkerRegistry {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    readonly heartbeatMs: number,
  ) {}

  async beat(worker: Heartbeat, now = Date.now()): Promise<void> {
    await this.redis
      .multi()
      .zadd(this.keys.workersSeen, now, JSON.stringify(worker))
      .zremrangebyscore(this.keys.workersSeen, '-inf', now - FORGET_AFTER_BEATS * this.heartbeatMs)
      .exec();
  }

  async leave(worker: Heartbeat): Promise<void> {
    await this.redis.zrem(this.keys.workersSeen, JSON.stringify(worker));
  }

  async alive(now = Date.now()): Promise<Heartbeat[]> {
    const seen = await this.redis.zrangebyscore(this.keys.workersSeen, now - ALIVE_BEATS * this.heartbeatMs, '+inf');
    return seen.map((s) => JSON.parse(s) as Heartbeat);
  }
}
