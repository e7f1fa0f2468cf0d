/**
 * What a hostile or careless client can try over HTTP without any worker: sessions that outlive
 * their user, guessing passwords, writes from other origins, bad cursors, files after a cancel,
 * and the page's security headers. The API's app in process (`app.request`) on the real Redis.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { UserStore } from '../../server/auth/user-store.ts';
import { TaskSchema } from '../../shared/contract.ts';
import { fixture } from '../helpers/api.ts';
import { ORIGIN, useInProcess } from '../helpers/in-process.ts';

const ctx = useInProcess({
  // One trusted proxy: the test speaks for many client addresses through X-Forwarded-For.
  TRUST_PROXY_HOPS: '1',
  LOGIN_MAX_FAILURES_PER_PAIR: '3',
  LOGIN_MAX_FAILURES_PER_ADDRESS: '8',
  LOGIN_MAX_FAILURES_PER_ACCOUNT: '5',
  MAX_WAITS_PER_USER: '3',
});

type ErrorBody = { error: { code: string; message: string } };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const cookie = (token: string) => ({ cookie: `twinlens_session=${token}` });
const from = (address: string) => ({ 'x-forwarded-for': address });

function uploadForm(bytes: Buffer, fields: Record<string, string> = {}): FormData {
  const form = new FormData();
  form.set('image', new Blob([new Uint8Array(bytes)]), 'photo');
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  return form;
}

describe('sessions', () => {
  it('a removed user’s sessions never come back, not even for a new user of the same name (and role)', async () => {
    const { api } = ctx;
    const users = new UserStore(api.services.redis, api.services.keys);
    const { token } = await api.addUser('mallory', 'admin');
    expect((await api.request('/admin/queues', { headers: bearer(token) })).status).toBe(200);

    await users.remove('mallory');
    await users.add('mallory', randomBytes(12).toString('base64url'), 'user');

    for (const path of ['/api/v1/auth/me', '/api/v1/tasks', '/admin/queues']) {
      const res = await api.request(path, { headers: bearer(token) });
      expect(res.status, path).toBe(401);
    }
  });

  it('a session made before sessions named their user by id still works while that user exists', async () => {
    const { api } = ctx;
    const { token } = await api.addUser('olivia');
    const me = (await (await api.request('/api/v1/auth/me', { headers: bearer(token) })).json()) as {
      id: string;
    };
    // The old record: the whole user, as the previous version stored it.
    const key = api.services.keys.session(createHash('sha256').update(token).digest('hex'));
    await api.services.redis.set(key, JSON.stringify({ ...me, role: 'admin' }), 'EX', 60);
    const res = await api.request('/api/v1/auth/me', { headers: bearer(token) });
    expect(res.status).toBe(200);
    // The role is the user record's, not what the session says.
    expect(((await res.json()) as { role: string }).role).toBe('user');
  });
});

describe('login attempts', () => {
  it('per account and address: refused with Retry-After after a few failures, even with the right password; another address is not held back', async () => {
    const { api } = ctx;
    const { password } = await api.addUser('peggy');
    for (let i = 0; i < 3; i++)
      expect((await api.login('peggy', 'wrong-password', from('203.0.113.7'))).status).toBe(401);
    const refused = await api.login('peggy', password, from('203.0.113.7'));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await refused.json()) as ErrorBody).error.code).toBe('rate_limited');
    expect((await api.login('peggy', password, from('198.51.100.20'))).status).toBe(200);
  });

  it('per address: one address cannot spray guesses over many accounts', async () => {
    const { api } = ctx;
    const { password } = await api.addUser('quentin');
    for (let i = 0; i < 8; i++) {
      expect((await api.login(`sprayed-${i}`, 'wrong-password', from('192.0.2.99'))).status).toBe(401);
    }
    expect((await api.login('quentin', password, from('192.0.2.99'))).status).toBe(429);
  });

  it('per account: many addresses together are stopped, but not the owner at an address they logged in from before', async () => {
    const { api } = ctx;
    const { password } = await api.addUser('rupert');
    expect((await api.login('rupert', password, from('2001:db8:1:2::10'))).status).toBe(200);
    for (let i = 0; i < 5; i++) {
      expect((await api.login('rupert', 'wrong-password', from(`198.18.0.${i + 1}`))).status).toBe(401);
    }
    expect((await api.login('rupert', password, from('198.18.0.200'))).status).toBe(429);
    // The owner's address (another host of the same /64): not held back by the others' failures.
    expect((await api.login('rupert', password, from('2001:db8:1:2::99'))).status).toBe(200);
  });
});

describe('writes authenticated by the cookie come from our own origin', () => {
  it('an upload with the cookie from another origin of the same site is refused; from the page it is taken', async () => {
    const { api } = ctx;
    const { token } = await api.addUser('sybil');
    const attempts: Record<string, string>[] = [
      { origin: 'http://other.twinlens.test', 'sec-fetch-site': 'same-site' },
      { origin: 'http://twinlens.test:8443' },
      { origin: 'null' },
      {}, // neither header: a cookie alone is not enough
    ];
    for (const headers of attempts) {
      const res = await api.request('/api/v1/tasks', {
        method: 'POST',
        headers: { ...cookie(token), ...headers },
        body: uploadForm(fixture('chelsea.png')),
      });
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(((await res.json()) as ErrorBody).error.code).toBe('forbidden');
    }
    const page = await api.request('/api/v1/tasks', {
      method: 'POST',
      headers: { ...cookie(token), origin: ORIGIN, 'sec-fetch-site': 'same-origin' },
      body: uploadForm(fixture('chelsea.png')),
    });
    expect(page.status).toBe(202);
    // Bearer tokens are not affected, whatever the origin says.
    const client = await api.request('/api/v1/tasks', {
      method: 'POST',
      headers: { ...bearer(token), origin: 'http://elsewhere.test' },
      body: uploadForm(fixture('chelsea.png')),
    });
    expect(client.status).toBe(202);
  });

  it('Bull Board’s actions take no text/plain request from another origin with the admin’s cookie', async () => {
    const { api } = ctx;
    const login = await api.login(api.admin.username, api.admin.password);
    const token = ((await login.json()) as { token: string }).token;
    const evil = { ...cookie(token), origin: 'http://evil.test', 'sec-fetch-site': 'cross-site' };
    const jobs = await api.services.queue.queueFor('centernet').count();
    const pause = await api.request('/admin/queues/api/queues/pause', { method: 'PUT', headers: evil });
    expect(pause.status).toBe(403);
    const add = await api.request('/admin/queues/api/queues/detect/add', {
      method: 'POST',
      headers: { ...evil, 'content-type': 'text/plain' },
      body: JSON.stringify({ name: 'detect', data: { taskId: 'x' } }),
    });
    expect(add.status).toBe(403);
    expect(await api.services.queue.queueFor('centernet').isPaused()).toBe(false);
    expect(await api.services.queue.queueFor('centernet').count()).toBe(jobs);
  });

  it('logging in or out from another site is refused (login CSRF)', async () => {
    const { api } = ctx;
    const login = await api.login(api.admin.username, api.admin.password, {
      origin: 'http://evil.test',
      'sec-fetch-site': 'cross-site',
    });
    expect(login.status).toBe(403);
    const { token } = await api.addUser('trent');
    const logout = await api.request('/api/v1/auth/logout', {
      method: 'POST',
      headers: { ...cookie(token), origin: 'http://evil.test' },
    });
    expect(logout.status).toBe(403);
    expect((await api.request('/api/v1/auth/me', { headers: bearer(token) })).status).toBe(200);
  });
});

describe('tasks', () => {
  it('a cursor that is not one → 400 invalid_request, not a database error', async () => {
    const { api } = ctx;
    const { token } = await api.addUser('ursula');
    for (const cursor of ['99999999999999999999', '-1', '1e3', 'abc']) {
      const res = await api.request(`/api/v1/tasks?cursor=${cursor}`, { headers: bearer(token) });
      expect(res.status, cursor).toBe(400);
      expect(((await res.json()) as ErrorBody).error.code).toBe('invalid_request');
    }
  });

  it('a canceled task’s image is gone for it, even while another task holds the same bytes', async () => {
    const { api } = ctx;
    const { token } = await api.addUser('victor');
    const make = async () => {
      const res = await api.request('/api/v1/tasks', {
        method: 'POST',
        headers: bearer(token),
        body: uploadForm(fixture('coffee.png')),
      });
      expect(res.status).toBe(202);
      return TaskSchema.parse(await res.json());
    };
    const a = await make();
    const b = await make(); // same bytes: one stored file, two claims
    const cancel = await api.request(`/api/v1/tasks/${a.task_id}`, { method: 'DELETE', headers: bearer(token) });
    expect(cancel.status).toBe(200);
    expect((await api.request(`/api/v1/tasks/${a.task_id}/image`, { headers: bearer(token) })).status).toBe(404);
    const still = await api.request(`/api/v1/tasks/${b.task_id}/image`, { headers: bearer(token) });
    expect(still.status).toBe(200);
    expect(Buffer.from(await still.arrayBuffer()).equals(fixture('coffee.png'))).toBe(true);
  });
});

describe('connections held open', () => {
  it('one user may hold only a few event streams and long polls at once; closing one frees its place', async () => {
    const { api } = ctx;
    const { token } = await api.addUser('wendy');
    const created = await api.request('/api/v1/tasks', {
      method: 'POST',
      headers: bearer(token),
      body: uploadForm(fixture('chelsea.png')),
    });
    const { task_id } = TaskSchema.parse(await created.json()); // stays queued: no worker here
    const open: AbortController[] = [];
    const stream = () => {
      const abort = new AbortController();
      open.push(abort);
      return api.request(`/api/v1/tasks/${task_id}/events`, { headers: bearer(token), signal: abort.signal });
    };
    try {
      for (let i = 0; i < 3; i++) expect((await stream()).status).toBe(200);
      const refused = await stream();
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect(((await refused.json()) as ErrorBody).error.code).toBe('rate_limited');
      const poll = await api.request(`/api/v1/tasks/${task_id}?wait=5`, { headers: bearer(token) });
      expect(poll.status).toBe(429);
      // Another user is not affected.
      const other = await api.addUser('xavier');
      const theirs = await api.request('/api/v1/tasks', { headers: bearer(other.token) });
      expect(theirs.status).toBe(200);

      open[0]?.abort();
      await expect.poll(async () => (await stream()).status, { timeout: 5000 }).toBe(200);
    } finally {
      for (const a of open) a.abort();
    }
  });
});

describe('the page', () => {
  it('is served with a strict Content-Security-Policy and the usual security headers', async () => {
    const { api } = ctx;
    for (const path of ['/', '/index.html', '/sw.js']) {
      const res = await api.request(path);
      expect(res.status, path).toBe(200);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      const permissions = res.headers.get('permissions-policy') ?? '';
      expect(permissions).toContain('geolocation=()');
      // The Live view's camera: this origin only; the microphone never.
      expect(permissions).toContain('camera=(self)');
      expect(permissions).not.toContain('camera=()');
      expect(permissions).toContain('microphone=()');
      expect(csp).toContain("media-src 'self' blob:");
    }
  });
});
