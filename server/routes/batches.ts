/**
 * Album jobs (batches): many photos in one request, more added later, progress, cancel, delete,
 * and the results as JSON, COCO or CSV. Thin: the rules are the batch service's (server/batches/)
 * and, for each photo's task, the task service's.
 */
import { randomUUID } from 'node:crypto';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import {
  BatchDetailSchema,
  BatchListSchema,
  BatchSchema,
  BatchUploadSchema,
  BatchWebhookSchema,
  DEFAULT_MAX_DETECTIONS,
  DEFAULT_MIN_SCORE,
  ExportFormatSchema,
  WebhookDeliveryListSchema,
} from '../../shared/contract.ts';
import { TwinlensError } from '../../shared/errors.ts';
import { requireUser } from '../auth/middleware.ts';
import type { SessionStore } from '../auth/sessions.ts';
import type { BatchService, Photo } from '../batches/batch-service.ts';
import { exportResponse } from '../http/export-response.ts';
import { formFields, type Part, readForm } from '../http/multipart.ts';
import type { AppEnv, ValidationHook } from '../http/types.ts';
import type { ModelCatalog } from '../models/catalog.ts';
import type { DetectQueue } from '../queue/detect-queue.ts';
import { queueFigures } from '../queue/estimate.ts';
import type { TaskService } from '../tasks/task-service.ts';
import { parseParams } from '../tasks/upload.ts';
import type { WebhookService } from '../webhooks/webhook-service.ts';
import type { WorkerRegistry } from '../workers/worker-registry.ts';
import { errorContent, errors, scoped } from './openapi-common.ts';

export interface BatchDeps {
  batches: BatchService;
  tasks: TaskService;
  queue: DetectQueue;
  workers: WorkerRegistry;
  sessions: SessionStore;
  /** `callback_url`: checked here; the batch's summary is POSTed there when its last photo ends. */
  webhooks: WebhookService;
  /** `model`: checked against the models this deployment serves. */
  models: ModelCatalog;
  /** Backpressure (rate limit per request, the album queue's depth), run before the body is read. */
  admission?: MiddlewareHandler<AppEnv>;
  /** `image` parts one request may carry. */
  maxImagesPerRequest: number;
  validationHook: ValidationHook;
}

const IdParam = z.object({ id: z.string().meta({ param: { name: 'id', in: 'path' }, example: randomUUID() }) });
const Page = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z
    .string()
    .regex(/^\d{1,9}$/, 'not a cursor: pass the next_cursor of a previous page')
    .optional(),
});

const photoProperties = {
  image: {
    type: 'array' as const,
    items: { type: 'string' as const, format: 'binary' },
    description:
      'The photos: one `image` part each (JPEG, PNG or WebP). Each is checked on its own: one that fails is listed in `rejected` with its code, the others become tasks, each keeping its file name as `file_name` (cleaned; never used as a path).',
  },
};
const BatchForm = {
  type: 'object' as const,
  required: ['image'],
  properties: {
    ...photoProperties,
    min_score: { type: 'number' as const, minimum: 0, maximum: 1, default: DEFAULT_MIN_SCORE },
    max_detections: { type: 'integer' as const, minimum: 1, maximum: 100, default: DEFAULT_MAX_DETECTIONS },
    tiling: {
      type: 'string' as const,
      default: 'auto',
      description:
        'Large photos are also run in overlapping tiles, so small objects are found: `auto` (photos 1600 px or more on the long side), `off`, or a grid such as `3x2`; at most 12 tiles. `timings.tiles` says how many ran.',
    },
    model: {
      type: 'string' as const,
      description:
        'The model to run on every photo (GET /models lists them); the server’s default when not given. An id it does not serve: 400 `unknown_model`. Without `min_score`, the model’s own default score applies.',
    },
    callback_url: {
      type: 'string' as const,
      format: 'uri',
      description:
        'Optional: where to POST the batch summary when the album ends, however it ends (`batch.completed`: its last photo final, or every photo refused; `batch.canceled`: canceled with photos left), signed like task webhooks; without it, the user’s default callback URL, if any. Attempts: GET /batches/{id}/deliveries.',
    },
  },
};
const AddForm = { type: 'object' as const, required: ['image'], properties: photoProperties };

const accepted = {
  description:
    'Accepted: a task per good photo (queued behind single uploads), the refused ones with their codes. `Location` is the batch’s URL.',
  headers: z.object({ Location: z.string() }),
  content: { 'application/json': { schema: BatchUploadSchema } },
};
const busy = {
  429: {
    description: 'Too many requests from this user in the last minute (`rate_limited`, with `Retry-After`).',
    content: errorContent,
  },
  503: {
    description: 'The album queue is full (`queue_full`, with `Retry-After`) or the server is not ready.',
    content: errorContent,
  },
};

