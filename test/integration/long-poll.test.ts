/** GET /tasks/{id}?wait=N answers when the status changes (Redis pub/sub), not on a timer. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fixture, getTask, login, submit } from '../helpers/api.ts';
import { type System, startSystem } from '../helpers/system.ts';

let sys: System;
let token: string;
beforeAll(async () => {
  sys = await startSystem({ workers: 0 });
  token = await login(sys.baseUrl, sys.admin.username, sys.admin.password);
});
afterAll(async () => {
  await sys?.stop();
});

it('holds the request while nothing changes, then answers at each change', async () => {
  const task = await submit(sys.baseUrl, token, fixture('astronaut.png'));
  const t0 = performance.now();
  const still = await getTask(sys.baseUrl, token, task.task_id, 1);
  expect(still.status).toBe('queued');
  expect(performance.now() - t0).toBeGreaterThanOrEqual(900); // it waited for the full second

  const worker = sys.startWorker();
  const seen: string[] = [];
  let current = still;
  while (!['succeeded', 'failed'].includes(current.status)) {
    current = await getTask(sys.baseUrl, token, task.task_id, 30);
    seen.push(current.status);
  }
  await worker;
  expect(current.status).toBe('succeeded');
  // One answer per change: running (maybe missed if it was quick), then succeeded; never a run of repeats.
  expect(seen.length).toBeLessThanOrEqual(2);
  expect(seen.at(-1)).toBe('succeeded');
});

it('answers at once for a final task, and rejects a bad wait', async () => {
  const task = await submit(sys.baseUrl, token, fixture('coffee.png'));
  let t = await getTask(sys.baseUrl, token, task.task_id, 30);
  while (t.status !== 'succeeded') t = await getTask(sys.baseUrl, token, task.task_id, 30);
  const t0 = performance.now();
  expect((await getTask(sys.baseUrl, token, task.task_id, 30)).status).toBe('succeeded');
  expect(performance.now() - t0).toBeLessThan(5000);
  const bad = await fetch(`${sys.baseUrl}/api/v1/tasks/${task.task_id}?wait=600`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(bad.status).toBe(400);
});
