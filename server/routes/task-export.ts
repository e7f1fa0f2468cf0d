/** GET /tasks/export: any list of the user's tasks as JSON, COCO or CSV (a batch has its own: /batches/{id}/results). */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { ExportFormatSchema } from '../../shared/contract.ts';
import { requireUser } from '../auth/middleware.ts';
import type { SessionStore } from '../auth/sessions.ts';
import { exportResponse } from '../http/export-response.ts';
import type { AppEnv, ValidationHook } from '../http/types.ts';
import { ownTask, UUID } from '../tasks/own-task.ts';
import type { TaskStore } from '../tasks/task-store.ts';
import { errors, scoped } from './openapi-common.ts';

/** Task ids one export may name (about 19 KB of query string). */
export const MAX_EXPORT_IDS = 500;

const exportTasks = createRoute({
  method: 'get',
  path: '/tasks/export',
  tags: ['tasks'],
  summary: 'Some of my tasks as JSON, COCO or CSV',
  description:
    '`ids`: task ids, comma-separated (at most 500), in the order wanted. Every one must be yours, else 404 `task_not_found`. Formats as for `/batches/{id}/results`.',
  security: scoped('tasks:read'),
  request: {
    query: z.object({
      format: ExportFormatSchema.default('json'),
      ids: z
        .string()
        .transform((v) => v.split(',').filter(Boolean))
        .pipe(
          z
            .array(z.string().regex(UUID, 'must be task ids (lowercase UUIDs), comma-separated'))
            .min(1)
            .max(MAX_EXPORT_IDS),
        ),
    }),
  },
  responses: {
    200: {
      description: 'The tasks, as a download',
      content: {
        'application/json': { schema: z.any().meta({ type: 'object' }) },
        'text/csv': { schema: z.any().meta({ type: 'string' }) },
      },
    },
    ...errors(400, 401, 404),
  },
});

export function taskExportRoutes(deps: { store: TaskStore; sessions: SessionStore; validationHook: ValidationHook }) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: deps.validationHook });
  app.use('/tasks/export', requireUser(deps.sessions));
  app.openapi(exportTasks, async (c) => {
    const { format, ids } = c.req.valid('query');
    const userId = c.get('user').id;
    const stored = await Promise.all([...new Set(ids)].map((id) => ownTask(deps.store, id, userId)));
    return exportResponse(
      stored.map((s) => s.task),
      format,
      'tasks',
    ) as never;
  });
  return app;
}
