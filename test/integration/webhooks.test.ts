/**
 * Webhooks through the real system (API, a worker with the real model, Redis): an https receiver of
 * our own, with a certificate the API trusts (NODE_EXTRA_CA_CERTS), on 127.0.0.2, the only inside
 * address the operator allows here; plain http stays refused, as in production. Each request is
 * verified with the `standardwebhooks` package (the Standard Webhooks reference library), not with
 * our own signing code.
 */
import type http from 'node:http';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  BatchWebhookSchema,
  type Task,
  TaskSchema,
  TaskWebhookSchema,
  WebhookDeliveryListSchema,
  WebhookSettingsSchema,
  WebhookSettingsViewSchema,
} from '../../shared/contract.ts';
import { auth, fixture, upload, waitForTask } from '../helpers/api.ts';
import { type LocalPushService, type PushRequest, startPushService } from '../helpers/push-service.ts';
import { addUser, useSystem } from '../helpers/system.ts';
import { makeTestTls } from '../helpers/tls.ts';

const RECEIVER_HOST = '127.0.0.2';
const tls = makeTestTls([RECEIVER_HOST]);
const ctx = useSystem({
  workers: 1,
  env: {
    NODE_EXTRA_CA_CERTS: tls.caFile,
    OUTBOUND_ALLOW_ADDRESSES: `${RECEIVER_HOST}/32`,
    // Three attempts, 200 ms then 400 ms apart (a day in production).
    WEBHOOK_ATTEMPTS: '3',
    WEBHOOK_BACKOFF_MS: '200',
    // Every inference takes at least 1 s, so a task deleted at once is canceled, not finished.
    DEBUG_INFERENCE_BLOCK_MS: '1000',
  },
});
let receiver: LocalPushService;
/** Requests seen per path, for the receiver that fails at first. */
const seen = new Map<string, number>();

beforeAll(async () => {
  receiver = await startPushService(undefined, {
    tls,
    host: RECEIVER_HOST,
    respond: (req: http.IncomingMessage, res: http.ServerResponse) => {
      const path = req.url ?? '';
      const n = (seen.get(path) ?? 0) + 1;
      seen.set(path, n);
      // `/flaky/…` answers 500 twice, then 204; a redirect is not followed (and is a failure).
      if (path.startsWith('/flaky') && n <= 2) return void res.writeHead(500).end('try later');
      if (path.startsWith('/redirect')) return void res.writeHead(302, { location: '/ok/elsewhere' }).end();
      res.writeHead(204).end();
    },
  });
});
afterAll(async () => {
  await receiver?.close();
  tls.remove();
});

async function createTask(token: string, callbackUrl?: string): Promise<Response> {
  return upload(ctx.sys.baseUrl, token, fixture('astronaut.png'), {
    filename: 'astronaut.png',
    fields: callbackUrl === undefined ? {} : { callback_url: callbackUrl },
  });
}

async function finishedTask(token: string, callbackUrl?: string): Promise<Task> {
  const res = await createTask(token, callbackUrl);
  expect(res.status, await res.clone().text()).toBe(202);
  const task = TaskSchema.parse(await res.json());
  return waitForTask(ctx.sys.baseUrl, token, task.task_id);
}

