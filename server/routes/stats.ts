/** GET /api/v1/stats: queue depth, workers alive, recent mean inference time, and an estimated wait. */
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { type Stats, StatsSchema } from '../../shared/contract.ts';
import { requireUser } from '../auth/middleware.ts';
import type { SessionStore } from '../auth/sessions.ts';
import type { AppEnv } from '../http/types.ts';
import { aliveWorkers, meanInferenceMs } from '../metrics/workers.ts';
import type { DetectQueue } from '../queue/detect-queue.ts';
import type { Keys, RedisClient } from '../redis.ts';
import { bearer, errors } from './openapi-common.ts';

const stats = createRoute({
  method: 'get',
  path: '/stats',
  tags: ['health'],
  summary: 'How busy the server queue is, and a rough wait for a new task',
  security: bearer,
  responses: {
    200: { description: 'Queue and worker statistics', content: { 'application/json': { schema: StatsSchema } } },
    ...errors(401),
  },
});

export function statsRoutes(deps: {
  redis: RedisClient;
  keys: Keys;
  queue: DetectQueue;
  sessions: SessionStore;
  heartbeatMs: number;
}) {
  const app = new OpenAPIHono<AppEnv>();
  app.use('/stats', requireUser(deps.sessions));
  app.openapi(stats, async (c) => {
    const [counts, workers, inference] = await Promise.all([
      deps.queue.queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed'),
      aliveWorkers(deps.redis, deps.keys, deps.heartbeatMs),
      meanInferenceMs(deps.redis, deps.keys),
    ]);
    const queue = {
      waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
    };
    const depth = queue.waiting + queue.active + queue.delayed;
    const mean = inference.mean === null ? null : Math.round(inference.mean * 10) / 10;
    const body: Stats = {
      queue,
      workers: workers.length,
      mean_inference_ms: mean,
      estimated_wait_ms: mean === null || workers.length === 0 ? null : Math.round((depth * mean) / workers.length),
    };
    return c.json(body, 200);
  });
  return app;
}
