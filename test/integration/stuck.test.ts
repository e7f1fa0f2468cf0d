/**
 * Nothing stuck, verified with the real processes:
 * - a task whose job BullMQ gave up on (its workers killed mid-job again and again: "stalled more
 *   than allowable limit", which never reaches our processor) is failed `worker_lost` by the
 *   reconciliation, not left `running` forever;
 * - a task whose job vanished is queued again and succeeds;
 * - a worker that stops taking jobs while jobs wait (wedged on purpose) fails its readiness and
 *   exits 75 for its supervisor to start a fresh one.
 */
import { afterEach, expect, it } from 'vitest';
import { freePort } from '../../server/process/ports.ts';
import { DETECT_QUEUE } from '../../server/queue/detect-queue.ts';
import type { Task } from '../../shared/contract.ts';
import { fixture, getTask, login, submit, waitForTask } from '../helpers/api.ts';
import { type System, startSystem } from '../helpers/system.ts';

let sys: System | undefined;
afterEach(async () => {
  await sys?.stop();
  sys = undefined;
});

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${sys?.dump()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('a task whose job the queue gave up (its workers kept dying) is failed worker_lost, not left running', async () => {
  sys = await startSystem({
    workers: 0,
    env: {
      WORKER_LOCK_MS: '1000',
      // Every inference hangs long enough to be killed in.
      DEBUG_INFERENCE_BLOCK_MS: '60000',
      RECONCILE_INTERVAL_MS: '300',
      RECONCILE_GRACE_MS: '1000',
    },
  });
  const s = sys;
  const token = await login(s.baseUrl, s.admin.username, s.admin.password);
  const task = await submit(s.baseUrl, token, fixture('coffee.png'));
  // Three workers in turn take the job and die with it (BullMQ puts a stalled job back twice).
  for (let i = 0; i < 3; i++) {
    const w = await s.startWorker();
    // Taken by this one: the task's run counter (counted by each claim) says so.
    await until(
      'the job taken',
      async () => Number(await s.redis.get(`${s.prefix}:task-runs:${task.task_id}`)) === i + 1,
    );
    w.child.kill('SIGKILL');
    await w.exited;
  }
  // A healthy worker's stalled-job check now gives the job up; no processor runs for it.
  await s.startWorker({ DEBUG_INFERENCE_BLOCK_MS: '0' });
  const done = await waitForTask(s.baseUrl, token, task.task_id, undefined, 60_000);
  expect(done.status).toBe('failed');
  expect(done.error?.code).toBe('worker_lost');
  expect(done.error?.message).toMatch(/stalled/);
  expect(await s.redis.zscore(`${s.prefix}:tasks-open`, task.task_id)).toBeNull();
}, 120_000);

it('a task whose job vanished is queued again by the reconciliation and succeeds', async () => {
  sys = await startSystem({
    workers: 0,
    env: { MODEL: 'null', RECONCILE_INTERVAL_MS: '300', RECONCILE_GRACE_MS: '1000' },
  });
  const s = sys;
  const token = await login(s.baseUrl, s.admin.username, s.admin.password).catch((err) => {
    throw new Error(`${err}\n${s.dump()}`);
  });
  const task = await submit(s.baseUrl, token, fixture('astronaut.png'));
  // The job is lost behind the task's back (as a failover or an operator's FLUSH of BullMQ's keys might).
  const jobKey = `${s.prefix}:${DETECT_QUEUE}:${task.task_id}`;
  await s.redis.multi().lrem(`${s.prefix}:${DETECT_QUEUE}:wait`, 0, task.task_id).del(jobKey).exec();
  expect(await s.redis.exists(jobKey)).toBe(0);
  await until('the job queued again', async () => (await s.redis.exists(jobKey)) === 1);
  await s.startWorker();
  const done = await waitForTask(s.baseUrl, token, task.task_id);
  expect(done.status).toBe('succeeded');
  expect(s.api.logs.some((l) => l.includes('stuck task queued again') && l.includes(task.task_id))).toBe(true);
}, 60_000);

it('a worker that stops taking jobs while they wait fails its readiness and exits 75; a fresh one takes them', async () => {
  sys = await startSystem({ workers: 0, env: { MODEL: 'null' } });
  const s = sys;
  const token = await login(s.baseUrl, s.admin.username, s.admin.password);
  const port = await freePort();
  const wedged = await s.startWorker({
    WORKER_METRICS_PORT: String(port),
    WORKER_WATCHDOG_MS: '1500',
    DEBUG_WORKER_WEDGE_AFTER_MS: '200',
  });
  const readyz = () =>
    fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.status,
      () => 0, // gone
    );
  expect(await readyz()).toBe(200);
  await new Promise((r) => setTimeout(r, 500));
  const tasks: Task[] = [];
  for (let i = 0; i < 3; i++) tasks.push(await submit(s.baseUrl, token, fixture('coffee.png')));
  const seen = new Set<number>();
  const exited = wedged.exited;
  let code: number | null | undefined;
  void exited.then((c) => {
    code = c;
  });
  while (code === undefined) {
    seen.add(await readyz());
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(code).toBe(75);
  expect(seen.has(503)).toBe(true);
  expect(wedged.logs.some((l) => l.includes('worker stuck') && l.includes('none taken'))).toBe(true);
  for (const t of tasks) expect((await getTask(s.baseUrl, token, t.task_id)).status, s.dump()).toBe('queued');
  // Its supervisor starts a fresh one (here the test does), and the jobs run.
  await s.startWorker();
  for (const t of tasks) expect((await waitForTask(s.baseUrl, token, t.task_id)).status).toBe('succeeded');
}, 60_000);