const create = createRoute({
  method: 'post',
  path: '/batches',
  tags: ['batches'],
  summary: 'Start an album job: many photos in one request, a task for each',
  security: scoped('tasks:write'),
  request: { body: { required: true, content: { 'multipart/form-data': { schema: BatchForm } } } },
  responses: { 202: accepted, ...errors(400, 401, 413), ...busy },
});

const addImages = createRoute({
  method: 'post',
  path: '/batches/{id}/images',
  tags: ['batches'],
  summary: 'Add photos to an open batch',
  security: scoped('tasks:write'),
  request: {
    params: IdParam,
    body: { required: true, content: { 'multipart/form-data': { schema: AddForm } } },
  },
  responses: {
    202: accepted,
    ...errors(400, 401, 404, 413),
    409: { description: 'The batch was canceled (`batch_closed`) or is full (`batch_full`)', content: errorContent },
    ...busy,
  },
});

const get = createRoute({
  method: 'get',
  path: '/batches/{id}',
  tags: ['batches'],
  summary: 'A batch: counts by status, progress, estimated time left, and a page of its tasks',
  security: scoped('tasks:read'),
  request: { params: IdParam, query: Page },
  responses: {
    200: { description: 'The batch', content: { 'application/json': { schema: BatchDetailSchema } } },
    ...errors(400, 401, 404),
  },
});

const list = createRoute({
  method: 'get',
  path: '/batches',
  tags: ['batches'],
  summary: 'My batches, newest first',
  security: scoped('tasks:read'),
  request: { query: Page },
  responses: {
    200: { description: 'A page of batches', content: { 'application/json': { schema: BatchListSchema } } },
    ...errors(400, 401),
  },
});

const cancel = createRoute({
  method: 'post',
  path: '/batches/{id}/cancel',
  tags: ['batches'],
  summary: 'Cancel a batch: no more photos, its queued and running tasks canceled; finished ones are kept',
  security: scoped('tasks:write'),
  request: { params: IdParam },
  responses: {
    200: { description: 'The batch, now `canceled`', content: { 'application/json': { schema: BatchSchema } } },
    ...errors(401, 404),
  },
});

const remove = createRoute({
  method: 'delete',
  path: '/batches/{id}',
  tags: ['batches'],
  summary: 'Delete a batch and all its tasks and files (running ones are canceled first)',
  security: scoped('tasks:write'),
  request: { params: IdParam },
  responses: { 204: { description: 'Deleted' }, ...errors(401, 404) },
});

const results = createRoute({
  method: 'get',
  path: '/batches/{id}/results',
  tags: ['batches'],
  summary: 'The batch’s results as JSON, COCO or CSV',
  description:
    '`json`: `{tasks}` with every task of the batch; `coco`: the succeeded tasks as a COCO dataset (bbox [x, y, width, height] in pixels, COCO’s category ids, `score`); `csv`: one row per detection.',
  security: scoped('tasks:read'),
  request: { params: IdParam, query: z.object({ format: ExportFormatSchema.default('json') }) },
  responses: {
    200: {
      description: 'The results, as a download',
      content: {
        'application/json': { schema: z.any().meta({ type: 'object' }) },
        'text/csv': { schema: z.any().meta({ type: 'string' }) },
      },
    },
    ...errors(400, 401, 404),
  },
});

const deliveries = createRoute({
  method: 'get',
  path: '/batches/{id}/deliveries',
  tags: ['batches', 'webhooks'],
  summary: 'The attempts to deliver this album’s webhooks (its final events), oldest first',
  description:
    'Every album gets a final event however it ends (`batch.completed`, `batch.canceled`; a `BatchWebhook`), sent to its `callback_url` or else the owner’s default; each attempt is logged here with the receiver’s status or why none came (`refused`, `timeout`, `network`). `state` is that of the latest event.',
  security: scoped('tasks:read'),
  request: { params: IdParam },
  responses: {
    200: { description: 'The attempts', content: { 'application/json': { schema: WebhookDeliveryListSchema } } },
    ...errors(401, 404),
  },
});

