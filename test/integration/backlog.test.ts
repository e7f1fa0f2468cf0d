/**
 * The metric workers scale on (deploy/kubernetes/: KEDA's metrics-api trigger reads GET
 * /metrics/backlog) counts the jobs BullMQ keeps in its prioritized set — every album photo — and
 * not only its wait list, which is all the common `redis` list trigger on `<prefix>:detect:wait`
 * sees. In-process, on the real Redis, no worker (jobs stay where they are queued).
 */
import { expect, it } from 'vitest';
import { DETECT_QUEUE } from '../../server/queue/detect-queue.ts';
import { auth, fixture } from '../helpers/api.ts';
import { useInProcess } from '../helpers/in-process.ts';

const ctx = useInProcess({ METRICS_TOKEN: 'backlog-test-token' });

it('GET /metrics/backlog counts waiting and prioritized (album) jobs; the wait list alone would say 2', async () => {
  const { token } = await ctx.api.addUser('scaler');
  const metrics = { authorization: 'Bearer backlog-test-token' };
  const empty = await ctx.api.request('/metrics/backlog', { headers: metrics });
  expect(empty.status).toBe(200);
  expect(await empty.json()).toEqual({ backlog: 0, waiting: 0, prioritized: 0, delayed: 0, active: 0 });

  // An album of 5 photos (prioritized jobs) and two single uploads (the wait list).
  const album = new FormData();
  for (let i = 0; i < 5; i++) album.append('image', new Blob([new Uint8Array(fixture('coffee.png'))]), `p${i}.png`);
  const res = await ctx.api.request('/api/v1/batches', { method: 'POST', headers: auth(token), body: album });
  expect(res.status, await res.clone().text()).toBe(202);
  for (let i = 0; i < 2; i++) {
    const form = new FormData();
    form.set('image', new Blob([new Uint8Array(fixture('chelsea.png'))]), 'one.png');
    const single = await ctx.api.request('/api/v1/tasks', { method: 'POST', headers: auth(token), body: form });
    expect(single.status).toBe(202);
  }

  const redis = ctx.api.services.redis;
  // What a scaler reading the wait list's length sees: the single uploads only.
  expect(await redis.llen(`${ctx.api.prefix}:${DETECT_QUEUE}:wait`)).toBe(2);
  expect(await redis.zcard(`${ctx.api.prefix}:${DETECT_QUEUE}:prioritized`)).toBe(5);

  const backlog = await ctx.api.request('/metrics/backlog', { headers: metrics });
  expect(backlog.headers.get('cache-control')).toBe('no-store');
  expect(await backlog.json()).toEqual({ backlog: 7, waiting: 2, prioritized: 5, delayed: 0, active: 0 });
  const text = await (await ctx.api.request('/metrics', { headers: metrics })).text();
  expect(text).toMatch(/^twinlens_queue_backlog 7$/m);
  // The token is wanted here as on /metrics.
  expect((await ctx.api.request('/metrics/backlog')).status).toBe(401);
});
