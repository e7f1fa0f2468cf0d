/** Workers alive, from the heartbeats they write into a sorted set (see server/queue/worker-process.ts). */
import type { ModelInfo } from '../../shared/contract.ts';
import type { Keys, RedisClient } from '../redis.ts';

export interface Heartbeat {
  id: string;
  model: ModelInfo;
}

/** Those seen in the last three heartbeat intervals. */
export async function aliveWorkers(redis: RedisClient, keys: Keys, heartbeatMs: number): Promise<Heartbeat[]> {
  const seen = await redis.zrangebyscore(keys.workersSeen, Date.now() - 3 * heartbeatMs, '+inf');
  return seen.map((s) => JSON.parse(s) as Heartbeat);
}

/** Recent inference times (ms), newest first, capped: workers push, /api/v1/stats averages. */
export const INFERENCE_SAMPLES = 100;

export async function meanInferenceMs(
  redis: RedisClient,
  keys: Keys,
): Promise<{ mean: number | null; samples: number }> {
  const values = (await redis.lrange(keys.inferenceSamples, 0, INFERENCE_SAMPLES - 1))
    .map(Number)
    .filter(Number.isFinite);
  if (values.length === 0) return { mean: null, samples: 0 };
  return { mean: values.reduce((a, b) => a + b, 0) / values.length, samples: values.length };
}
