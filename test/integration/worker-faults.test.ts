/**
 * Worker faults with real processes: a SIGKILLed worker's job is finished by another worker;
 * a long inference does not let the job go stalled and run twice; a bad image fails once;
 * a canceled task is never run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { auth, fixture, login, submit, waitForTask } from '../helpers/api.ts';
import { type System, startSystem, storedFiles, successesLogged } from '../helpers/system.ts';

let sys: System | undefined;
afterEach(async () => {
  await sys?.stop();
  sys = undefined;
});

const runsOf = (s: System, id: string) => s.redis.get(`${s.prefix}:task-runs:${id}`).then(Number);
const FAST_LOCKS = { WORKER_LOCK_MS: '2000' };

describe('worker faults', () => {
  it('a worker SIGKILLed mid-job: the task still succeeds, once, when another worker runs', async () => {
    sys = await startSystem({ workers: 0, env: FAST_LOCKS });
    const token = await login(sys.baseUrl, sys.admin.username, sys.admin.password);
    // This worker holds each job for 20 s, so it is surely mid-job when killed.
    const doomed = await sys.startWorker({ DEBUG_INFERENCE_BLOCK_MS: '20000' });
    const task = await submit(sys.baseUrl, token, fixture('astronaut.png'));
    await waitForTask(sys.baseUrl, token, task.task_id, ['running']);
    doomed.child.kill('SIGKILL');
    await doomed.exited;

    await sys.startWorker();
    const done = await waitForTask(sys.baseUrl, token, task.task_id);
    expect(done.status, sys.dump()).toBe('succeeded');
    expect(done.detections.map((d) => d.label)).toContain('person');
    expect(await runsOf(sys, task.task_id)).toBe(2); // begun by the killed worker, finished by the other
    expect(successesLogged(sys, task.task_id)).toBe(1);
    // And it stays that way: no late duplicate run changes the outcome.
    await new Promise((r) => setTimeout(r, 3000));
    const later = await waitForTask(sys.baseUrl, token, task.task_id);
    expect(later).toEqual(done);
    expect(successesLogged(sys, task.task_id)).toBe(1);
  });

  it('a job longer than the lock runs once: inference does not block lock renewal', async () => {
    // Locks of 2 s, inference of 7 s, and a second idle worker ready to take any stalled job.
    sys = await startSystem({ workers: 0, env: FAST_LOCKS });
    const token = await login(sys.baseUrl, sys.admin.username, sys.admin.password);
    await sys.startWorker({ DEBUG_INFERENCE_BLOCK_MS: '7000' });
    const task = await submit(sys.baseUrl, token, fixture('astronaut.png'));
    await waitForTask(sys.baseUrl, token, task.task_id, ['running']);
    await sys.startWorker();
    const done = await waitForTask(sys.baseUrl, token, task.task_id);
    expect(done.status, sys.dump()).toBe('succeeded');
    expect(done.timings.inference_ms).toBeGreaterThanOrEqual(7000);
    expect(await runsOf(sys, task.task_id)).toBe(1);
    expect(sys.dump()).not.toContain('job stalled');
  });

  it('an image that cannot be decoded in the worker fails once with a clear error, not once per attempt', async () => {
    sys = await startSystem({ workers: 0, env: { JOB_ATTEMPTS: '3', JOB_BACKOFF_MS: '100' } });
    const token = await login(sys.baseUrl, sys.admin.username, sys.admin.password);
    const task = await submit(sys.baseUrl, token, fixture('coffee.png'));
    // The stored file is damaged after the API validated it (disk or storage corruption).
    const [stored] = storedFiles(sys.dataDir).filter((f) => f.startsWith('uploads/'));
    fs.writeFileSync(path.join(sys.dataDir, stored!), fixture('coffee.png').subarray(0, 2000));
    await sys.startWorker();
    const done = await waitForTask(sys.baseUrl, token, task.task_id);
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('image_undecodable');
    expect(done.error?.message).toMatch(/cannot be decoded/);
    await new Promise((r) => setTimeout(r, 1000)); // time for retries, were there any
    expect(await runsOf(sys, task.task_id)).toBe(1);
  });

  it('a queued task canceled before any worker runs: its files go and it never runs', async () => {
    sys = await startSystem({ workers: 0 });
    const token = await login(sys.baseUrl, sys.admin.username, sys.admin.password);
    const task = await submit(sys.baseUrl, token, fixture('chelsea.png'));
    expect(storedFiles(sys.dataDir)).toHaveLength(1);
    const res = await fetch(`${sys.baseUrl}/api/v1/tasks/${task.task_id}`, { method: 'DELETE', headers: auth(token) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { status: string }).status).toBe('canceled');
    expect(storedFiles(sys.dataDir)).toEqual([]);
    await sys.startWorker();
    await new Promise((r) => setTimeout(r, 1500));
    const after = await waitForTask(sys.baseUrl, token, task.task_id);
    expect(after.status).toBe('canceled');
    expect(await runsOf(sys, task.task_id)).toBe(0);
    const annotated = await fetch(`${sys.baseUrl}/api/v1/tasks/${task.task_id}/annotated`, { headers: auth(token) });
    expect(annotated.status).toBe(409);
  });
});
