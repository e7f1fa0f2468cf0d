/** GET /tasks/{id}/events: Server-Sent Events from the real API while a real worker runs the task. */
import { expect, it } from 'vitest';
import { type Task, TaskSchema } from '../../shared/contract.ts';
import { auth, fixture, login, submit, waitForTask } from '../helpers/api.ts';
import { readSse, type SseItem } from '../helpers/sse.ts';
import { launch, useSystem } from '../helpers/system.ts';

const ctx = useSystem({ workers: 0 });

function openEvents(id: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
  return fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${id}/events`, { headers, ...(signal ? { signal } : {}) });
}

/** The next item, or a failure naming what was awaited after `ms`. */
async function next(items: AsyncGenerator<SseItem>, ms: number, what: string): Promise<IteratorResult<SseItem>> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      items.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms; logs:\n${ctx.sys.dump()}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function taskOf(item: SseItem | undefined): Task {
  if (item?.kind !== 'event') throw new Error(`expected an event, got ${JSON.stringify(item)}`);
  expect(item.event).toBe('task');
  return TaskSchema.parse(JSON.parse(item.data));
}

it('streams the queued task, a keep-alive while nothing happens, each change, and ends after the final one', async () => {
  const task = await submit(ctx.sys.baseUrl, ctx.token, fixture('astronaut.png'));
  const res = await openEvents(task.task_id, auth(ctx.token));
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  expect(res.headers.get('cache-control')).toBe('no-cache');
  expect(res.headers.get('x-accel-buffering')).toBe('no');
  const items = readSse(res);

  const first = taskOf((await next(items, 5000, 'first event')).value);
  expect(first).toMatchObject({ task_id: task.task_id, status: 'queued' });

  // No worker: nothing changes, so the next thing on the wire is the keep-alive comment.
  const t0 = performance.now();
  const quiet = (await next(items, 20_000, 'keep-alive')).value;
  expect(quiet).toEqual({ kind: 'comment', text: 'keep-alive' });
  expect(performance.now() - t0).toBeGreaterThan(13_000);

  await ctx.sys.startWorker();
  const statuses: string[] = [];
  let last: Task = first;
  for (;;) {
    const r = await next(items, 60_000, 'status change or end of stream');
    if (r.done) break; // the server closed the stream itself
    if (r.value.kind === 'comment') continue;
    last = taskOf(r.value);
    expect(last.task_id).toBe(task.task_id);
    statuses.push(last.status);
  }
  // `running` can be folded into `succeeded` when the task is re-read after both; nothing repeats.
  expect(statuses.at(-1)).toBe('succeeded');
  expect(statuses.filter((s) => s !== 'running' && s !== 'succeeded')).toEqual([]);
  expect(new Set(statuses).size).toBe(statuses.length);
  expect(last.detections.map((d) => d.label)).toContain('person');
  expect(last).toEqual(await waitForTask(ctx.sys.baseUrl, ctx.token, task.task_id));
});

it('a finished task: one event, then the stream ends; the session cookie works like the token', async () => {
  const task = await submit(ctx.sys.baseUrl, ctx.token, fixture('coffee.png'));
  const done = await waitForTask(ctx.sys.baseUrl, ctx.token, task.task_id);
  const res = await openEvents(task.task_id, { cookie: `twinlens_session=${ctx.token}` });
  expect(res.status).toBe(200);
  const items = readSse(res);
  expect(taskOf((await next(items, 5000, 'the event')).value)).toEqual(done);
  expect((await next(items, 5000, 'the end of the stream')).done).toBe(true);
});

it('a client that leaves does not disturb the server', async () => {
  const task = await submit(ctx.sys.baseUrl, ctx.token, fixture('chelsea.png'));
  const abort = new AbortController();
  const res = await openEvents(task.task_id, auth(ctx.token), abort.signal);
  const items = readSse(res);
  expect(taskOf((await next(items, 5000, 'first event')).value).task_id).toBe(task.task_id);
  abort.abort();
  // Events already buffered may still come out; then reading ends (aborted, or done if the task
  // finished first). Either way the client has gone and the server must not mind.
  const ending = await (async () => {
    for (;;) if ((await items.next()).done) return 'done';
  })().catch(() => 'aborted');
  expect(['aborted', 'done']).toContain(ending);
  expect((await waitForTask(ctx.sys.baseUrl, ctx.token, task.task_id)).status).toBe('succeeded');
  expect(ctx.sys.api.logs.filter((l) => /"level":"error"|event stream failed/.test(l))).toEqual([]);
});

it('without a session → 401; another user’s task or an unknown id → 404, in the usual error format', async () => {
  const task = await submit(ctx.sys.baseUrl, ctx.token, fixture('astronaut.png'));
  const anon = await openEvents(task.task_id, {});
  expect(anon.status).toBe(401);
  expect(((await anon.json()) as { error: { code: string } }).error.code).toBe('unauthorized');

  const cli = launch('cli', { env: ctx.sys.env, args: ['users', 'add', 'bob'] });
  cli.child.stdin?.end('bobs-password-123\n');
  expect(await cli.exited, cli.logs.join('\n')).toBe(0);
  const bob = await login(ctx.sys.baseUrl, 'bob', 'bobs-password-123');
  for (const id of [task.task_id, '00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
    const res = await openEvents(id, auth(bob));
    expect(res.status, id).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('task_not_found');
    expect(typeof body.error.message).toBe('string');
  }
});

it('is in the OpenAPI document, as an event stream', async () => {
  const doc = (await (await fetch(`${ctx.sys.baseUrl}/api/openapi.json`)).json()) as {
    paths: Record<string, { get?: { responses: Record<string, { content?: Record<string, unknown> }> } }>;
  };
  const route = doc.paths['/api/v1/tasks/{id}/events']?.get;
  expect(Object.keys(route?.responses['200']?.content ?? {})).toEqual(['text/event-stream']);
  // 403: an API key without tasks:read (issue 23).
  expect(Object.keys(route?.responses ?? {}).sort()).toEqual(['200', '401', '403', '404']);
});
