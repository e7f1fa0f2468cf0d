/**
 * Web Push through the real system: two API processes, a worker, Redis, and a push service of our
 * own that records what web-push sends it. The messages are decrypted here with the subscription's
 * private key, as a browser would, so what is checked is what a browser would show.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type PushMessage, PushMessageSchema, PushPublicKeySchema, type Task } from '../../shared/contract.ts';
import { auth, fixture, login, submit, waitForTask } from '../helpers/api.ts';
import { type LocalPushService, makeSubscriber, startPushService } from '../helpers/push-service.ts';
import { launch, type Proc, useSystem } from '../helpers/system.ts';

// The test's push service is plain http on loopback: both allowed here, as an operator could.
const ctx = useSystem({
  workers: 1,
  env: { OUTBOUND_ALLOW_HTTP: 'true', OUTBOUND_ALLOW_ADDRESSES: '127.0.0.1/32' },
});
let pushService: LocalPushService;
let secondApi: Proc | undefined;

beforeAll(async () => {
  pushService = await startPushService((p) => (p.startsWith('/gone') ? 410 : p.startsWith('/fail') ? 500 : 201));
});
afterAll(async () => {
  if (secondApi && secondApi.child.exitCode === null) {
    secondApi.child.kill('SIGTERM');
    await secondApi.exited;
  }
  await pushService?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A log line from whichever API process sent the push (either may win a task). */
function apiLog(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  const procs = [ctx.sys.api, ...(secondApi ? [secondApi] : [])];
  return Promise.any(procs.map((p) => p.waitFor(match, 10_000)));
}

function subscribe(token: string | null, body: unknown, method: 'POST' | 'DELETE' = 'POST', base = ctx.sys.baseUrl) {
  return fetch(`${base}/api/v1/push/subscriptions`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? auth(token) : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function publicKeyOf(base: string): Promise<string> {
  const res = await fetch(`${base}/api/v1/push/public-key`);
  expect(res.status).toBe(200);
  return PushPublicKeySchema.parse(await res.json()).public_key;
}

async function userId(token: string): Promise<string> {
  const me = await fetch(`${ctx.sys.baseUrl}/api/v1/auth/me`, { headers: auth(token) });
  return ((await me.json()) as { id: string }).id;
}

async function storedEndpoints(token: string): Promise<string[]> {
  return (await ctx.sys.redis.hkeys(`${ctx.sys.prefix}:push-subs:${await userId(token)}`)).sort();
}

async function finished(bytes = fixture('astronaut.png')): Promise<Task> {
  const task = await submit(ctx.sys.baseUrl, ctx.token, bytes);
  const done = await waitForTask(ctx.sys.baseUrl, ctx.token, task.task_id);
  expect(done.status).toBe('succeeded');
  return done;
}

/** Checks an ES256 VAPID JWT (RFC 8292) against the raw public key, and returns its claims. */
function verifyVapidJwt(jwt: string, publicKey: string): Record<string, unknown> {
  const [header, claims, signature] = jwt.split('.') as [string, string, string];
  const raw = Buffer.from(publicKey, 'base64url');
  const key = crypto.createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: raw.subarray(1, 33).toString('base64url'),
      y: raw.subarray(33, 65).toString('base64url'),
    },
    format: 'jwk',
  });
  const ok = crypto.verify(
    'sha256',
    Buffer.from(`${header}.${claims}`),
    { key, dsaEncoding: 'ieee-p1363' },
    Buffer.from(signature, 'base64url'),
  );
  expect(ok, 'the VAPID signature verifies with the public key').toBe(true);
  expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toMatchObject({ alg: 'ES256' });
  return JSON.parse(Buffer.from(claims, 'base64url').toString()) as Record<string, unknown>;
}

