/**
 * Twinlens on a Sentinel-managed Redis of the test's own (a primary, a replica, three sentinels on
 * 127.0.0.1; test/helpers/redis-sentinel.ts), with the real API and worker processes:
 *
 * - acknowledged means replicated: with the replica frozen (SIGSTOP), an upload (or an album) is
 *   answered 503 `not_replicated` with Retry-After and nothing of it is kept; thawed, the same
 *   task_id is accepted and runs;
 * - a task acknowledged on the old primary and lost with it (its replica cut off first, WAIT off so
 *   that it is acknowledged at all) is found by the reconciliation in the acknowledgement journal
 *   after the failover: re-queued when its upload is stored (it succeeds), failed `task_lost` when not.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckJournal } from '../../server/durability/ack-journal.ts';
import { DETECT_QUEUE } from '../../server/queue/detect-queue.ts';
import { keys } from '../../server/redis.ts';
import { TaskSchema } from '../../shared/contract.ts';
import { auth, fixture, login, upload, waitForTask } from '../helpers/api.ts';
import { type SentinelTopology, startSentinelTopology } from '../helpers/redis-sentinel.ts';
import { type System, startSystem } from '../helpers/system.ts';

let topo: SentinelTopology;
beforeAll(async () => {
  topo = await startSentinelTopology();
}, 60_000);
afterAll(async () => {
  await topo?.destroy();
});

const node = (port: number) => {
  const r = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  return r;
};
const pidOf = (port: number) => {
  const proc = topo.nodes.find((n) => n.port === port)?.proc;
  if (!proc?.pid) throw new Error(`no process on ${port}`);
  return proc.pid;
};

describe('Sentinel', () => {
  let sys: System;
  afterAll(async () => {
    await sys?.stop();
  });

  it('an upload the replica cannot confirm is answered 503 not_replicated and kept nowhere; sent again, it runs', async () => {
    sys = await startSystem({ workers: 1, env: { ...topo.env, MODEL: 'null', REDIS_WAIT_TIMEOUT_MS: '500' } });
    const token = await login(sys.baseUrl, sys.admin.username, sys.admin.password);
    // Through the sentinels, confirmed on the replica: the record is there the moment 202 comes.
    const first = await upload(sys.baseUrl, token, fixture('coffee.png'));
    expect(first.status, await first.clone().text()).toBe(202);
    const firstTask = TaskSchema.parse(await first.json());
    const replica = node(await topo.replicaPort());
    const k = keys(sys.prefix);
    expect(await replica.exists(k.task(firstTask.task_id))).toBe(1);
    expect((await waitForTask(sys.baseUrl, token, firstTask.task_id)).status).toBe('succeeded');

    const replicaPid = pidOf(await topo.replicaPort());
    const taskId = crypto.randomUUID();
    process.kill(replicaPid, 'SIGSTOP');
    let refused: Response;
    try {
      const t0 = Date.now();
      refused = await upload(sys.baseUrl, token, fixture('chelsea.png'), { fields: { task_id: taskId } });
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      process.kill(replicaPid, 'SIGCONT');
    }
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('not_replicated');
    // Nothing half-made: no record, no job, no acknowledgement in the journal.
    const primary = node(await topo.primaryPort());
    expect(await primary.exists(k.task(taskId), `${sys.prefix}:${DETECT_QUEUE}:${taskId}`)).toBe(0);
    expect(await primary.zscore(k.tasksOpen, taskId)).toBeNull();
    const folder = AckJournal.folderOf(new Date().toISOString());
    expect(fs.existsSync(path.join(sys.dataDir, 'acks', folder, `${taskId}.json`))).toBe(false);
    const missing = await fetch(`${sys.baseUrl}/api/v1/tasks/${taskId}`, { headers: auth(token) });
    expect(missing.status).toBe(404);
    // The same for an album: 503, and no batch left behind.
    process.kill(replicaPid, 'SIGSTOP');
    let album: Response;
    try {
      const form = new FormData();
      for (const f of ['coffee.png', 'astronaut.png']) form.append('image', new Blob([new Uint8Array(fixture(f))]), f);
      album = await fetch(`${sys.baseUrl}/api/v1/batches`, { method: 'POST', headers: auth(token), body: form });
    } finally {
      process.kill(replicaPid, 'SIGCONT');
    }
    expect(album.status).toBe(503);
    expect(album.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await album.json()) as { error: { code: string } }).error.code).toBe('not_replicated');
    const batches = await fetch(`${sys.baseUrl}/api/v1/batches`, { headers: auth(token) });
    expect(((await batches.json()) as { items: unknown[] }).items).toEqual([]);

    // The client sends it again, with the same task_id, as the 503 says.
    await topo.waitForReplicaSynced(await topo.replicaPort());
    const again = await upload(sys.baseUrl, token, fixture('chelsea.png'), { fields: { task_id: taskId } });
    expect(again.status, await again.clone().text()).toBe(202);
    expect((await waitForTask(sys.baseUrl, token, taskId)).status).toBe('succeeded');
    expect(fs.existsSync(path.join(sys.dataDir, 'acks', folder, `${taskId}.json`))).toBe(true);
    replica.disconnect();
    primary.disconnect();
  }, 60_000);
});

describe('reconciliation after a failover', () => {
  let sys: System;
  afterAll(async () => {
    await sys?.stop();
  });

  it('tasks acknowledged on the old primary and lost with it are found in the journal: re-queued, or failed task_lost', async () => {
    // WAIT off: the window WAIT cannot close, opened on purpose (the replica cut off before the uploads).
    sys = await startSystem({
      workers: 0,
      env: { ...topo.env, MODEL: 'null', REDIS_WAIT_REPLICAS: '0', RECONCILE_INTERVAL_MS: '300' },
    });
    const token = await login(sys.baseUrl, sys.admin.username, sys.admin.password);
    const oldPrimary = await topo.primaryPort();
    const replicaPort = await topo.replicaPort();
    await topo.waitForReplicaSynced(replicaPort);
    const replicaPid = pidOf(replicaPort);
    const k = keys(sys.prefix);

    // Replication paused: the replica frozen, and its link closed by the primary, so nothing written
    // from now on reaches it (not even through the socket's buffers).
    process.kill(replicaPid, 'SIGSTOP');
    const primary = node(oldPrimary);
    await primary.client('KILL', 'TYPE', 'replica');
    const kept = TaskSchema.parse(await (await upload(sys.baseUrl, token, fixture('astronaut.png'))).json());
    const gone = TaskSchema.parse(await (await upload(sys.baseUrl, token, fixture('coffee.png'))).json());
    expect(await primary.exists(k.task(kept.task_id), k.task(gone.task_id))).toBe(2);
    primary.disconnect();
    // The second one's upload is lost as well (its file removed): it cannot run again.
    fs.rmSync(path.join(sys.dataDir, 'uploads', gone.image.sha256.slice(0, 2), `${gone.image.sha256}.png`));

    await topo.kill(oldPrimary);
    process.kill(replicaPid, 'SIGCONT');
    const newPrimary = await topo.waitForFailover(oldPrimary);
    expect(newPrimary).toBe(replicaPort);
    // The old primary comes back as a replica of the new one (as an operator would start it).
    await topo.restart(oldPrimary, newPrimary);

    await sys.startWorker();
    const s = sys;
    // Until the reconciliation has brought them back the tasks are unknown (404): wait for that.
    const restored = async (id: string) => {
      const deadline = Date.now() + 30_000;
      while ((await fetch(`${s.baseUrl}/api/v1/tasks/${id}`, { headers: auth(token) })).status === 404) {
        if (Date.now() > deadline) throw new Error(`task ${id} not restored:\n${s.dump().slice(-12_000)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    await restored(kept.task_id);
    await restored(gone.task_id);
    const found = await waitForTask(s.baseUrl, token, kept.task_id, undefined, 30_000).catch((err) => {
      throw new Error(`${err}\n${s.dump().slice(-12_000)}`);
    });
    expect(found.status).toBe('succeeded');
    expect(found.created_at).toBe(kept.created_at);
    const lost = await waitForTask(sys.baseUrl, token, gone.task_id, undefined, 30_000);
    expect(lost.status).toBe('failed');
    expect(lost.error?.code).toBe('task_lost');
    expect(lost.error?.message).toMatch(/failover/);
    expect(sys.api.logs.filter((l) => l.includes('restored from the acknowledgement journal'))).toHaveLength(2);
  }, 90_000);
});