async function deliveries(token: string, taskId: string) {
  const res = await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${taskId}/deliveries`, { headers: auth(token) });
  expect(res.status).toBe(200);
  return WebhookDeliveryListSchema.parse(await res.json());
}

/** Polls the delivery log until its state is final. */
async function settled(token: string, taskId: string) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const list = await deliveries(token, taskId);
    if (list.state === 'delivered' || list.state === 'given_up') return list;
    if (Date.now() > deadline) throw new Error(`deliveries still ${list.state}: ${JSON.stringify(list.items)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function batchDeliveries(token: string, batchId: string) {
  const res = await fetch(`${ctx.sys.baseUrl}/api/v1/batches/${batchId}/deliveries`, { headers: auth(token) });
  expect(res.status).toBe(200);
  return WebhookDeliveryListSchema.parse(await res.json());
}

/** Polls an album's delivery log until its state is final. */
async function batchSettled(token: string, batchId: string) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const list = await batchDeliveries(token, batchId);
    if (list.state === 'delivered' || list.state === 'given_up') return list;
    if (Date.now() > deadline) throw new Error(`deliveries still ${list.state}: ${JSON.stringify(list.items)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** An album of these photos (`null`: a broken one), with a callback URL. */
async function album(token: string, photos: (string | null)[], callbackUrl: string): Promise<string> {
  const form = new FormData();
  for (const [i, name] of photos.entries()) {
    const bytes = name ? new Uint8Array(fixture(name)) : new Uint8Array([1, 2, 3, i]);
    form.append('image', new Blob([bytes]), name ?? `broken-${i}.png`);
  }
  form.set('callback_url', callbackUrl);
  const res = await fetch(`${ctx.sys.baseUrl}/api/v1/batches`, { method: 'POST', headers: auth(token), body: form });
  expect(res.status, await res.clone().text()).toBe(202);
  return ((await res.json()) as { batch: { batch_id: string } }).batch.batch_id;
}

/** The one event an album's receiver path got (waits for it, then a second for any other), verified. */
async function onlyBatchEvent(secret: string, path: string) {
  const [req] = (await receiver.waitFor(path, 1, 60_000)) as [PushRequest];
  await new Promise((r) => setTimeout(r, 1500));
  expect(receiver.received.filter((r) => r.path === path)).toHaveLength(1);
  const headers = {
    'webhook-id': String(req.headers['webhook-id']),
    'webhook-timestamp': String(req.headers['webhook-timestamp']),
    'webhook-signature': String(req.headers['webhook-signature']),
  };
  return BatchWebhookSchema.parse(new Webhook(secret).verify(req.body, headers));
}

async function settings(token: string) {
  const res = await fetch(`${ctx.sys.baseUrl}/api/v1/webhooks/settings`, { headers: auth(token) });
  expect(res.status).toBe(200);
  return WebhookSettingsSchema.parse(await res.json());
}

function putDefault(token: string, callbackUrl: string | null) {
  return fetch(`${ctx.sys.baseUrl}/api/v1/webhooks/settings`, {
    method: 'PUT',
    headers: { ...auth(token), 'content-type': 'application/json' },
    body: JSON.stringify({ callback_url: callbackUrl }),
  });
}

/** Verified the Standard Webhooks way (throws WebhookVerificationError otherwise), then parsed. */
function verify(secret: string, req: PushRequest) {
  const headers = {
    'webhook-id': String(req.headers['webhook-id']),
    'webhook-timestamp': String(req.headers['webhook-timestamp']),
    'webhook-signature': String(req.headers['webhook-signature']),
  };
  return TaskWebhookSchema.parse(new Webhook(secret).verify(req.body, headers));
}

it('a task with a callback_url is POSTed to it when it ends, signed the Standard Webhooks way', async () => {
  const { secret } = await settings(ctx.token);
  expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
  const done = await finishedTask(ctx.token, `${receiver.url}/ok/1?x=1`);
  expect(done.status).toBe('succeeded');
  const [req] = (await receiver.waitFor('/ok/1?x=1', 1, 30_000)) as [PushRequest];
  expect(req.headers['content-type']).toBe('application/json');
  expect(String(req.headers['webhook-signature'])).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
  const event = verify(secret, req);
  expect(event.type).toBe('task.succeeded');
  expect(event.data).toEqual(done);
  expect(event.data.detections.length).toBeGreaterThan(0);
  // A different secret, or a body changed by one byte, does not verify.
  expect(() =>
    new Webhook(`whsec_${Buffer.alloc(24, 7).toString('base64')}`).verify(req.body, req.headers as never),
  ).toThrow(WebhookVerificationError);
  const tampered = Buffer.from(req.body.toString().replace('"succeeded"', '"failed"'));
  expect(() => verify(secret, { ...req, body: tampered })).toThrow(WebhookVerificationError);

  const list = await settled(ctx.token, done.task_id);
  expect(list.state).toBe('delivered');
  expect(list.items).toHaveLength(1);
  expect(list.items[0]).toMatchObject({ attempt: 1, status_code: 204, error: null, url: `${receiver.url}/ok/1?x=1` });
  expect(list.items[0]?.latency_ms).toBeGreaterThanOrEqual(0);
});

it('a receiver answering 500 twice gets the third attempt, with the same webhook-id; every attempt is logged', async () => {
  const { secret } = await settings(ctx.token);
  const done = await finishedTask(ctx.token, `${receiver.url}/flaky/1`);
  const reqs = await receiver.waitFor('/flaky/1', 3, 30_000);
  const list = await settled(ctx.token, done.task_id);
  expect(list.state).toBe('delivered');
  expect(list.items.map((d) => [d.attempt, d.status_code])).toEqual([
    [1, 500],
    [2, 500],
    [3, 204],
  ]);
  expect(new Set(reqs.map((r) => r.headers['webhook-id'])).size).toBe(1);
  for (const r of reqs) expect(verify(secret, r).data.task_id).toBe(done.task_id);
  expect(receiver.received.filter((r) => r.path === '/flaky/1')).toHaveLength(3);
});

it('a redirect is not followed: the attempts fail and, after the last one, the webhook is given up and recorded', async () => {
  const done = await finishedTask(ctx.token, `${receiver.url}/redirect/1`);
  const list = await settled(ctx.token, done.task_id);
  expect(list.state).toBe('given_up');
  expect(list.items.map((d) => d.status_code)).toEqual([302, 302, 302]);
  expect(receiver.received.filter((r) => r.path === '/ok/elsewhere')).toHaveLength(0);
});

it('callback URLs into the server’s own network are refused: literals at once, names at delivery', async () => {
  const port = new URL(receiver.url).port;
  for (const url of [
    `https://127.0.0.1:${port}/x`,
    'https://10.1.2.3/x',
    'https://169.254.169.254/latest/meta-data/',
    'https://[::1]/x',
    'https://[::ffff:127.0.0.1]/x',
    'https://user:pw@example.com/x',
    // https only (OUTBOUND_ALLOW_HTTP is not set), also to the allowed receiver.
    `http://${RECEIVER_HOST}:${port}/ok/plain`,
    'ftp://example.com/x',
    'not a url',
  ]) {
    const res = await createTask(ctx.token, url);
    expect(res.status, url).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code, url).toBe('callback_url_refused');
    const put = await putDefault(ctx.token, url);
    expect(put.status, url).toBe(400);
  }
  // A name is accepted when given (it may point anywhere later) and checked at each connection:
  // localhost resolves to loopback, which is not allowed here, so nothing reaches the receiver.
  const done = await finishedTask(ctx.token, `https://localhost:${port}/named`);
  const list = await settled(ctx.token, done.task_id);
  expect(list.state).toBe('given_up');
  expect(list.items).toHaveLength(3);
  for (const d of list.items) {
    expect(d.status_code).toBeNull();
    expect(d.error).toBe('refused');
    expect(d.message).toMatch(/loopback/);
  }
  expect(receiver.received.filter((r) => r.path === '/named')).toHaveLength(0);
});

