/**
 * Worker faults against real processes: SIGTERM drains the job in hand and exits 0; an image
 * that hangs inference fails with `timeout` and the worker goes on; workers SIGKILLed again and
 * again lose nothing and run nothing twice to completion.
 * FAULTS_TASKS / FAULTS_KILLS / FAULTS_KILL_EVERY_MS make the kill run longer locally (defaults keep CI short).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isFinalStatus } from '../../shared/task-lifecycle.ts';
import { fixture, getTask, login, submit, waitForTask } from '../helpers/api.ts';
import { type Proc, type System, startSystem, storedFiles, successesLogged } from '../helpers/system.ts';

let sys: System | undefined;
afterEach(async () => {
  await sys?.stop();
  sys = undefined;
});

const IMAGES = ['astronaut.png', 'chelsea.png', 'coffee.png'];

describe('worker faults', () => {
  it('SIGTERM: the worker finishes the job in hand, takes no new one, and exits 0', async () => {
    sys = await startSystem({ workers: 0 });
    const token = await login(sys.baseUrl, sys.admin.username, sys.admin.password);
    const worker = await sys.startWorker({ WORKER_CONCURRENCY: '1', DEBUG_INFERENCE_BLOCK_MS: '3000' });
    const first = await submit(sys.baseUrl, token, fixture('astronaut.png'));
    const second = await submit(sys.baseUrl, token, fixture('chelsea.png'));
    await waitForTask(sys.baseUrl, token, first.task_id, ['running']);
    worker.child.kill('SIGTERM');
    expect(await worker.exited, sys.dump()).toBe(0);
    expect((await waitForTask(sys.baseUrl, token, first.task_id, ['succeeded', 'failed'], 1000)).status).toBe(
      'succeeded',
    );
    // The second was not taken: still queued, never run.
    const still = await waitForTask(sys.baseUrl, token, second.task_id, ['queued', 'running', 'succeeded', 'failed']);
    expect(still.status).toBe('queued');
    expect(await sys.redis.get(`${sys.prefix}:task-runs:${second.task_id}`)).toBeNull();
    // Another worker takes it.
    await sys.startWorker();
    expect((await waitForTask(sys.baseUrl, token, second.task_id)).status).toBe('succeeded');
    // The worker's log line can reach us a moment after the task's status (its stdout is read in pieces).
    await expect.poll(() => successesLogged(sys as System, second.task_id)).toBeGreaterThanOrEqual(1);
    expect([successesLogged(sys, first.task_id), successesLogged(sys, second.task_id)]).toEqual([1, 1]);
  });

  it('an image that hangs inference fails with `timeout` within JOB_TIMEOUT_MS, and the worker goes on', async () => {
    sys = await startSystem({ workers: 0, env: { JOB_TIMEOUT_MS: '1500', JOB_ATTEMPTS: '3', JOB_BACKOFF_MS: '100' } });
    const token = await login(sys.baseUrl, sys.admin.username, sys.admin.password);
    // The worker's first model thread hangs for 60 s on its first image (a busy loop: only
    // terminating the thread ends it); the thread that replaces it is sound.
    await sys.startWorker({ WORKER_CONCURRENCY: '1', DEBUG_INFERENCE_BLOCK_MS: '60000' });
    const hung = await submit(sys.baseUrl, token, fixture('astronaut.png'));
    const next = await submit(sys.baseUrl, token, fixture('chelsea.png'));
    const failed = await waitForTask(sys.baseUrl, token, hung.task_id, undefined, 20_000);
    expect(failed.status, sys.dump()).toBe('failed');
    expect(failed.error?.code).toBe('timeout');
    expect(failed.error?.message).toMatch(/longer than 1500 ms/);
    const took = Date.parse(failed.finished_at ?? '') - Date.parse(failed.started_at ?? '');
    expect(took).toBeGreaterThanOrEqual(1500);
    expect(took).toBeLessThan(5000);
    // Same worker, next job: it succeeds on the fresh thread.
    const ok = await waitForTask(sys.baseUrl, token, next.task_id, undefined, 30_000);
    expect(ok.status, sys.dump()).toBe('succeeded');
    expect(ok.detections.length).toBeGreaterThan(0);
    // A timeout is final: not retried.
    expect(await sys.redis.get(`${sys.prefix}:task-runs:${hung.task_id}`)).toBe('1');
    expect(sys.workers).toHaveLength(1);
    expect(sys.workers[0]?.child.exitCode).toBeNull();
  });

  it('workers SIGKILLed again and again: every task succeeds with exactly one result', async () => {
    const total = Number(process.env.FAULTS_TASKS ?? 40);
    const kills = Number(process.env.FAULTS_KILLS ?? 3);
    const every = Number(process.env.FAULTS_KILL_EVERY_MS ?? 1500);
    sys = await startSystem({
      workers: 2,
      // RATE_LIMIT_PER_MINUTE off: a long run submits more than a minute's worth at once.
      env: { WORKER_LOCK_MS: '2000', JOB_ATTEMPTS: '3', JOB_BACKOFF_MS: '100', RATE_LIMIT_PER_MINUTE: '0' },
    });
    const s = sys;
    const token = await login(s.baseUrl, s.admin.username, s.admin.password);
    const ids: string[] = [];
    for (let i = 0; i < total; i++) ids.push((await submit(s.baseUrl, token, fixture(IMAGES[i % 3]!))).task_id);

    const started = Date.now();
    const live = (): Proc[] => s.workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    let killed = 0;
    const finalCount = async () => {
      let n = 0;
      for (const id of ids) if (isFinalStatus((await getTask(s.baseUrl, token, id)).status)) n++;
      return n;
    };
    while (killed < kills && (await finalCount()) < total) {
      await new Promise((r) => setTimeout(r, every));
      const victim = live()[killed % 2];
      if (!victim) break;
      victim.child.kill('SIGKILL');
      await victim.exited;
      killed++;
      await s.startWorker();
    }
    const done = [];
    for (const id of ids) done.push(await waitForTask(s.baseUrl, token, id, undefined, 120_000));
    const elapsed = Date.now() - started;
    console.log(`kill run: ${total} tasks, ${killed} SIGKILLs, all final after ${elapsed} ms`);
    expect(done.filter((t) => t.status !== 'succeeded').map((t) => [t.task_id, t.status, t.error])).toEqual([]);
    expect(killed).toBeGreaterThan(0);
    // Exactly one recorded outcome per task, whoever ran it (killed workers' logs included).
    for (const id of ids) expect(successesLogged(s, id), id).toBe(1);
    expect(storedFiles(s.dataDir).filter((f) => f.startsWith('tmp/'))).toEqual([]);
  }, 240_000);
});
