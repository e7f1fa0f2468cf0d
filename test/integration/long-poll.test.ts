/** GET /tasks/{id}?wait=N answers when the status changes (Redis pub/sub), not on a timer. */
import { expect, it } from 'vitest';
import type { Task } from '../../shared/contract.ts';
import { fixture, getTask, submit } from '../helpers/api.ts';
import { useSystem } from '../helpers/system.ts';

const ctx = useSystem({ workers: 0 });

it('with until=final, one request waits past the running status to the result', async () => {
  const task = await submit(ctx.sys.baseUrl, ctx.token, fixture('chelsea.png'));
  const poll = (wait: number, until: string) =>
    fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${task.task_id}?wait=${wait}&until=${until}`, {
      headers: { authorization: `Bearer ${ctx.token}` },
    });
  // Nothing changes within a second: the task as it is, after the wait.
  const t0 = performance.now();
  const early = await poll(1, 'final');
  expect(performance.now() - t0).toBeGreaterThanOrEqual(900);
  expect(((await early.json()) as Task).status).toBe('queued');

  const answer = poll(30, 'final');
  // The request is held before the worker starts: it sees queued → running → succeeded go by.
  await new Promise((r) => setTimeout(r, 300));
  const worker = ctx.sys.startWorker();
  const res = await answer;
  // Stopped again: the next test starts with no worker.
  const w = await worker;
  w.child.kill('SIGTERM');
  await w.exited;
  expect(res.status).toBe(200);
  const done = (await res.json()) as Task;
  expect(done.status).toBe('succeeded');
  expect(done.detections?.length).toBeGreaterThan(0);

  const bad = await poll(5, 'soon');
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
});

it('holds the request while nothing changes, then answers at each change', async () => {
  const task = await submit(ctx.sys.baseUrl, ctx.token, fixture('astronaut.png'));
  const t0 = performance.now();
  const still = await getTask(ctx.sys.baseUrl, ctx.token, task.task_id, 1);
  expect(still.status).toBe('queued');
  expect(performance.now() - t0).toBeGreaterThanOrEqual(900); // it waited for the full second

  const worker = ctx.sys.startWorker();
  const seen: string[] = [];
  let current = still;
  while (!['succeeded', 'failed'].includes(current.status)) {
    current = await getTask(ctx.sys.baseUrl, ctx.token, task.task_id, 30);
    seen.push(current.status);
  }
  await worker;
  expect(current.status).toBe('succeeded');
  // One answer per change: running (maybe missed if it was quick), then succeeded; never a run of repeats.
  expect(seen.length).toBeLessThanOrEqual(2);
  expect(seen.at(-1)).toBe('succeeded');
});

it('answers at once for a final task, and rejects a bad wait', async () => {
  const task = await submit(ctx.sys.baseUrl, ctx.token, fixture('coffee.png'));
  let t = await getTask(ctx.sys.baseUrl, ctx.token, task.task_id, 30);
  while (t.status !== 'succeeded') t = await getTask(ctx.sys.baseUrl, ctx.token, task.task_id, 30);
  const t0 = performance.now();
  expect((await getTask(ctx.sys.baseUrl, ctx.token, task.task_id, 30)).status).toBe('succeeded');
  expect(performance.now() - t0).toBeLessThan(5000);
  const bad = await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${task.task_id}?wait=600`, {
    headers: { authorization: `Bearer ${ctx.token}` },
  });
  expect(bad.status).toBe(400);
});