it('a user’s default callback URL applies to tasks without one; rotating the secret changes the signature', async () => {
  const token = await addUser(ctx.sys, 'hook-user');
  expect((await putDefault(token, `${receiver.url}/default/b`)).status).toBe(200);
  const first = await settings(token);
  expect(first.callback_url).toBe(`${receiver.url}/default/b`);
  expect(first.secret).not.toBe((await settings(ctx.token)).secret);

  const one = await finishedTask(token);
  const [a] = (await receiver.waitFor('/default/b', 1, 30_000)) as [PushRequest];
  expect(verify(first.secret, a).data.task_id).toBe(one.task_id);

  const rotated = await fetch(`${ctx.sys.baseUrl}/api/v1/webhooks/secret/rotate`, {
    method: 'POST',
    headers: auth(token),
  });
  expect(rotated.status).toBe(200);
  const { secret } = (await rotated.json()) as { secret: string };
  expect(secret).toMatch(/^whsec_/);
  expect(secret).not.toBe(first.secret);
  expect((await settings(token)).secret).toBe(secret);

  const two = await finishedTask(token);
  const reqs = await receiver.waitFor('/default/b', 2, 30_000);
  const b = reqs.find((r) => JSON.parse(r.body.toString()).data.task_id === two.task_id) as PushRequest;
  expect(verify(secret, b).data.task_id).toBe(two.task_id);
  expect(b.headers['webhook-signature']).not.toBe(a.headers['webhook-signature']);
  expect(() => verify(first.secret, b)).toThrow(WebhookVerificationError);

  // Cleared: the next task has no webhook.
  expect((await putDefault(token, null)).status).toBe(200);
  const three = await finishedTask(token);
  expect((await deliveries(token, three.task_id)).state).toBe('none');
});

