/** The task resource: create (upload), read, list, cancel/delete, and its two images. */
import { createHash, randomUUID } from 'node:crypto';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import {
  DEFAULT_MAX_DETECTIONS,
  DEFAULT_MIN_SCORE,
  type DetectParams,
  DetectParamsSchema,
  isFinalStatus,
  type Task,
  TaskListSchema,
  TaskSchema,
} from '../../shared/contract.ts';
import { TwinlensError } from '../../shared/errors.ts';
import { requireUser } from '../auth/middleware.ts';
import type { SessionStore } from '../auth/sessions.ts';
import type { AppEnv, ValidationHook } from '../http/types.ts';
import { inspectImage } from '../images/inspect.ts';
import type { DetectQueue } from '../queue/detect-queue.ts';
import { type BlobStore, blobKey } from '../storage/blob-store.ts';
import { ownTask as findOwnTask, UUID } from '../tasks/own-task.ts';
import type { TaskEvents } from '../tasks/task-events.ts';
import type { TaskStore } from '../tasks/task-store.ts';
import { bearer, errorContent, errors } from './openapi-common.ts';

export interface TaskDeps {
  tasks: TaskStore;
  blobs: BlobStore;
  queue: DetectQueue;
  sessions: SessionStore;
  events: TaskEvents;
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
      description: 'JPEG, PNG or WebP; the type is read from the bytes',
    },
    min_score: { type: 'number' as const, minimum: 0, maximum: 1, default: DEFAULT_MIN_SCORE },
    max_detections: { type: 'integer' as const, minimum: 1, maximum: 100, default: DEFAULT_MAX_DETECTIONS },
    task_id: {
      type: 'string' as const,
      format: 'uuid',
      description:
        'Optional: the client’s own id for the task (as on-device tasks have), which makes retries safe: sending the same task_id again answers with the task already made.',
    },
  },
};

const create = createRoute({
  method: 'post',
  path: '/tasks',
  tags: ['tasks'],
  summary: 'Upload an image for detection; answers at once with the queued task',
  security: bearer,
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
        'The queue is full (`queue_full`, with `Retry-After`: an estimate in seconds) or the server is not ready.',
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
    'With `wait=N` (seconds, up to 60) and a task that is not final, the answer comes when its status changes or after N seconds, whichever is first: one request per status change instead of a poll every few hundred milliseconds.',
  security: bearer,
  request: {
    params: IdParam,
    query: z.object({ wait: z.coerce.number().min(0).max(60).optional() }),
  },
  responses: { 200: { description: 'The task', content: TaskJson }, ...errors(401, 404) },
});

