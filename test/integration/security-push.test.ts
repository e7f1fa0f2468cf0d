/**
 * Push endpoints are URLs users give the server: hostile ones must not crash the API, make it
 * reach inside its own network, or hold back other users' notifications. The real API process,
 * a worker and Redis; https endpoints on this machine with a certificate the test makes and the
 * API trusts (NODE_EXTRA_CA_CERTS), listening on 127.0.0.2 — the one inside address this
 * system's operator exempted (OUTBOUND_ALLOW_ADDRESSES). 127.0.0.1 stays forbidden.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { PushSubscriptionStore } from '../../server/push/subscription-store.ts';
import { keys } from '../../server/redis.ts';
import { PushMessageSchema, type PushSubscription, type Task } from '../../shared/contract.ts';
import { auth, fixture, submit, waitForTask } from '../helpers/api.ts';
import { makeSubscriber, startPushService } from '../helpers/push-service.ts';
import { addUser, useSystem } from '../helpers/system.ts';
import { makeTestTls } from '../helpers/tls.ts';

const ENDPOINT_HOST = '127.0.0.2';
const tls = makeTestTls([ENDPOINT_HOST]);
const ctx = useSystem({
  workers: 1,
  env: {
    NODE_EXTRA_CA_CERTS: tls.caFile,
    OUTBOUND_ALLOW_ADDRESSES: `${ENDPOINT_HOST}/32`,
    // Long, so that a trickling endpoint is still being sent to while the other user's push goes.
    OUTBOUND_TIMEOUT_MS: '60000',
  },
});
afterAll(() => tls.remove());

function subscribe(token: string, subscription: PushSubscription): Promise<Response> {
  return fetch(`${ctx.sys.baseUrl}/api/v1/push/subscriptions`, {
    method: 'POST',
    headers: { ...auth(token), 'content-type': 'application/json' },
    body: JSON.stringify(subscription),
  });
}

async function finishedTask(token: string): Promise<Task> {
  const task = await submit(ctx.sys.baseUrl, token, fixture('coffee.png'));
  const done = await waitForTask(ctx.sys.baseUrl, token, task.task_id);
  expect(done.status).toBe('succeeded');
  return done;
}

/** A plain listener on an address the server must never reach; counts the connections it gets. */
async function forbiddenListener(
  host = '127.0.0.1',
): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  let connections = 0;
  const server = http.createServer((_req, res) => res.writeHead(201).end());
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://${host}:${port}`,
    connections: () => connections,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const outboxLength = () => ctx.sys.redis.xlen(`${ctx.sys.prefix}:push-outbox`);