it('a canceled task is announced too (task.canceled), by the API process that canceled it', async () => {
  const { secret } = await settings(ctx.token);
  const res = await createTask(ctx.token, `${receiver.url}/ok/canceled`);
  expect(res.status).toBe(202);
  const task = TaskSchema.parse(await res.json());
  const del = await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${task.task_id}`, {
    method: 'DELETE',
    headers: auth(ctx.token),
  });
  expect(del.status).toBe(200);
  const [req] = (await receiver.waitFor('/ok/canceled', 1, 30_000)) as [PushRequest];
  const event = verify(secret, req);
  expect(event.type).toBe('task.canceled');
  expect(event.data).toMatchObject({ task_id: task.task_id, status: 'canceled' });
  expect((await settled(ctx.token, task.task_id)).state).toBe('delivered');
});

it('the OpenAPI document has the webhook routes and the payload’s schema', async () => {
  const doc = (await (await fetch(`${ctx.sys.baseUrl}/api/openapi.json`)).json()) as {
    paths: Record<string, unknown>;
    components: { schemas: Record<string, unknown> };
  };
  expect(Object.keys(doc.paths)).toEqual(
    expect.arrayContaining([
      '/api/v1/webhooks/settings',
      '/api/v1/webhooks/secret/rotate',
      '/api/v1/tasks/{id}/deliveries',
      '/api/v1/batches/{id}/deliveries',
    ]),
  );
  expect(Object.keys(doc.components.schemas)).toEqual(
    expect.arrayContaining(['TaskWebhook', 'BatchWebhook', 'WebhookSettings', 'WebhookDeliveryList']),
  );
});

it('only the task’s owner reads its deliveries', async () => {
  const done = await finishedTask(ctx.token, `${receiver.url}/ok/owner`);
  await settled(ctx.token, done.task_id);
  const other = await addUser(ctx.sys, 'hook-other');
  const res = await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${done.task_id}/deliveries`, { headers: auth(other) });
  expect(res.status).toBe(404);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe('task_not_found');
  const anon = await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${done.task_id}/deliveries`);
  expect(anon.status).toBe(401);
  expect((await settings(other)).callback_url).toBeNull();
});

it('an album with a callback_url gets one signed batch.completed with its counts when its last photo ends', async () => {
  const { secret } = await settings(ctx.token);
  const form = new FormData();
  for (const name of ['astronaut.png', 'coffee.png'])
    form.append('image', new Blob([new Uint8Array(fixture(name))]), name);
  form.append('image', new Blob([new Uint8Array([1, 2, 3])]), 'broken.png');
  form.set('callback_url', `${receiver.url}/batch/1`);
  const res = await fetch(`${ctx.sys.baseUrl}/api/v1/batches`, {
    method: 'POST',
    headers: auth(ctx.token),
    body: form,
  });
  expect(res.status, await res.clone().text()).toBe(202);
  const { batch } = (await res.json()) as { batch: { batch_id: string } };
  const [req] = (await receiver.waitFor('/batch/1', 1, 60_000)) as [PushRequest];
  const headers = {
    'webhook-id': String(req.headers['webhook-id']),
    'webhook-timestamp': String(req.headers['webhook-timestamp']),
    'webhook-signature': String(req.headers['webhook-signature']),
  };
  const body = new Webhook(secret).verify(req.body, headers) as {
    type: string;
    data: { batch_id: string; status: string; counts: Record<string, number> };
  };
  expect(body.type).toBe('batch.completed');
  expect(body.data.batch_id).toBe(batch.batch_id);
  expect(body.data.status).toBe('done');
  expect(body.data.counts).toMatchObject({ succeeded: 2 });
  // Once: nothing more arrives for it.
  await new Promise((r) => setTimeout(r, 1000));
  expect(receiver.received.filter((r) => r.path === '/batch/1')).toHaveLength(1);
  // Its delivery log, as a task's.
  const log = await batchSettled(ctx.token, batch.batch_id);
  expect(log.state).toBe('delivered');
  expect(log.items.map((d) => [d.type, d.status_code])).toEqual([['batch.completed', 204]]);
  // An album refused at the door never gets that far: the URL is checked like a task's.
  const bad = new FormData();
  bad.append('image', new Blob([new Uint8Array(fixture('coffee.png'))]), 'coffee.png');
  bad.set('callback_url', 'https://169.254.169.254/latest');
  const refused = await fetch(`${ctx.sys.baseUrl}/api/v1/batches`, {
    method: 'POST',
    headers: auth(ctx.token),
    body: bad,
  });
  expect(refused.status).toBe(400);
  expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('callback_url_refused');
});

it('an album canceled with photos left gets one signed batch.canceled with its summary (no batch.completed)', async () => {
  const { secret } = await settings(ctx.token);
  // Every inference takes a second here: canceled at once, the photos are still queued or running.
  const id = await album(ctx.token, ['astronaut.png', 'coffee.png', 'chelsea.png'], `${receiver.url}/batch/canceled`);
  const cancel = await fetch(`${ctx.sys.baseUrl}/api/v1/batches/${id}/cancel`, {
    method: 'POST',
    headers: auth(ctx.token),
  });
  expect(cancel.status).toBe(200);
  const event = await onlyBatchEvent(secret, '/batch/canceled');
  expect(event.type).toBe('batch.canceled');
  expect(event.data).toMatchObject({ batch_id: id, status: 'canceled', total: 3 });
  expect(event.data.counts.canceled).toBeGreaterThan(0);
  expect(event.data.counts.queued + event.data.counts.running).toBe(0);
  const log = await batchSettled(ctx.token, id);
  expect(log.items.map((d) => [d.type, d.status_code])).toEqual([['batch.canceled', 204]]);
});

it('an album whose every photo is refused is done at once and gets one signed batch.completed saying so', async () => {
  const { secret } = await settings(ctx.token);
  const id = await album(ctx.token, [null, null], `${receiver.url}/batch/refused`);
  const event = await onlyBatchEvent(secret, '/batch/refused');
  expect(event.type).toBe('batch.completed');
  expect(event.data).toMatchObject({ batch_id: id, status: 'done', total: 2, progress: 1 });
  expect(event.data.counts).toMatchObject({ rejected: 2, succeeded: 0, queued: 0 });
  expect(event.data.rejected.map((r) => r.filename)).toEqual(['broken-0.png', 'broken-1.png']);
  expect((await batchSettled(ctx.token, id)).state).toBe('delivered');
});

it('an album’s failing receiver: its delivery log shows every attempt, then given up, and so do the owner’s settings; only its owner reads it', async () => {
  // `/flaky/…` fails twice, then takes it: 3 attempts with the same webhook-id.
  const flaky = await album(ctx.token, [null], `${receiver.url}/flaky/batch`);
  const ok = await batchSettled(ctx.token, flaky);
  expect(ok.state).toBe('delivered');
  expect(ok.items.map((d) => [d.attempt, d.status_code])).toEqual([
    [1, 500],
    [2, 500],
    [3, 204],
  ]);
  const ids = new Set(receiver.received.filter((r) => r.path === '/flaky/batch').map((r) => r.headers['webhook-id']));
  expect(ids.size).toBe(1);
  // A name that resolves inside the server's network: refused at every connection, never silent.
  const port = new URL(receiver.url).port;
  const refused = await album(ctx.token, [null], `https://localhost:${port}/batch/named`);
  const log = await batchSettled(ctx.token, refused);
  expect(log.state).toBe('given_up');
  expect(log.items).toHaveLength(3);
  for (const d of log.items) {
    expect(d).toMatchObject({ type: 'batch.completed', status_code: null, error: 'refused' });
    expect(d.message).toMatch(/loopback/);
  }
  // The owner's settings list the recent failures, newest first: whose they were and whether given up.
  const view = WebhookSettingsViewSchema.parse(
    await (await fetch(`${ctx.sys.baseUrl}/api/v1/webhooks/settings`, { headers: auth(ctx.token) })).json(),
  );
  const of = (id: string) => view.recent_failures.filter((f) => f.subject_id === id);
  expect(of(refused).map((f) => [f.attempt, f.error, f.given_up])).toEqual([
    [3, 'refused', true],
    [2, 'refused', false],
    [1, 'refused', false],
  ]);
  expect(of(flaky).map((f) => [f.attempt, f.status_code, f.given_up])).toEqual([
    [2, 500, false],
    [1, 500, false],
  ]);
  const other = await addUser(ctx.sys, 'album-hook-other');
  expect(
    WebhookSettingsViewSchema.parse(
      await (await fetch(`${ctx.sys.baseUrl}/api/v1/webhooks/settings`, { headers: auth(other) })).json(),
    ).recent_failures,
  ).toEqual([]);
  const res = await fetch(`${ctx.sys.baseUrl}/api/v1/batches/${refused}/deliveries`, { headers: auth(other) });
  expect(res.status).toBe(404);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe('batch_not_found');
});
