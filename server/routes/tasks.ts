/** The task resource: create (upload), read, list, cancel/delete, and its two images. */
import { randomUUID } from 'node:crypto';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import {
  DEFAULT_MAX_DETECTIONS,
  DEFAULT_MIN_SCORE,
  type RouteDecision,
  RouteDecisionSchema,
  type Task,
  TaskListSchema,
  TaskSchema,
} from '../../shared/contract.ts';
import { TwinlensError } from '../../shared/errors.ts';
import { isFinalStatus } from '../../shared/task-lifecycle.ts';
import { requireUser } from '../auth/middleware.ts';
import type { SessionStore } from '../auth/sessions.ts';
import { duplicateField, formFields, readForm } from '../http/multipart.ts';
import { storedJson } from '../http/stored-json.ts';
import type { AppEnv, ValidationHook } from '../http/types.ts';
import type { ModelCatalog } from '../models/catalog.ts';
import { type BlobStore, blobKey } from '../storage/blob-store.ts';
import { ownTask as findOwnTask, taskIdInPath, UUID } from '../tasks/own-task.ts';
import type { TaskEvents } from '../tasks/task-events.ts';
import type { TaskService } from '../tasks/task-service.ts';
import type { TaskStore } from '../tasks/task-store.ts';
import { parseParams, prepareUpload } from '../tasks/upload.ts';
import type { WebhookService } from '../webhooks/webhook-service.ts';
import { errorContent, errors, scoped } from './openapi-common.ts';

export interface TaskDeps {
  tasks: TaskService;
  store: TaskStore;
  blobs: BlobStore;
  sessions: SessionStore;
  events: TaskEvents;
  /** `callback_url`: checked here, kept for the task's webhook. */
  webhooks: WebhookService;
  /** `model`: checked against the models this deployment serves. */
  models: ModelCatalog;
  /** Backpressure on POST /tasks (rate limit, queue depth), run before the body is read. */
  admission?: MiddlewareHandler<AppEnv>;
  limits: { maxPixels: number; minSide: number; maxUploadBytes: number };
  validationHook: ValidationHook;
}

const IdParam = z.object({ id: z.string().meta({ param: { name: 'id', in: 'path' }, example: randomUUID() }) });

const TaskJson = { 'application/json': { schema: TaskSchema } };

/** A plain OpenAPI schema, not zod: the handler validates the upload itself so that each
 * problem gets its own error code (an automatic validator would answer 400 for all of them). */
const UploadForm = {
  type: 'object' as const,
  required: ['image'],
  properties: {
    image: {
      type: 'string' as const,
      format: 'binary',
      description:
        'JPEG, PNG or WebP; the type is read from the bytes. Its file name is kept as the task’s `file_name` (cleaned; never used as a path) and written in the exports.',
    },
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
        'The model to run (GET /models lists them); the server’s default when not given. An id it does not serve: 400 `unknown_model`. Without `min_score`, the model’s own default score applies.',
    },
    task_id: {
      type: 'string' as const,
      format: 'uuid',
      description:
        'Optional: the client’s own id for the task (as on-device tasks have), which makes retries safe: sending the same task_id again answers with the task already made.',
    },
    route: {
      type: 'string' as const,
      description:
        'Optional, JSON: the client’s routing decision (a RouteDecision: chosen, reason, device and server estimates), kept in the Task as `route`.',
    },
    callback_url: {
      type: 'string' as const,
      format: 'uri',
      description:
        'Optional: where to POST the task when it ends (signed, Standard Webhooks; see /webhooks/settings). Without it, the user’s default callback URL, if any. https only; an IP address inside the server’s network is refused (`callback_url_refused`).',
    },
  },
};

const create = createRoute({
  method: 'post',
  path: '/tasks',
  tags: ['tasks'],
  summary: 'Upload an image for detection; answers at once with the queued task',
  security: scoped('tasks:write'),
  request: { body: { required: true, content: { 'multipart/form-data': { schema: UploadForm } } } },
  responses: {
    202: {
      description: 'Queued. `Location` is the task’s URL; poll it until the status is final.',
      headers: z.object({ Location: z.string() }),
      content: TaskJson,
    },
    ...errors(400, 401, 409, 413, 415, 422),
    429: {
      description:
        'Too many tasks from this user in the last minute (`rate_limited`); `Retry-After` says when to try again.',
      headers: z.object({ 'Retry-After': z.string() }),
      content: errorContent,
    },
    503: {
      description:
        'The queue is full (`queue_full`, with `Retry-After`: an estimate in seconds), the server is not ready (`not_ready`: Redis has no primary now), or the task could not be confirmed on the replicas in time (`not_replicated`: nothing was kept; send it again with the same `task_id`).',
      headers: z.object({ 'Retry-After': z.string().optional() }),
      content: errorContent,
    },
  },
});