it('the public key needs no login, is kept 0600 in DATA_DIR/vapid.json, and a second API process uses it too', async () => {
  const key = await publicKeyOf(ctx.sys.baseUrl);
  const raw = Buffer.from(key, 'base64url');
  expect(raw.length).toBe(65); // an uncompressed P-256 point
  expect(raw[0]).toBe(4);

  const file = path.join(ctx.sys.dataDir, 'vapid.json');
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  const before = fs.readFileSync(file, 'utf8');
  expect(JSON.parse(before).publicKey).toBe(key);

  secondApi = launch('api', { env: ctx.sys.env });
  const listening = await secondApi.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('listening on'));
  const secondUrl = String(listening.msg).replace('listening on ', '');
  expect(secondUrl).not.toBe(ctx.sys.baseUrl);
  expect(await publicKeyOf(secondUrl)).toBe(key);
  expect(fs.readFileSync(file, 'utf8')).toBe(before);
  expect(secondApi.logs.join('\n')).not.toContain('generated the VAPID key pair');
});

it('subscribing needs a login and a valid PushSubscription; the same endpoint twice is one subscription', async () => {
  const sub = makeSubscriber(`${pushService.url}/ok/1`).subscription;
  expect((await subscribe(null, sub)).status).toBe(401);
  expect((await subscribe(null, { endpoint: sub.endpoint }, 'DELETE')).status).toBe(401);

  const bad: [string, unknown][] = [
    ['no keys', { endpoint: sub.endpoint }],
    ['not a URL', { ...sub, endpoint: 'not a url' }],
    ['not http(s)', { ...sub, endpoint: 'ftp://push.example/x' }],
    ['javascript:', { ...sub, endpoint: 'javascript:alert(1)' }],
    ['short p256dh', { ...sub, keys: { ...sub.keys, p256dh: sub.keys.p256dh.slice(0, 40) } }],
    ['auth too long', { ...sub, keys: { ...sub.keys, auth: `${sub.keys.auth}AAAA` } }],
    ['not a curve point', { ...sub, keys: { ...sub.keys, p256dh: `B${'A'.repeat(86)}` } }],
    ['not JSON', '{"endpoint":'],
    ['an array', [sub]],
  ];
  for (const [why, body] of bad) {
    const res = await subscribe(ctx.token, body);
    expect(res.status, why).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code, why).toBe('invalid_request');
  }
  const plain = await fetch(`${ctx.sys.baseUrl}/api/v1/push/subscriptions`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', ...auth(ctx.token) },
    body: JSON.stringify(sub),
  });
  expect(plain.status).toBe(400);
  expect(((await plain.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
  const badDelete = await subscribe(ctx.token, { endpoint: 'nope' }, 'DELETE');
  expect(badDelete.status).toBe(400);
  expect(((await badDelete.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
  expect(await storedEndpoints(ctx.token)).toEqual([]);

  expect((await subscribe(ctx.token, sub)).status).toBe(201);
  expect((await subscribe(ctx.token, sub)).status).toBe(201);
  expect(await storedEndpoints(ctx.token)).toEqual([sub.endpoint]);
});

it('a finished task is pushed once (two API processes), with VAPID and a TTL, encrypted for the subscription', async () => {
  // The subscription from the previous test.
  const subscriber = makeSubscriber(`${pushService.url}/ok/1`);
  expect((await subscribe(ctx.token, subscriber.subscription)).status).toBe(201); // new keys, same endpoint
  expect(secondApi?.child.exitCode).toBeNull(); // both API processes hear the task finish

  const task = await finished();
  const [hit] = await pushService.waitFor('/ok/1', 1);
  await sleep(1500); // a second send (from the other API process) would have arrived by now
  expect(pushService.received.filter((r) => r.path === '/ok/1')).toHaveLength(1);
  if (!hit) throw new Error('no push');

  expect(hit.headers['content-encoding']).toBe('aes128gcm');
  expect(hit.headers.ttl).toBe(String(24 * 3600));
  const key = await publicKeyOf(ctx.sys.baseUrl);
  const m = /^vapid t=([\w-]+\.[\w-]+\.[\w-]+), k=([\w-]+)$/.exec(hit.headers.authorization ?? '');
  expect(m, hit.headers.authorization).not.toBeNull();
  expect(m?.[2]).toBe(key);
  const claims = verifyVapidJwt(m?.[1] ?? '', key);
  expect(claims.aud).toBe(pushService.url);
  expect(claims.sub).toBe('mailto:admin@localhost');
  expect(Number(claims.exp)).toBeGreaterThan(Date.now() / 1000);

  expect(hit.body.length).toBeLessThan(4096);
  const message: PushMessage = PushMessageSchema.parse(JSON.parse(subscriber.decrypt(hit.body).toString('utf8')));
  expect(message.type).toBe('task');
  expect(message.task.task_id).toBe(task.task_id);
  expect(message.task.status).toBe('succeeded');
  expect(message.task).toEqual(task);
  expect(message.detections_omitted).toBe(0);
  expect(message.task.detections.map((d) => d.label)).toContain('person');
});

it('a subscription the push service calls gone (410) is removed; the next task sends nothing to it', async () => {
  const gone = makeSubscriber(`${pushService.url}/gone/1`);
  expect((await subscribe(ctx.token, gone.subscription)).status).toBe(201);

  const first = await finished();
  await pushService.waitFor('/gone/1', 1);
  await pushService.waitFor('/ok/1', 2);
  const removed = await apiLog((l) => l.msg === 'push subscription gone; removed' && l.task_id === first.task_id);
  expect(removed).toMatchObject({ status_code: 410, push_service: pushService.url });
  expect(await storedEndpoints(ctx.token)).toEqual([`${pushService.url}/ok/1`]);

  await finished(fixture('coffee.png'));
  await pushService.waitFor('/ok/1', 3);
  await sleep(1000);
  expect(pushService.received.filter((r) => r.path === '/gone/1')).toHaveLength(1);
});

it('a failing push service is logged with the task id and breaks nothing', async () => {
  const failing = makeSubscriber(`${pushService.url}/fail/1`);
  expect((await subscribe(ctx.token, failing.subscription)).status).toBe(201);
  const task = await finished();
  await pushService.waitFor('/fail/1', 1);
  await pushService.waitFor('/ok/1', 4); // the other subscription got its message all the same
  const logged = await apiLog((l) => l.msg === 'push failed' && l.task_id === task.task_id);
  expect(logged).toMatchObject({ level: 'warn', status_code: 500 });
  expect(await storedEndpoints(ctx.token)).toContain(failing.subscription.endpoint); // kept: it may recover
  expect((await fetch(`${ctx.sys.baseUrl}/healthz`)).status).toBe(200);
});

it('DELETE ends a subscription (204, also when there is none)', async () => {
  for (const endpoint of [`${pushService.url}/ok/1`, `${pushService.url}/fail/1`, `${pushService.url}/never`]) {
    expect((await subscribe(ctx.token, { endpoint }, 'DELETE')).status).toBe(204);
  }
  expect(await storedEndpoints(ctx.token)).toEqual([]);
  const count = pushService.received.length;
  await finished();
  await sleep(1500);
  expect(pushService.received).toHaveLength(count);
});

it('a user keeps the 20 newest subscriptions; an endpoint subscribed by another user moves to them', async () => {
  const cli = launch('cli', { env: ctx.sys.env, args: ['users', 'add', 'bob'] });
  cli.child.stdin?.end('bobs-password-123\n');
  expect(await cli.exited, cli.logs.join('\n')).toBe(0);
  const bob = await login(ctx.sys.baseUrl, 'bob', 'bobs-password-123');

  const endpoints = Array.from({ length: 22 }, (_, i) => `${pushService.url}/cap/${String(i).padStart(2, '0')}`);
  for (const endpoint of endpoints) {
    expect((await subscribe(bob, makeSubscriber(endpoint).subscription)).status).toBe(201);
  }
  expect(await storedEndpoints(bob)).toEqual(endpoints.slice(2));

  // Alice logs in on bob's browser: its endpoint is hers now, and bob's tasks no longer go there.
  const shared = endpoints[5] ?? '';
  expect((await subscribe(ctx.token, makeSubscriber(shared).subscription)).status).toBe(201);
  expect(await storedEndpoints(ctx.token)).toEqual([shared]);
  expect(await storedEndpoints(bob)).not.toContain(shared);
  expect(await storedEndpoints(bob)).toHaveLength(19);
});

it('removing a user (CLI) drops their push subscriptions', async () => {
  const bob = await login(ctx.sys.baseUrl, 'bob', 'bobs-password-123');
  const bobId = await userId(bob);
  const endpoints = await storedEndpoints(bob);
  expect(endpoints).toHaveLength(19);
  const cli = launch('cli', { env: ctx.sys.env, args: ['users', 'remove', 'bob'] });
  expect(await cli.exited, cli.logs.join('\n')).toBe(0);
  expect(cli.logs.join('\n')).toContain('removed bob and 19 push subscription(s)');
  const key = (rest: string) => `${ctx.sys.prefix}:${rest}`;
  expect(await ctx.sys.redis.exists(key(`push-subs:${bobId}`), key(`push-subs-order:${bobId}`))).toBe(0);
  const sha = (s: string) => crypto.createHash('sha256').update(s).digest('hex');
  expect(await ctx.sys.redis.exists(...endpoints.map((e) => key(`push-endpoint:${sha(e)}`)))).toBe(0);
});

it('a task that finishes while no API process runs is pushed when one starts again', async () => {
  const later = makeSubscriber(`${pushService.url}/later/1`);
  expect((await subscribe(ctx.token, later.subscription)).status).toBe(201);
  // With no worker the task waits in the queue while every API process goes away.
  for (const w of ctx.sys.workers) {
    w.child.kill('SIGTERM');
    await w.exited;
  }
  const task = await submit(ctx.sys.baseUrl, ctx.token, fixture('coffee.png'));
  for (const api of [ctx.sys.api, secondApi]) {
    if (!api || api.child.exitCode !== null) continue;
    api.child.kill('SIGTERM');
    await api.exited;
  }
  await ctx.sys.startWorker();
  const statusKey = `${ctx.sys.prefix}:task:${task.task_id}`;
  for (let i = 0; i < 300 && (await ctx.sys.redis.hget(statusKey, 'status')) !== 'succeeded'; i++) await sleep(100);
  expect(await ctx.sys.redis.hget(statusKey, 'status'), ctx.sys.dump()).toBe('succeeded');
  await sleep(500);
  expect(pushService.received.filter((r) => r.path === '/later/1')).toHaveLength(0); // nobody to send it

  // An API process starts (on the same port, as after a restart) and sends what is owed.
  const api = launch('api', { env: { ...ctx.sys.env, PORT: new URL(ctx.sys.baseUrl).port } });
  ctx.sys.api = api;
  await api.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('listening on'));
  // The new process starts, reads what is owed and sends it (a loaded machine takes seconds).
  const [hit] = await pushService.waitFor('/later/1', 1, 30_000);
  if (!hit) throw new Error('no push');
  const message = PushMessageSchema.parse(JSON.parse(later.decrypt(hit.body).toString('utf8')));
  expect(message.task).toMatchObject({ task_id: task.task_id, status: 'succeeded' });
  // Acknowledged and dropped once its send has ended (the push service may see the request first).
  const outbox = `${ctx.sys.prefix}:push-outbox`;
  for (let i = 0; i < 50 && (await ctx.sys.redis.xlen(outbox)) > 0; i++) await sleep(100);
  expect(await ctx.sys.redis.xlen(outbox)).toBe(0);
});

it('is in the OpenAPI document with its schemas', async () => {
  const doc = (await (await fetch(`${ctx.sys.baseUrl}/api/openapi.json`)).json()) as {
    paths: Record<string, Record<string, unknown>>;
    components: { schemas: Record<string, unknown> };
  };
  expect(Object.keys(doc.paths['/api/v1/push/public-key'] ?? {})).toEqual(['get']);
  expect(Object.keys(doc.paths['/api/v1/push/subscriptions'] ?? {}).sort()).toEqual(['delete', 'post']);
  expect(Object.keys(doc.components.schemas)).toEqual(
    expect.arrayContaining(['PushSubscription', 'PushUnsubscribe', 'PushPublicKey', 'PushMessage']),
  );
});
