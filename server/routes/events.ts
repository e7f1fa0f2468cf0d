/**
 * GET /tasks/{id}/events: a task's status changes as Server-Sent Events, for the web app (one
 * connection instead of a long poll per change). The current task first, then the task again at
 * each change, and the stream ends after a final status.
 */
import { randomUUID } from 'node:crypto';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import type { Task } from '../../shared/contract.ts';
import { isFinalStatus } from '../../shared/task-lifecycle.ts';
import { requireUser } from '../auth/middleware.ts';
import type { SessionStore } from '../auth/sessions.ts';
import type { AppEnv, ValidationHook } from '../http/types.ts';
import type { Logger } from '../log.ts';
import { ownTask } from '../tasks/own-task.ts';
import type { TaskEvents } from '../tasks/task-events.ts';
import type { TaskEvent, TaskStore } from '../tasks/task-store.ts';
import { errors, scoped } from './openapi-common.ts';

/** Proxies and load balancers close connections that stay silent for long (often 30–60 s). */
export const KEEPALIVE_MS = 15_000;

export interface EventDeps {
  store: TaskStore;
  sessions: SessionStore;
  events: TaskEvents;
  log: Logger;
  validationHook: ValidationHook;
}

const route = createRoute({
  method: 'get',
  path: '/tasks/{id}/events',
  tags: ['tasks'],
  summary: 'The task’s status changes as Server-Sent Events',
  description: [
    'A `text/event-stream`. Each event is `event: task` with the whole Task as JSON in `data`: the task as it is',
    'now, then once per status change. After a final status (succeeded, failed, canceled) the server ends the',
    'stream; close the EventSource when a final task arrives, or it reconnects and gets the final task again.',
    'A comment line every 15 s keeps idle connections open. Deleted while streaming: the stream ends (a reconnect',
    'then gets 404).',
  ].join(' '),
  security: scoped('tasks:read'),
  request: {
    params: z.object({ id: z.string().meta({ param: { name: 'id', in: 'path' }, example: randomUUID() }) }),
  },
  responses: {
    200: {
      description: '`event: task` / `data: <Task JSON>` events until the task is final',
      content: {
        'text/event-stream': { schema: z.string().meta({ example: 'event: task\ndata: {"task_id":…}\n\n' }) },
      },
    },
    ...errors(401, 404),
  },
});

export function eventRoutes(deps: EventDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: deps.validationHook });
  app.use(route.getRoutingPath(), requireUser(deps.sessions));

  app.openapi(route, async (c) => {
    const id = c.req.valid('param').id;
    const userId = c.get('user').id;
    // Listen first, then read: a change between the read and the first wait is not missed.
    const listener = await deps.events.listen(id, userId);
    let first: Task;
    try {
      first = (await ownTask(deps.store, id, userId)).task;
    } catch (err) {
      listener.close();
      throw err; // 404 in the usual format, before any of the stream is sent
    }

    c.header('Cache-Control', 'no-cache');
    c.header('X-Accel-Buffering', 'no'); // nginx: pass each event on at once
    return streamSSE(c, async (stream) => {
      // The client going away aborts both the request and the stream; either ends the wait.
      const gone = new AbortController();
      stream.onAbort(() => gone.abort());
      c.req.raw.signal.addEventListener('abort', () => gone.abort(), { once: true });
      try {
        await streamTask(
          stream,
          first,
          gone.signal,
          async (wait) => listener.next(wait, gone.signal),
          async () => {
            const now = await deps.store.get(id);
            return now && now.ownerId === userId ? now.task : null;
          },
        );
      } catch (err) {
        deps.log.warn('task event stream failed', { err, task_id: id });
      } finally {
        listener.close();
      }
    });
  });

  return app;
}

/**
 * Writes the task, then waits for changes and writes the task again whenever its status differs
 * from the last one sent (several events can carry one change: a retry's `running`, for instance).
 * Returns once a final task has been sent, the task is gone, or the client has left.
 */
async function streamTask(
  stream: SSEStreamingApi,
  first: Task,
  gone: AbortSignal,
  nextEvent: (waitMs: number) => Promise<TaskEvent | null>,
  read: () => Promise<Task | null>,
): Promise<void> {
  const send = (task: Task) => stream.writeSSE({ event: 'task', data: JSON.stringify(task) });
  let last = first;
  await send(last);
  let lastWrite = Date.now();
  while (!isFinalStatus(last.status) && !gone.aborted) {
    const event = await nextEvent(Math.max(0, KEEPALIVE_MS - (Date.now() - lastWrite)));
    if (gone.aborted) return;
    if (event === null) {
      if (Date.now() - lastWrite >= KEEPALIVE_MS) {
        await stream.write(': keep-alive\n\n');
        lastWrite = Date.now();
      }
      continue;
    }
    const now = await read();
    if (!now) return;
    if (now.status === last.status) continue;
    last = now;
    await send(last);
    lastWrite = Date.now();
  }
}