describe('push endpoints users give', () => {
  it('an endpoint whose answer never ends cannot crash the API: it reads a little, hangs up, and the others still get their push', async () => {
    let written = 0;
    let hungUp!: () => void;
    const closed = new Promise<void>((resolve) => (hungUp = resolve));
    const endless = await startPushService(undefined, {
      tls,
      host: ENDPOINT_HOST,
      respond: (_req, res) => {
        res.writeHead(201, { 'content-type': 'text/plain' });
        const chunk = Buffer.alloc(64 * 1024, 'x');
        const pump = () => {
          while (!res.destroyed && res.write(chunk)) written += chunk.length;
          if (!res.destroyed) res.once('drain', pump);
        };
        res.on('close', () => hungUp());
        pump();
      },
    });
    const fine = await startPushService(() => 201, { tls, host: ENDPOINT_HOST });
    try {
      const other = makeSubscriber(`${fine.url}/fine`);
      expect((await subscribe(ctx.token, makeSubscriber(`${endless.url}/endless`).subscription)).status).toBe(201);
      expect((await subscribe(ctx.token, other.subscription)).status).toBe(201);

      const task = await finishedTask(ctx.token);
      await closed; // the API stopped reading the endless answer and closed the connection
      const [push] = await fine.waitFor('/fine', 1);
      const message = PushMessageSchema.parse(JSON.parse(other.decrypt(push?.body ?? Buffer.alloc(0)).toString()));
      expect(message.task.task_id).toBe(task.task_id);

      // Far from the half a gigabyte that used to end in "RangeError: Invalid string length".
      expect(written).toBeLessThan(64 * 1024 * 1024);
      expect(ctx.sys.api.child.exitCode, ctx.sys.dump()).toBeNull();
      expect((await fetch(`${ctx.sys.baseUrl}/healthz`)).status).toBe(200);
      // Acknowledged: the entry will not be claimed again and sent (and crash) once more.
      await expect.poll(outboxLength, { timeout: 10_000 }).toBe(0);
    } finally {
      await fetch(`${ctx.sys.baseUrl}/api/v1/push/subscriptions`, {
        method: 'DELETE',
        headers: { ...auth(ctx.token), 'content-type': 'application/json' },
        body: JSON.stringify({ endpoint: `${endless.url}/endless` }),
      });
      await endless.close();
      await fine.close();
    }
  });

  it('a slow endpoint holds back only its own delivery, never another user’s push', async () => {
    let slowClosed = false;
    const slow = await startPushService(undefined, {
      tls,
      host: ENDPOINT_HOST,
      respond: (_req, res) => {
        // Headers at once, then a byte every 2 s: never done, never idle.
        res.writeHead(201);
        const timer = setInterval(() => res.write('.'), 2000);
        res.on('close', () => {
          clearInterval(timer);
          slowClosed = true;
        });
      },
    });
    const quick = await startPushService(() => 201, { tls, host: ENDPOINT_HOST });
    const carol = await addUser(ctx.sys, 'carol-slow-push');
    const dave = await addUser(ctx.sys, 'dave-quick-push');
    try {
      expect((await subscribe(carol, makeSubscriber(`${slow.url}/carol`).subscription)).status).toBe(201);
      expect((await subscribe(dave, makeSubscriber(`${quick.url}/dave`).subscription)).status).toBe(201);

      await finishedTask(carol);
      await slow.waitFor('/carol', 1); // carol's push is now stuck on her endpoint's answer
      await finishedTask(dave);
      await quick.waitFor('/dave', 1, 30_000);
      // Dave's push came while carol's delivery was still open.
      expect(slowClosed).toBe(false);
    } finally {
      await slow.close();
      await quick.close();
    }
  });

  it('endpoints inside the server’s network are refused when registered, whatever their spelling', async () => {
    const inside = [
      'https://127.0.0.1/x',
      'https://localhost/x',
      'https://[::1]/x',
      'https://169.254.169.254/latest/meta-data',
      'https://10.0.0.1/x',
      'https://172.16.5.4/x',
      'https://192.168.1.1/x',
      'https://100.64.0.1/x',
      'https://2130706433/x', // 127.0.0.1 as one decimal number
      'https://0x7f.1/x', // 127.0.0.1 in hex
      'https://0.0.0.0/x',
      'https://[::ffff:127.0.0.1]/x', // IPv4-mapped
      'https://[::ffff:a9fe:a9fe]/x', // 169.254.169.254, mapped, in hex
      'https://[64:ff9b::7f00:1]/x', // NAT64 of 127.0.0.1
      'https://[2002:7f00:1::]/x', // 6to4 of 127.0.0.1
      'https://[fd00::1]/x', // unique-local
      'https://[fe80::1]/x', // link-local
      'https://user:secret@push.example/x', // credentials in the URL
      'http://push.example/x', // plain http
    ];
    for (const endpoint of inside) {
      const res = await subscribe(ctx.token, makeSubscriber(endpoint).subscription);
      expect(res.status, endpoint).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code, endpoint).toBe('invalid_request');
      expect(body.error.message, endpoint).toMatch(/^endpoint: /);
    }
    // A public-looking name that does not resolve here is accepted (it is checked at every send).
    expect((await subscribe(ctx.token, makeSubscriber('https://push.example/send/abc').subscription)).status).toBe(201);
  });

  it('the address is checked when connecting, not only when registering: an endpoint stored earlier is never reached', async () => {
    const listener = await forbiddenListener();
    const erin = await addUser(ctx.sys, 'erin-old-subscription');
    const erinId = (
      (await (await fetch(`${ctx.sys.baseUrl}/api/v1/auth/me`, { headers: auth(erin) })).json()) as {
        id: string;
      }
    ).id;
    try {
      // As an older server accepted it, or as a name that pointed elsewhere when it was registered.
      await new PushSubscriptionStore(ctx.sys.redis, keys(ctx.sys.prefix)).add(
        erinId,
        makeSubscriber(`${listener.url}/inside`).subscription,
      );
      const task = await finishedTask(erin);
      const failed = await ctx.sys.api.waitFor((l) => l.msg === 'push failed' && l.task_id === task.task_id, 20_000);
      expect(String(failed.err)).toContain('127.0.0.1');
      expect(listener.connections()).toBe(0);
    } finally {
      await listener.close();
    }
  });

  it('redirects are not followed', async () => {
    const target = await startPushService(() => 201, { tls, host: ENDPOINT_HOST });
    const redirecting = await startPushService(undefined, {
      tls,
      host: ENDPOINT_HOST,
      respond: (_req, res) => res.writeHead(307, { location: `${target.url}/moved` }).end(),
    });
    const frank = await addUser(ctx.sys, 'frank-redirect');
    try {
      expect((await subscribe(frank, makeSubscriber(`${redirecting.url}/frank`).subscription)).status).toBe(201);
      const task = await finishedTask(frank);
      const failed = await ctx.sys.api.waitFor((l) => l.msg === 'push failed' && l.task_id === task.task_id, 20_000);
      expect(failed.status_code).toBe(307);
      expect(target.received).toHaveLength(0);
    } finally {
      await target.close();
      await redirecting.close();
    }
  });
});
