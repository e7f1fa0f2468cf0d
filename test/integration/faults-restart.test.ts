/**
 * Restarts under load, with real processes: Redis (AOF, appendfsync everysec) shut down and
 * started again mid-run; the API process replaced mid-run. Every accepted task must end
 * succeeded with one result, and clients must carry on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Task } from '../../shared/contract.ts';
import { isFinalStatus } from '../../shared/task-lifecycle.ts';
import { fixture, getTask, login, submit, waitForTask } from '../helpers/api.ts';
import { type OwnRedis, startOwnRedis } from '../helpers/redis-server.ts';
import { launch, type System, startSystem, storedFiles, successesLogged } from '../helpers/system.ts';

let sys: System | undefined;
let redis: OwnRedis | undefined;
afterEach(async () => {
  await sys?.stop();
  sys = undefined;
  await redis?.destroy();
  redis = undefined;
});

const IMAGES = ['astronaut.png', 'chelsea.png', 'coffee.png'];

async function expectAllSucceededOnce(s: System, token: string, ids: string[]): Promise<Task[]> {
  const done: Task[] = [];
  for (const id of ids) done.push(await waitForTask(s.baseUrl, token, id, undefined, 90_000));
  expect(
    done.filter((t) => t.status !== 'succeeded').map((t) => [t.task_id, t.status, t.error]),
    s.dump(),
  ).toEqual([]);
  for (const id of ids) expect(successesLogged(s, id), id).toBe(1);
  return done;
}

const countFinal = async (s: System, token: string, ids: string[]) => {
  let n = 0;
  for (const id of ids) if (isFinalStatus((await getTask(s.baseUrl, token, id)).status)) n++;
  return n;
};

describe('restarts', () => {
  it('Redis shut down and restarted (AOF) mid-run: every accepted task succeeds, once', async () => {
    redis = await startOwnRedis();
    sys = await startSystem({ workers: 2, redisUrl: redis.url, env: { WORKER_CONCURRENCY: '1' } });
    const s = sys;
    const token = await login(s.baseUrl, s.admin.username, s.admin.password);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await submit(s.baseUrl, token, fixture(IMAGES[i % 3]!))).task_id);
    // Mid-run: some tasks done, most not.
    while ((await countFinal(s, token, ids)) < 3) await new Promise((r) => setTimeout(r, 100));
    const finalBefore = await countFinal(s, token, ids);
    // Let the everysec fsync cover the last writes, as an operator's SHUTDOWN would (it fsyncs too).
    await redis.shutdown();
    const down = Date.now();
    await new Promise((r) => setTimeout(r, 2000));
    await redis.start();
    const up = Date.now();
    const done = await expectAllSucceededOnce(s, token, ids);
    const lastFinish = Math.max(...done.map((t) => Date.parse(t.finished_at ?? '')));
    console.log(
      `redis restart: ${finalBefore}/20 final before, down ${up - down} ms, all succeeded ${lastFinish - up} ms after restart`,
    );
    // The API still takes new tasks, and its event subscriber came back: a long poll is answered.
    const fresh = await submit(s.baseUrl, token, fixture('coffee.png'));
    const t0 = Date.now();
    const polled = await waitForTask(s.baseUrl, token, fresh.task_id, undefined, 30_000, -1);
    expect(polled.status).toBe('succeeded');
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(storedFiles(s.dataDir).filter((f) => f.startsWith('tmp/'))).toEqual([]);
  }, 180_000);

  it('the API replaced mid-run: accepted tasks complete, the session survives, new tasks are taken', async () => {
    sys = await startSystem({ workers: 2, env: { WORKER_CONCURRENCY: '1' } });
    const s = sys;
    const token = await login(s.baseUrl, s.admin.username, s.admin.password);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await submit(s.baseUrl, token, fixture(IMAGES[i % 3]!))).task_id);
    const old = s.api;
    old.child.kill('SIGTERM');
    expect(await old.exited).toBe(0);
    const port = new URL(s.baseUrl).port;
    const api = launch('api', { env: { ...s.env, PORT: port } });
    s.api = api;
    await api.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('listening on'));
    // The same token (sessions live in Redis) reads the old tasks on the new process.
    await expectAllSucceededOnce(s, token, ids);
    const more = await submit(s.baseUrl, token, fixture('astronaut.png'));
    expect((await waitForTask(s.baseUrl, token, more.task_id)).status).toBe('succeeded');
  }, 120_000);
});
