/**
 * The webhook outbox: a task's final transition and its webhook's delivery record are written by
 * one script, so a crash between them cannot lose the delivery. Proved with the real processes:
 * the API (which relays the outbox and delivers) is SIGKILLed while tasks run, the worker ends
 * them with no API alive, and a new API process delivers each webhook exactly once — also the
 * one an API read from the outbox and died before acknowledging (claimed from its dead reader).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { keys } from '../../server/redis.ts';
import { TaskSchema } from '../../shared/contract.ts';
import { fixture, login, upload, waitForTask } from '../helpers/api.ts';
import { type LocalPushService, startPushService } from '../helpers/push-service.ts';
import { launch, type System, startSystem } from '../helpers/system.ts';
import { makeTestTls } from '../helpers/tls.ts';

const RECEIVER_HOST = '127.0.0.2';
const tls = makeTestTls([RECEIVER_HOST]);
let sys: System;
let receiver: LocalPushService;

beforeAll(async () => {
  receiver = await startPushService(() => 204, { tls, host: RECEIVER_HOST });
  // No worker yet: the tasks are made while the API lives, and end (a worker started then) after it died.
  sys = await startSystem({
    workers: 0,
    env: { MODEL: 'null', NODE_EXTRA_CA_CERTS: tls.caFile, OUTBOUND_ALLOW_ADDRESSES: `${RECEIVER_HOST}/32` },
  });
});
afterAll(async () => {
  await sys?.stop();
  await receiver?.close();
  tls.remove();
});

it('tasks that end while the API is dead (killed mid-run) get their webhook once, from the next API process', async () => {
  const token = await login(sys.baseUrl, sys.admin.username, sys.admin.password);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await upload(sys.baseUrl, token, fixture('coffee.png'), {
      fields: { callback_url: `${receiver.url}/hook/${i}` },
    });
    expect(res.status).toBe(202);
    ids.push(TaskSchema.parse(await res.json()).task_id);
  }
  // The API dies with every task still to end; then a worker ends them.
  sys.api.child.kill('SIGKILL');
  await sys.api.exited;
  await sys.startWorker();
  const k = keys(sys.prefix);
  const deadline = Date.now() + 60_000;
  while ((await Promise.all(ids.map((id) => sys.redis.hget(k.task(id), 'status')))).some((s) => s !== 'succeeded')) {
    if (Date.now() > deadline) throw new Error(`tasks did not end:\n${sys.dump()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // Each ended with its delivery owed: an outbox entry, and its state pending.
  expect(await sys.redis.xlen(k.webhookOutbox)).toBe(3);
  for (const id of ids) expect(await sys.redis.get(k.webhookState(id))).toBe('pending');
  // One entry was read by an API process that died before acknowledging it (as the killed one might
  // have): it sits in that reader's pending list.
  await sys.redis.xgroup('CREATE', k.webhookOutbox, 'webhooks', '0', 'MKSTREAM').catch(() => {});
  const read = (await sys.redis.xreadgroup(
    'GROUP',
    'webhooks',
    'dead-api',
    'COUNT',
    1,
    'STREAMS',
    k.webhookOutbox,
    '>',
  )) as [string, [string, string[]][]][] | null;
  expect(read?.[0]?.[1]).toHaveLength(1);

  const port = new URL(sys.baseUrl).port;
  sys.api = launch('api', { env: { ...sys.env, PORT: port } });
  await sys.api.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('listening on'));

  // The two nobody read go at once; the one the dead reader held, once it is claimed (10 s idle).
  for (let i = 0; i < 3; i++) await receiver.waitFor(`/hook/${i}`, 1, 30_000);
  await new Promise((r) => setTimeout(r, 1500));
  const byId = new Map<string, number>();
  for (const r of receiver.received)
    byId.set(String(r.headers['webhook-id']), (byId.get(String(r.headers['webhook-id'])) ?? 0) + 1);
  expect([...byId.values()]).toEqual([1, 1, 1]);
  expect([...byId.keys()].sort()).toEqual(ids.map((id) => `msg_${id}_task_succeeded`).sort());
  for (const id of ids) {
    expect((await waitForTask(sys.baseUrl, token, id)).status).toBe('succeeded');
    const deadline2 = Date.now() + 10_000;
    while ((await sys.redis.get(k.webhookState(id))) !== 'delivered' && Date.now() < deadline2) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await sys.redis.get(k.webhookState(id))).toBe('delivered');
  }
  // Relayed entries are dropped from the outbox.
  expect(await sys.redis.xlen(k.webhookOutbox)).toBe(0);
}, 120_000);