const list = createRoute({
  method: 'get',
  path: '/tasks',
  tags: ['tasks'],
  summary: 'My tasks, newest first',
  security: bearer,
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
  security: bearer,
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
  security: bearer,
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
  security: bearer,
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
  app.use('/tasks/*', requireUser(deps.sessions));
  if (deps.admission) app.use('/tasks', deps.admission);

  const ownTask = (id: string, userId: string) => findOwnTask(deps.tasks, id, userId);

  app.openapi(create, async (c) => {
    const user = c.get('user');
    const contentType = c.req.header('content-type') ?? '';
    if (c.req.header('content-length') === '0' || (!contentType && !c.req.header('transfer-encoding'))) {
      throw new TwinlensError('empty_body', 'the request has no body; send the image as multipart/form-data');
    }
    if (!contentType.toLowerCase().startsWith('multipart/form-data')) {
      throw new TwinlensError('invalid_request', 'send multipart/form-data with the image in the field "image"');
    }
    let form: Record<string, string | File | (string | File)[]>;
    try {
      form = await c.req.parseBody({ all: true });
    } catch (err) {
      if ((err as { status?: number }).status === 413) throw err;
      throw new TwinlensError('invalid_request', 'the multipart body cannot be parsed');
    }
    const field = form.image;
    if (field === undefined) throw new TwinlensError('missing_image', 'no file in the field "image"');
    if (Array.isArray(field)) throw new TwinlensError('invalid_request', 'send one image per task');
    if (typeof field === 'string') throw new TwinlensError('missing_image', 'the field "image" must be a file');
    if (field.size === 0) throw new TwinlensError('empty_body', 'the image file is empty');
    const params = parseParams(form);
    const clientId = parseTaskId(form);
    if (clientId) {
      // The same task sent again (a retry after a lost answer, a background sync): the same answer.
      const existing = await deps.tasks.get(clientId);
      if (existing && existing.ownerId === user.id) {
        return c.json(existing.task, 202, { Location: `/api/v1/tasks/${clientId}` });
      }
      if (existing) throw new TwinlensError('conflict', 'this task_id is taken; choose another');
    }

    // Everything is validated in memory before a byte is written: a refusal leaves no file.
    const bytes = new Uint8Array(await field.arrayBuffer());
    const info = await inspectImage(bytes, deps.limits);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const uploadKey = blobKey('uploads', sha256, info.extension);
    const task: Task = {
      task_id: clientId ?? randomUUID(),
      status: 'queued',
      source: 'server',
      created_at: new Date().toISOString(),
      started_at: null,
      finished_at: null,
      params,
      model: null,
      image: { width: info.width, height: info.height, sha256, mime: info.mime },
      detections: [],
      timings: { queue_ms: null, inference_ms: null, total_ms: null },
      error: null,
    };
    // Record (and claim the blob) first, then write it, then enqueue; undo on failure.
    const created = await deps.tasks.create(task, user.id, [uploadKey]);
    if (created === 'used') {
      throw new TwinlensError('conflict', 'this task_id belonged to a deleted task; choose a new one');
    }
    if (created === 'exists') {
      // The same task sent twice at once (the page and its service worker both sending a task
      // made offline): the loser answers like a retry, with the task the winner made.
      const winner = await deps.tasks.get(task.task_id);
      if (winner && winner.ownerId === user.id) {
        return c.json(winner.task, 202, { Location: `/api/v1/tasks/${task.task_id}` });
      }
      throw new TwinlensError('conflict', 'this task_id is taken; choose another');
    }
    try {
      await deps.blobs.put('uploads', bytes, info.extension);
      await deps.queue.enqueue({ taskId: task.task_id, ownerId: user.id, uploadKey, params });
    } catch (err) {
      await deps.tasks.delete(task.task_id, user.id, { tombstone: false }).catch(() => {});
      throw err;
    }
    return c.json(task, 202, { Location: `/api/v1/tasks/${task.task_id}` });
  });

  app.openapi(get, async (c) => {
    const id = c.req.valid('param').id;
    const wait = c.req.valid('query').wait ?? 0;
    const first = await ownTask(id, c.get('user').id);
    if (wait === 0 || isFinalStatus(first.task.status)) return c.json(first.task, 200);
    // Listen first, then read again: a change between the two reads is not missed.
    const listener = await deps.events.listen(id, c.get('user').id);
    try {
      const now = await ownTask(id, c.get('user').id);
      if (now.task.status !== first.task.status || isFinalStatus(now.task.status)) return c.json(now.task, 200);
      await listener.next(wait * 1000, c.req.raw.signal);
    } finally {
      listener.close();
    }
    return c.json((await ownTask(id, c.get('user').id)).task, 200);
  });

  app.openapi(list, async (c) => {
    const { limit, cursor } = c.req.valid('query');
    const page = await deps.tasks.list(c.get('user').id, limit, cursor);
    return c.json({ items: page.items, next_cursor: page.next }, 200);
  });

  app.openapi(remove, async (c) => {
    const user = c.get('user');
    const { task } = await ownTask(c.req.valid('param').id, user.id);
    if (isFinalStatus(task.status)) {
      await deps.tasks.delete(task.task_id, user.id);
      return c.body(null, 204);
    }
    await deps.queue.removeIfWaiting(task.task_id);
    const canceled: Task = {
      ...task,
      status: 'canceled',
      finished_at: new Date().toISOString(),
      error: null,
    };
    const r = await deps.tasks.transition(canceled, ['queued', 'running']);
    if (r !== 'ok') {
      // It finished between our read and the cancel: delete it like any finished task.
      await deps.tasks.delete(task.task_id, user.id);
      return c.body(null, 204);
    }
    await deps.tasks.releaseAllBlobs(task.task_id);
    return c.json(canceled, 200);
  });

  app.openapi(image, async (c) => {
    const { task } = await ownTask(c.req.valid('param').id, c.get('user').id);
    const ext = task.image.mime === 'image/jpeg' ? 'jpg' : task.image.mime === 'image/png' ? 'png' : 'webp';
    const key = blobKey('uploads', task.image.sha256, ext);
    // Access follows the task, not the file: a canceled task has let go of its image even when
    // another task still holds the same bytes.
    const bytes = (await deps.tasks.holdsBlob(task.task_id, key)) ? await deps.blobs.get(key) : null;
    if (!bytes) throw new TwinlensError('not_found', 'the image has been deleted');
    return imageResponse(bytes, task.image.mime);
  });

  app.openapi(annotated, async (c) => {
    const { task } = await ownTask(c.req.valid('param').id, c.get('user').id);
    if (task.status !== 'succeeded') {
      throw new TwinlensError(
        'task_not_finished',
        `the task is ${task.status}; the annotated image exists once it has succeeded`,
      );
    }
    const key = (await deps.tasks.blobKeys(task.task_id)).find((k) => k.startsWith('results/'));
    const bytes = key ? await deps.blobs.get(key) : null;
    if (!bytes) throw new TwinlensError('not_found', 'the annotated image has been deleted');
    return imageResponse(bytes, 'image/jpeg');
  });

  return app;
}

function parseTaskId(form: Record<string, unknown>): string | undefined {
  const v = form.task_id;
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' || !UUID.test(v))
    throw new TwinlensError('invalid_request', 'task_id must be a lowercase UUID');
  return v;
}

function parseParams(form: Record<string, unknown>): DetectParams {
  const num = (name: string) => {
    const v = form[name];
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string') throw new TwinlensError('invalid_request', `${name} must be a number`);
    const n = Number(v);
    if (!Number.isFinite(n)) throw new TwinlensError('invalid_request', `${name} must be a number`);
    return n;
  };
  const parsed = DetectParamsSchema.safeParse({ min_score: num('min_score'), max_detections: num('max_detections') });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TwinlensError('invalid_request', `${issue?.path.join('.')}: ${issue?.message}`);
  }
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
