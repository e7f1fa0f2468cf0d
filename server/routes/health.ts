/** GET /healthz: the process is up. GET /readyz: Redis answers and a worker with a model was seen recently. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { TwinlensError } from '../../shared/errors.ts';
import type { RedisClient } from '../redis.ts';
import type { StorageHealth } from '../storage/blob-store.ts';
import type { WorkerRegistry } from '../workers/worker-registry.ts';
import { errors } from './openapi-common.ts';

const ReadySchema = z
  .object({
    status: z.literal('ready'),
    workers: z.number().int().meta({ description: 'Workers with a loaded model seen in the last few heartbeats' }),
    backends: z.array(z.string()),
  })
  .meta({ id: 'Readiness' });

const healthz = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['health'],
  summary: 'Liveness: the API process is up',
  responses: {
    200: { description: 'Up', content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } } },
  },
});

const readyz = createRoute({
  method: 'get',
  path: '/readyz',
  tags: ['health'],
  summary: 'Readiness: Redis answers, at least one worker with a loaded model is alive, and storage takes writes',
  description:
    'Otherwise 503 with the first reason: `not_ready` (Redis), `storage_full` (less than STORAGE_MIN_FREE_BYTES free), `storage_failed` (the storage does not answer) or `not_ready` (no worker).',
  responses: {
    200: { description: 'Ready', content: { 'application/json': { schema: ReadySchema } } },
    ...errors(503),
  },
});

export function healthRoutes(deps: {
  redis: RedisClient;
  workers: WorkerRegistry;
  storage: { health(): Promise<StorageHealth> };
}) {
  const app = new OpenAPIHono();
  app.openapi(healthz, (c) => c.json({ status: 'ok' as const }, 200));
  app.openapi(readyz, async (c) => {
    try {
      await withTimeout(deps.redis.ping(), 1000);
    } catch {
      throw new TwinlensError('not_ready', 'Redis does not answer');
    }
    const storage = await deps.storage.health();
    // Named (storage_full, storage_failed), but a readiness answer is 503 whatever the cause.
    if (!storage.ok) throw new TwinlensError(storage.code, storage.message, { status: 503 });
    const seen = await deps.workers.alive();
    if (seen.length === 0) throw new TwinlensError('not_ready', 'no worker with a loaded model has been seen recently');
    const backends = [...new Set(seen.map((w) => w.model.backend))];
    return c.json({ status: 'ready' as const, workers: seen.length, backends }, 200);
  });
  return app;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms))]);
}