export function batchRoutes(deps: BatchDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: deps.validationHook });
  // What receivers of an album's events decode (no route returns it): documented, as TaskWebhook is.
  app.openAPIRegistry.register('BatchWebhook', BatchWebhookSchema.clone());
  app.use('/batches', requireUser(deps.sessions));
  app.use('/batches/*', requireUser(deps.sessions));
  if (deps.admission) {
    app.use('/batches', deps.admission);
    app.use('/batches/:id/images', deps.admission);
  }

  const figures = () => queueFigures(deps);
  const photosOf = (parts: Part[]): Photo[] => {
    const photos = parts.filter((p) => p.name === 'image');
    if (photos.length === 0) throw new TwinlensError('missing_image', 'no file in the field "image"');
    if (photos.length > deps.maxImagesPerRequest) {
      throw new TwinlensError(
        'invalid_request',
        `at most ${deps.maxImagesPerRequest} photos per request; add the rest with POST /batches/{id}/images`,
      );
    }
    for (const p of photos) {
      if (p.filename === undefined) throw new TwinlensError('missing_image', 'each "image" part must be a file');
    }
    return photos.map((p) => ({ filename: p.filename, data: p.data }));
  };
  // The images and a few text fields: more parts than that are refused while parsing.
  const readPhotos = (c: Parameters<typeof readForm>[0]) => readForm(c, deps.maxImagesPerRequest + 8);

  app.openapi(create, async (c) => {
    const user = c.get('user');
    const parts = await readPhotos(c);
    const photos = photosOf(parts);
    const fields = formFields(parts);
    const model = await deps.models.forTask(fields.get('model'));
    const params = parseParams(fields, model.manifest);
    const callbackUrl = fields.get('callback_url')
      ? deps.webhooks.checkUrl(fields.get('callback_url') as string)
      : null;
    const batch = await deps.batches.create(user.id, params);
    if (callbackUrl) await deps.batches.setCallbackUrl(batch.id, callbackUrl);
    const added = await deps.batches.add(batch, photos).catch(async (err: unknown) => {
      // Refused as a whole (the album queue full): no empty batch is left behind.
      await deps.batches.delete(batch);
      throw err;
    });
    const summary = await deps.batches.summary(batch, await figures());
    return c.json({ batch: summary, ...added }, 202, { Location: `/api/v1/batches/${batch.id}` });
  });

  app.openapi(addImages, async (c) => {
    const batch = await deps.batches.own(c.req.valid('param').id, c.get('user').id);
    const parts = await readPhotos(c);
    formFields(parts); // no text field is used here, but one sent twice is refused as everywhere
    const added = await deps.batches.add(batch, photosOf(parts));
    const summary = await deps.batches.summary(await deps.batches.own(batch.id, batch.ownerId), await figures());
    return c.json({ batch: summary, ...added }, 202, { Location: `/api/v1/batches/${batch.id}` });
  });

  app.openapi(get, async (c) => {
    const batch = await deps.batches.own(c.req.valid('param').id, c.get('user').id);
    const { limit, cursor } = c.req.valid('query');
    const [summary, page] = await Promise.all([
      figures().then((f) => deps.batches.summary(batch, f)),
      deps.batches.tasksPage(batch.id, limit, cursor),
    ]);
    return c.json({ ...summary, tasks: page.items, next_cursor: page.next }, 200);
  });

  app.openapi(list, async (c) => {
    const { limit, cursor } = c.req.valid('query');
    const [page, f] = await Promise.all([deps.batches.list(c.get('user').id, limit, cursor), figures()]);
    const items = await Promise.all(page.items.map((b) => deps.batches.summary(b, f)));
    return c.json({ items, next_cursor: page.next }, 200);
  });

  app.openapi(cancel, async (c) => {
    const batch = await deps.batches.own(c.req.valid('param').id, c.get('user').id);
    const closed = await deps.batches.cancel(batch);
    return c.json(await deps.batches.summary(closed, await figures()), 200);
  });

  app.openapi(remove, async (c) => {
    await deps.batches.delete(await deps.batches.own(c.req.valid('param').id, c.get('user').id));
    return c.body(null, 204);
  });

  app.openapi(deliveries, async (c) => {
    // Only the owner's: another user's id answers 404 as for every batch route.
    const batch = await deps.batches.own(c.req.valid('param').id, c.get('user').id);
    return c.json(await deps.webhooks.deliveries(batch.id), 200);
  });

  app.openapi(results, async (c) => {
    const batch = await deps.batches.own(c.req.valid('param').id, c.get('user').id);
    const tasks = await deps.batches.allTasks(batch.id);
    return exportResponse(tasks, c.req.valid('query').format, `batch-${batch.id}`) as never;
  });

  return app;
}
