/**
 * An album's final event survives the process that decided it: the batch script that ends an album
 * writes the event to the webhook outbox in the same step, and the relay queues it when that
 * process did not (it "died" here: its hook to queue the event is taken away), with the summary;
 * the same event relayed again, or queued by both, is one job. In-process on the real Redis (no
 * worker: the album's photos stay queued until canceled; no delivery: the job stays in the queue).
 */
import { describe, expect, it } from 'vitest';
import { BatchWebhookSchema } from '../../shared/contract.ts';
import { auth, fixture } from '../helpers/api.ts';
import { useInProcess } from '../helpers/in-process.ts';

describe('album events through the webhook outbox', () => {
  const ctx = useInProcess();

  async function albumOf(token: string, callbackUrl: string): Promise<string> {
    const form = new FormData();
    for (const name of ['chelsea.png', 'coffee.png']) {
      form.append('image', new Blob([new Uint8Array(fixture(name))]), name);
    }
    form.set('callback_url', callbackUrl);
    const res = await ctx.api.request('/api/v1/batches', { method: 'POST', headers: auth(token), body: form });
    expect(res.status, await res.clone().text()).toBe(202);
    return ((await res.json()) as { batch: { batch_id: string } }).batch.batch_id;
  }

  const cancel = async (token: string, id: string) =>
    expect(
      (await ctx.api.request(`/api/v1/batches/${id}/cancel`, { method: 'POST', headers: auth(token) })).status,
    ).toBe(200);

  async function outboxEntry(batchId: string): Promise<Record<string, string> | undefined> {
    const { redis, keys } = ctx.api.services;
    for (const [, flat] of await redis.xrange(keys.webhookOutbox, '-', '+')) {
      const fields: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
      if (fields.batch_id === batchId) return fields;
    }
    return undefined;
  }

  it('canceled by a process that dies before queuing the event: the relay queues it, once, with the summary', async () => {
    const { services } = ctx.api;
    const { token } = await ctx.api.addUser('olga');
    const id = await albumOf(token, 'https://receiver.example/hooks/album');
    const hook = services.batches.onEnded;
    services.batches.onEnded = undefined; // the decider is gone before it queues anything
    try {
      await cancel(token, id);
    } finally {
      services.batches.onEnded = hook;
    }
    const jobId = `msg_${id}_batch_canceled`;
    expect(await services.webhooks.queue.getJob(jobId)).toBeUndefined();
    const entry = await outboxEntry(id);
    expect(entry).toMatchObject({ type: 'batch.canceled', seq: '1', url: 'https://receiver.example/hooks/album' });
    const log = await ctx.api.request(`/api/v1/batches/${id}/deliveries`, { headers: auth(token) });
    expect(((await log.json()) as { state: string }).state).toBe('pending');

    await services.webhooks.relay(entry as Record<string, string>); // waits for the decider, in vain
    const job = await services.webhooks.queue.getJob(jobId);
    const event = BatchWebhookSchema.parse(JSON.parse(job?.data.body as string));
    expect(event.type).toBe('batch.canceled');
    expect(event.data).toMatchObject({ batch_id: id, status: 'canceled', total: 2 });
    expect(event.data.counts).toMatchObject({ canceled: 2, queued: 0, running: 0 });
    expect(job?.data.url).toBe('https://receiver.example/hooks/album');

    // Relayed again (a reader that died before acknowledging): still the one job.
    const before = await services.webhooks.queue.getJobCounts();
    await services.webhooks.relay(entry as Record<string, string>);
    expect(await services.webhooks.queue.getJobCounts()).toEqual(before);
  });

  it('the process that decided it queues it at once; the relay then adds nothing', async () => {
    const { services } = ctx.api;
    const { token } = await ctx.api.addUser('pavel');
    const id = await albumOf(token, 'https://receiver.example/hooks/fast');
    await cancel(token, id);
    const job = await services.webhooks.queue.getJob(`msg_${id}_batch_canceled`);
    expect(BatchWebhookSchema.parse(JSON.parse(job?.data.body as string)).data.counts.canceled).toBe(2);
    const before = await services.webhooks.queue.getJobCounts();
    const started = Date.now();
    await services.webhooks.relay((await outboxEntry(id)) as Record<string, string>);
    expect(Date.now() - started).toBeLessThan(5000); // found the job, did not wait for it
    expect(await services.webhooks.queue.getJobCounts()).toEqual(before);
  });
});