const get = createRoute({
  method: 'get',
  path: '/tasks/{id}',
  tags: ['tasks'],
  summary: 'One task; with `wait`, a long poll',
  description:
    'With `wait=N` (seconds, up to 60) and a task that is not final, the answer comes when its status changes or after N seconds, whichever is first: one request per status change instead of a poll every few hundred milliseconds. With `until=final` as well, it comes only when the task is final (or after N seconds): one request from upload to result.',
  security: scoped('tasks:read'),
  request: {
    params: IdParam,
    query: z.object({
      wait: z.coerce.number().min(0).max(60).optional(),
      until: z
        .enum(['change', 'final'])
        .optional()
        .meta({ description: 'With `wait`: answer at the next status change (the default) or only once final.' }),
    }),
  },
  responses: { 200: { description: 'The task', content: TaskJson }, ...errors(401, 404) },
});

const list = createRoute({
  method: 'get',
  path: '/tasks',
  tags: ['tasks'],
  summary: 'My tasks, newest first',
  security: scoped('tasks:read'),
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(100).default(20),
      cursor: z
        .string()
        .regex(/^\d{1,9}$/, 'not a cursor: pass the next_cursor of a previous page')
        .optional(),
    }),
  },
  responses: {
    200: { description: 'A page of tasks', content: { 'application/json': { schema: TaskListSchema } } },
    ...errors(400, 401),
  },
});

const remove = createRoute({
  method: 'delete',
  path: '/tasks/{id}',
  tags: ['tasks'],
  summary: 'Cancel a queued or running task, or delete a finished one; its files are deleted either way',
  security: scoped('tasks:write'),
  request: { params: IdParam },
  responses: {
    200: { description: 'Canceled: the task, now with status `canceled`', content: TaskJson },
    204: { description: 'Deleted (it had already finished)' },
    ...errors(401, 404),
  },
});

const image = createRoute({
  method: 'get',
  path: '/tasks/{id}/image',
  tags: ['tasks'],
  summary: 'The uploaded image, as sent',
  security: scoped('tasks:read'),
  request: { params: IdParam },
  responses: {
    200: {
      description: 'The original image',
      content: { 'image/*': { schema: z.any().meta({ type: 'string', format: 'binary' }) } },
    },
    ...errors(401, 404),
  },
});

const annotated = createRoute({
  method: 'get',
  path: '/tasks/{id}/annotated',
  tags: ['tasks'],
  summary: 'The image with boxes and labels drawn (JPEG), once the task has succeeded',
  security: scoped('tasks:read'),
  request: { params: IdParam },
  responses: {
    200: {
      description: 'Annotated JPEG',
      content: { 'image/jpeg': { schema: z.any().meta({ type: 'string', format: 'binary' }) } },
    },
    ...errors(401, 404, 409),
  },
});

