/**
 * The whole system (API, a worker process, the real model) on a Redis Cluster of three masters:
 * uploads run to the end, status changes reach long polls and SSE (pub/sub), and every key of
 * ours and BullMQ's lies in the one slot of the prefix's hash tag, on a master of the cluster.
 */
import { createECDH } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.ts';
import { type Task, TaskSchema } from '../../shared/contract.ts';
import { auth, fixture, login, submit, waitForTask } from '../helpers/api.ts';
import { type OwnCluster, startRedisCluster } from '../helpers/redis-cluster.ts';
import { readSse } from '../helpers/sse.ts';
import { launch, type System, startSystem } from '../helpers/system.ts';

let cluster: OwnCluster;
let sys: System;
let token: string;

beforeAll(async () => {
  cluster = await startRedisCluster();
  // REDIS_URL (set by startSystem) points at the single-node Redis: the cluster must win over it.
  sys = await startSystem({ workers: 1, env: { REDIS_CLUSTER_NODES: cluster.nodes } });
  token = await login(sys.baseUrl, sys.admin.username, sys.admin.password);
  // A push subscription, so that the tasks below owe pushes (the outbox holds entries only for
  // owners with one). Its endpoint is never reached: the notifier's delivery fails, contained.
  const sub = await fetch(`${sys.baseUrl}/api/v1/push/subscriptions`, {
    method: 'POST',
    headers: { ...auth(token), 'content-type': 'application/json' },
    body: JSON.stringify({
      endpoint: 'https://push.invalid/cluster-test',
      keys: { p256dh: createECDH('prime256v1').generateKeys().toString('base64url'), auth: 'AAAAAAAAAAAAAAAAAAAAAA' },
    }),
  });
  if (sub.status !== 201) throw new Error(`subscribe: ${sub.status} ${await sub.text()}`);
});

afterAll(async () => {
  await sys?.stop();
  await cluster?.stop();
});

/** One node of the test cluster, on a plain connection (CLUSTER INFO/NODES are per node). */
async function onNode<T>(port: number, f: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0 });
  try {
    return await f(r);
  } finally {
    r.disconnect();
  }
}

