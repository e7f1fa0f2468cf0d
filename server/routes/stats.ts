/** GET /api/v1/stats: queue depth, workers alive, recent mean inference time, and an estimated wait. */
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { type Stats, StatsSchema } from '../../shared/contract.ts';
import { requireUser } from '../auth/middleware.ts';
import type { SessionStore } from '../auth/sessions.ts';
import type { AppEnv } from '../http/types.ts';
import type { ModelCatalog } from '../models/catalog.ts';
import type { DetectQueue } from '../queue/detect-queue.ts';
import { estimateMs, queueFigures } from '../queue/estimate.ts';
import { modelFigures } from '../queue/model-figures.ts';
import type { TaskService } from '../tasks/task-service.ts';
import type { WorkerRegistry } from '../workers/worker-registry.ts';
import { errors, scoped } from './openapi-common.ts';

const stats = createRoute({
  method: 'get',
  path: '/stats',
  tags: ['health'],
  summary: 'How busy the server queue is, and a rough wait for a new task',
  security: scoped('tasks:read'),
  responses: {
    200: { description: 'Queue and worker statistics', content: { 'application/json': { schema: StatsSchema } } },
    ...errors(401),
  },
});

export function statsRoutes(deps: {
  queue: DetectQueue;
  workers: WorkerRegistry;
  tasks: TaskService;
  models: ModelCatalog;
  sessions: SessionStore;
}) {
  const app = new OpenAPIHono<AppEnv>();
  app.use('/stats', requireUser(deps.sessions));
  app.openapi(stats, async (c) => {
    const [figures, models] = await Promise.all([queueFigures(deps), modelFigures(deps)]);
    const { counts } = figures;
    const queue = { waiting: counts.waiting, active: counts.active, delayed: counts.delayed };
    const body: Stats = {
      queue,
      workers: figures.workers,
      mean_inference_ms: figures.meanInferenceMs,
      estimated_wait_ms: estimateMs(queue.waiting + queue.active + queue.delayed, figures),
      models,
    };
    return c.json(body, 200);
  });
  return app;
}