export function taskRoutes(deps: TaskDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: deps.validationHook });
  app.use('/tasks', requireUser(deps.sessions));
  // A task's routes read its record with the session: one round trip for a poll.
  app.use('/tasks/*', requireUser(deps.sessions, { taskOf: taskIdInPath }));
  if (deps.admission) app.use('/tasks', deps.admission);

  /** The user's task: the record read with the session, or (`fresh`: a long poll's later reads) read now. */
  const ownTask = (c: Context<AppEnv>, id: string, fresh = false) =>
    findOwnTask(deps.store, id, c.get('user').id, fresh ? undefined : c.get('task'));

  app.openapi(create, async (c) => {
    const user = c.get('user');
    const parts = await readForm(c);
    const images = parts.filter((p) => p.name === 'image');
    const image = images[0];
    if (!image) throw new TwinlensError('missing_image', 'no file in the field "image"');
    if (images.length > 1) throw duplicateField('image');
    if (image.filename === undefined) throw new TwinlensError('missing_image', 'the field "image" must be a file');
    if (image.data.length === 0) throw new TwinlensError('empty_body', 'the image file is empty');
    const fields = formFields(parts);
    const model = await deps.models.forTask(fields.get('model'));
    const params = parseParams(fields, model.manifest);
    const clientId = parseTaskId(fields);
    const route = parseRoute(fields);
    const callbackUrl = fields.get('callback_url')
      ? deps.webhooks.checkUrl(fields.get('callback_url') as string)
      : null;

    // Everything is checked in memory before a byte is written: a refusal leaves no file.
    const { task, upload } = await prepareUpload(image.data, deps.limits, {
      id: clientId,
      params,
      fileName: image.filename,
    });
    if (route) task.route = route;
    // Kept before the task exists, so that it is there however fast the task ends; keyed by the
    // user, so naming another user's task id cannot redirect that task's webhook.
    if (callbackUrl) await deps.webhooks.setTaskUrl(user.id, task.task_id, callbackUrl);
    const created = await deps.tasks.create(task, user.id, upload, { callbackUrl: callbackUrl ?? undefined });
    if (created === 'used') {
      throw new TwinlensError('conflict', 'this task_id belonged to a deleted task; choose a new one');
    }
    if (created === 'exists') {
      // The same task sent again (a retry after a lost answer, the page and its service worker
      // both sending a task made offline): the same answer, the task as it is now.
      const existing = await deps.store.get(task.task_id);
      if (existing && existing.ownerId === user.id) {
        await deps.tasks.confirmExisting(existing, callbackUrl ?? undefined);
        return c.json(existing.task, 202, { Location: `/api/v1/tasks/${task.task_id}` });
      }
      throw new TwinlensError('conflict', 'this task_id is taken; choose another');
    }
    return c.json(task, 202, { Location: `/api/v1/tasks/${task.task_id}` });
  });

  app.openapi(get, async (c) => {
    const id = c.req.valid('param').id;
    const { wait = 0, until = 'change' } = c.req.valid('query');
    const first = await ownTask(c, id);
    // The stored document as it is: a poll parses and serializes nothing.
    if (wait === 0 || isFinalStatus(first.task.status)) return storedJson<Task>(c, first.raw);
    // Listen first, then read again: a change between the two reads is not missed.
    const listener = await deps.events.listen(id, c.get('user').id);
    try {
      const now = await ownTask(c, id, true);
      const changed = until === 'change' && now.task.status !== first.task.status;
      if (changed || isFinalStatus(now.task.status)) return storedJson<Task>(c, now.raw);
      const deadline = Date.now() + wait * 1000;
      for (;;) {
        const event = await listener.next(deadline - Date.now(), c.req.raw.signal);
        // Timed out, the client went away, or the change asked for.
        if (!event || until === 'change' || isFinalStatus(event.status)) break;
      }
    } finally {
      listener.close();
    }
    return storedJson<Task>(c, (await ownTask(c, id, true)).raw);
  });

  app.openapi(list, async (c) => {
    const { limit, cursor } = c.req.valid('query');
    const page = await deps.store.list(c.get('user').id, limit, cursor);
    return c.json({ items: page.items, next_cursor: page.next }, 200);
  });

  app.openapi(remove, async (c) => {
    const canceled = await deps.tasks.cancelOrDelete(await ownTask(c, c.req.valid('param').id));
    return canceled ? c.json(canceled, 200) : c.body(null, 204);
  });

  app.openapi(image, async (c) => {
    const { task } = await ownTask(c, c.req.valid('param').id);
    const key = uploadKeyOf(task);
    // Access follows the task, not the file: a canceled task has let go of its image even when
    // another task still holds the same bytes.
    const bytes = (await deps.store.holdsBlob(task.task_id, key)) ? await deps.blobs.get(key) : null;
    if (!bytes) throw new TwinlensError('not_found', 'the image has been deleted');
    return imageResponse(bytes, task.image.mime);
  });

  app.openapi(annotated, async (c) => {
    const stored = await ownTask(c, c.req.valid('param').id);
    if (stored.task.status !== 'succeeded') {
      throw new TwinlensError(
        'task_not_finished',
        `the task is ${stored.task.status}; the annotated image exists once it has succeeded`,
      );
    }
    const bytes = await deps.tasks.annotatedImage(stored, { key: uploadKeyOf(stored.task) }, deps.limits.maxPixels);
    if (!bytes) throw new TwinlensError('not_found', 'the image has been deleted');
    return imageResponse(bytes, 'image/jpeg');
  });

  return app;
}

/** Where a task's upload is stored (content-addressed by its bytes). */
function uploadKeyOf(task: Task): string {
  const ext = task.image.mime === 'image/jpeg' ? 'jpg' : task.image.mime === 'image/png' ? 'png' : 'webp';
  return blobKey('uploads', task.image.sha256, ext);
}

function parseTaskId(fields: Map<string, string>): string | undefined {
  const v = fields.get('task_id');
  if (v === undefined || v === '') return undefined;
  if (!UUID.test(v)) throw new TwinlensError('invalid_request', 'task_id must be a lowercase UUID');
  return v;
}

function parseRoute(fields: Map<string, string>): RouteDecision | undefined {
  const v = fields.get('route');
  if (v === undefined || v === '') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(v);
  } catch {
    throw new TwinlensError('invalid_request', 'route must be JSON (a RouteDecision)');
  }
  const parsed = RouteDecisionSchema.safeParse(json);
  if (!parsed.success) throw new TwinlensError('invalid_request', `route: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

function imageResponse(bytes: Buffer, mime: string): Response {
  return new Response(new Uint8Array(bytes), {
    status: 200,
    headers: {
      'Content-Type': mime,
      'Content-Length': String(bytes.length),
      // Content-addressed and private to the user.
      'Cache-Control': 'private, max-age=86400',
      'X-Content-Type-Options': 'nosniff',
    },
  });
}