describe('on a Redis Cluster', () => {
  it('runs an upload to the end: SSE and a long poll both see it succeed with the person', async () => {
    const task = await submit(sys.baseUrl, token, fixture('astronaut.png'));
    const sse = await fetch(`${sys.baseUrl}/api/v1/tasks/${task.task_id}/events`, { headers: auth(token) });
    expect(sse.status).toBe(200);
    const polled = waitForTask(sys.baseUrl, token, task.task_id, undefined, 60_000, -1);

    const streamed: Task[] = [];
    // The server ends the stream after the final status (pushed to it over Redis pub/sub).
    for await (const item of readSse(sse)) {
      if (item.kind === 'event') streamed.push(TaskSchema.parse(JSON.parse(item.data)));
    }
    const last = streamed.at(-1);
    expect(last?.status, sys.dump()).toBe('succeeded');
    expect(last?.detections.find((d) => d.label === 'person')?.score).toBeGreaterThanOrEqual(0.5);
    expect((await polled).status).toBe('succeeded');
  });

  it('runs a few concurrent uploads, all to success', async () => {
    const images = ['astronaut.png', 'coffee.png', 'astronaut.png', 'coffee.png'];
    const tasks = await Promise.all(images.map((name) => submit(sys.baseUrl, token, fixture(name))));
    const done = await Promise.all(tasks.map((t) => waitForTask(sys.baseUrl, token, t.task_id, undefined, 60_000, -1)));
    expect(done.map((t) => t.status)).toEqual(images.map(() => 'succeeded'));
    expect(done[1]?.detections.map((d) => d.label)).toContain('cup');
  });

  it("reads the push outbox as a consumer group on the cluster: every final task's entry read and dropped", async () => {
    const outbox = `${sys.prefix}:push-outbox`;
    // Five tasks ended above; the API's notifier reads each entry (XREADGROUP on the cluster), acknowledges it,
    // then deletes it. The stream's length is read before the group's counts: an entry gone from the stream has
    // been acknowledged, so the snapshot that ends the wait is not one taken between the two.
    let group: unknown[] = [];
    for (let i = 0; i < 50; i++) {
      const length = await sys.redis.xlen(outbox);
      const groups = (await sys.redis.xinfo('GROUPS', outbox)) as unknown[][];
      group = groups[0] ?? [];
      const read = Number(group[group.indexOf('entries-read') + 1]);
      if (read >= 5 && length === 0 && Number(group[group.indexOf('pending') + 1]) === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(group[group.indexOf('name') + 1]).toBe('push');
    expect(Number(group[group.indexOf('entries-read') + 1])).toBeGreaterThanOrEqual(5);
    expect(Number(group[group.indexOf('pending') + 1])).toBe(0);
    expect(await sys.redis.xlen(outbox)).toBe(0);
  });

  it('keeps every key, ours and BullMQ’s, in the hash tag’s slot, on a master of the cluster', async () => {
    const c = sys.redis;
    expect(c).toBeInstanceOf(Cluster); // the test's own client follows REDIS_CLUSTER_NODES too
    if (!(c instanceof Cluster)) return;

    // Every key under the prefix, from each master: SCAN sees one node's keys only.
    const found = await Promise.all(
      c.nodes('master').map(async (node) => {
        const keys: string[] = [];
        let cursor = '0';
        do {
          const [next, batch] = await node.scan(cursor, 'MATCH', `${sys.prefix}*`, 'COUNT', 1000);
          cursor = next;
          keys.push(...batch);
        } while (cursor !== '0');
        return { port: node.options.port, keys };
      }),
    );
    const holders = found.filter((f) => f.keys.length > 0);
    expect(holders).toHaveLength(1); // one node holds them all
    const [holder] = holders;
    const keys = holder?.keys ?? [];
    expect(keys).toContain(`${sys.prefix}:users`);
    expect(keys.some((k) => k.startsWith(`${sys.prefix}:task:`))).toBe(true);
    expect(keys).toContain(`${sys.prefix}:detect:meta`); // BullMQ's
    expect(keys.some((k) => k.startsWith(`${sys.prefix}:detect:`) && k !== `${sys.prefix}:detect:meta`)).toBe(true);

    const slot = Number(await c.cluster('KEYSLOT', sys.prefix));
    const slots = await Promise.all(keys.map((k) => c.cluster('KEYSLOT', k).then(Number)));
    expect(new Set(slots)).toEqual(new Set([slot]));

    // That slot's owner, per CLUSTER SLOTS, is the node that holds the keys, and it is a master.
    const range = (await c.cluster('SLOTS')).find(([from, to]) => from <= slot && slot <= to);
    const ownerPort = range?.[2]?.[1];
    expect(ownerPort).toBe(holder?.port);
    expect(cluster.ports).toContain(ownerPort);
    const flags = await onNode(ownerPort ?? 0, async (r) => {
      const myself = String(await r.cluster('NODES'))
        .split('\n')
        .find((l) => l.split(' ')[2]?.includes('myself'));
      return myself?.split(' ')[2]?.split(',') ?? [];
    });
    expect(flags).toContain('master');

    // And nothing of this system went to the single Redis that REDIS_URL names.
    const single = new Redis(sys.env.REDIS_URL ?? '', { maxRetriesPerRequest: 0 });
    try {
      const strays: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await single.scan(cursor, 'MATCH', `${sys.prefix}*`, 'COUNT', 1000);
        cursor = next;
        strays.push(...batch);
      } while (cursor !== '0');
      expect(strays).toEqual([]);
    } finally {
      single.disconnect();
    }
  });

  it('is a healthy cluster of three masters', async () => {
    for (const port of cluster.ports) {
      const info = await onNode(port, (r) => r.cluster('INFO'));
      expect(info).toMatch(/cluster_state:ok/);
      expect(info).toMatch(/cluster_slots_assigned:16384/);
      expect(info).toMatch(/cluster_known_nodes:3\b/);
      expect(info).toMatch(/cluster_size:3\b/);
      const nodes = String(await onNode(port, (r) => r.cluster('NODES')))
        .trim()
        .split('\n');
      expect(nodes.map((l) => l.split(' ')[2]?.split(',').includes('master'))).toEqual([true, true, true]);
    }
  });

  it('answers readyz, stats, metrics and the queue dashboard from the cluster', async () => {
    const ready = await fetch(`${sys.baseUrl}/readyz`);
    expect(ready.status, sys.dump()).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', workers: 1 });

    const stats = await fetch(`${sys.baseUrl}/api/v1/stats`, { headers: auth(token) });
    expect(stats.status).toBe(200);
    expect(await stats.json()).toMatchObject({ queue: { waiting: 0, active: 0 }, workers: 1 });

    const metrics = await (await fetch(`${sys.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^twinlens_queue_jobs\{state="completed"\} [1-9]/m);

    const board = await fetch(`${sys.baseUrl}/admin/queues/api/queues`, { headers: auth(token) });
    expect(board.status).toBe(200);
    const body = (await board.json()) as { queues: { name: string; counts: Record<string, number> }[] };
    // One queue per installed model (the default model's is plain `detect`); the photo above went to the default.
    const names = body.queues.map((q) => q.name);
    expect(names).toContain('detect');
    expect(names.every((n) => /^detect(-[a-z0-9-]+)?$/.test(n))).toBe(true);
    expect(body.queues.find((q) => q.name === 'detect')?.counts.completed).toBeGreaterThanOrEqual(1);

    // No process met a cluster error on the way (CROSSSLOT, MOVED it could not follow, BullMQ's
    // warning about connection options).
    expect(sys.dump()).not.toMatch(/CROSSSLOT|MOVED|redis connection error|BullMQ: WARNING|maxRetriesPerRequest/);
  });
});

describe('the prefix on a cluster', () => {
  it('must carry a {hash tag}: loadConfig refuses one without, naming the variable and the rule', () => {
    const env = { REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001' };
    for (const prefix of ['twinlens', 'tl{}x', 'tl{open']) {
      expect(() => loadConfig({ ...env, REDIS_PREFIX: prefix })).toThrow(ConfigError);
      expect(() => loadConfig({ ...env, REDIS_PREFIX: prefix })).toThrow(
        `REDIS_PREFIX=${JSON.stringify(prefix)}: with REDIS_CLUSTER_NODES set, the prefix needs a {hash tag}`,
      );
    }
    expect(loadConfig({ ...env, REDIS_PREFIX: 'prod-{twinlens}' }).REDIS_PREFIX).toBe('prod-{twinlens}');
    expect(loadConfig({ ...env }).REDIS_PREFIX).toBe('{twinlens}'); // the default has one
    expect(loadConfig({ REDIS_PREFIX: 'twinlens' }).REDIS_PREFIX).toBe('twinlens'); // one server: any prefix
  });

  it('stops the API at start, exit code 2, with the message', async () => {
    const api = launch('api', {
      env: {
        ...sys.env,
        REDIS_CLUSTER_NODES: cluster.nodes,
        REDIS_PREFIX: 'twinlens',
        PORT: '0',
      },
    });
    expect(await api.exited).toBe(2);
    expect(api.logs.join('\n')).toMatch(/REDIS_PREFIX="twinlens": with REDIS_CLUSTER_NODES set.*\{hash tag\}/);
  });
});
