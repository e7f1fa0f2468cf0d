/**
 * API keys (issue 23) through HTTP, on the real Redis: made once and shown once, held to their
 * scopes, refused at once when revoked or expired, never reaching another user's tasks, listed and
 * revoked by admins, and described in the OpenAPI document with the scope each route needs.
 */
import { describe, expect, it } from 'vitest';
import { UserStore } from '../../server/auth/user-store.ts';
import { type ApiKey, type ApiKeyCreated, ApiKeyCreatedSchema, ApiKeyListSchema } from '../../shared/contract.ts';
import { fixture } from '../helpers/api.ts';
import { useInProcess } from '../helpers/in-process.ts';

// Low login limits: refused keys must not count toward them. The test of that sends from an address of
// its own (X-Forwarded-For, one trusted proxy); the others' logins come from no address and all succeed.
const ctx = useInProcess({
  TRUST_PROXY_HOPS: '1',
  LOGIN_MAX_FAILURES_PER_PAIR: '2',
  LOGIN_MAX_FAILURES_PER_ADDRESS: '2',
  LOGIN_MAX_FAILURES_PER_ACCOUNT: '2',
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function adminToken(): Promise<string> {
  const res = await ctx.api.login(ctx.api.admin.username, ctx.api.admin.password);
  return ((await res.json()) as { token: string }).token;
}

async function makeKey(token: string, body: Record<string, unknown>): Promise<ApiKeyCreated> {
  const res = await ctx.api.request('/api/v1/api-keys', {
    method: 'POST',
    headers: { ...bearer(token), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status, await res.clone().text()).toBe(201);
  return ApiKeyCreatedSchema.parse(await res.json());
}

function uploadForm(name = 'chelsea.png'): FormData {
  const form = new FormData();
  form.set('image', new Blob([new Uint8Array(fixture(name))]), name);
  return form;
}

async function errorCode(res: Response): Promise<string | undefined> {
  return ((await res.json()) as { error?: { code?: string } }).error?.code;
}

async function listOwn(token: string): Promise<ApiKey[]> {
  const res = await ctx.api.request('/api/v1/api-keys', { headers: bearer(token) });
  expect(res.status).toBe(200);
  return ApiKeyListSchema.parse(await res.json()).items;
}

describe('API keys', () => {
  it('a new key is shown once; the list and Redis hold no secret, only its prefix and hash', async () => {
    const token = await adminToken();
    const key = await makeKey(token, { name: 'nightly import', scopes: ['tasks:read', 'tasks:write'] });
    expect(key.secret).toMatch(/^tlk_[A-Za-z0-9_-]{43}$/);
    expect(key.secret.startsWith(key.prefix)).toBe(true);
    expect(key).toMatchObject({ name: 'nightly import', username: 'alice', expires_at: null, last_used_at: null });
    const listed = (await listOwn(token)).find((k) => k.id === key.id);
    expect(listed).toBeDefined();
    expect(JSON.stringify(await listOwn(token))).not.toContain(key.secret);
    expect(listed).not.toHaveProperty('secret');
    // Nothing under this test's prefix holds the secret (only its SHA-256 is kept).
    const redis = ctx.api.services.redis;
    const stored: string[] = [];
    for (const k of await redis.keys(`${ctx.api.prefix}*`)) {
      const type = await redis.type(k);
      if (type === 'string') stored.push(k, (await redis.get(k)) ?? '');
      if (type === 'hash') stored.push(k, JSON.stringify(await redis.hgetall(k)));
    }
    expect(stored.join('\n')).toContain(key.id);
    expect(stored.join('\n')).not.toContain(key.secret);
  });

  it('a key with only tasks:read can read but not upload (403 insufficient_scope, nothing stored)', async () => {
    const { token } = await ctx.api.addUser('reader');
    const key = await makeKey(token, { name: 'read only', scopes: ['tasks:read'] });
    for (const headers of [bearer(key.secret), { 'x-api-key': key.secret }]) {
      const list = await ctx.api.request('/api/v1/tasks', { headers });
      expect(list.status).toBe(200);
      const up = await ctx.api.request('/api/v1/tasks', { method: 'POST', headers, body: uploadForm() });
      expect(up.status).toBe(403);
      expect(await errorCode(up)).toBe('insufficient_scope');
      expect(up.headers.get('www-authenticate')).toContain('scope="tasks:write"');
      const album = await ctx.api.request('/api/v1/batches', { method: 'POST', headers, body: uploadForm() });
      expect(album.status).toBe(403);
    }
    const mine = await ctx.api.request('/api/v1/tasks', { headers: bearer(token) });
    expect(((await mine.json()) as { items: unknown[] }).items).toHaveLength(0);
    // Nor the webhook settings (a scope of their own).
    const hooks = await ctx.api.request('/api/v1/webhooks/settings', { headers: bearer(key.secret) });
    expect(hooks.status).toBe(403);
  });

  it('a key with tasks:write and tasks:read uploads, reads, and deletes its user’s task', async () => {
    const { token } = await ctx.api.addUser('writer');
    const key = await makeKey(token, { name: 'uploader', scopes: ['tasks:write', 'tasks:read'] });
    const up = await ctx.api.request('/api/v1/tasks', {
      method: 'POST',
      headers: bearer(key.secret),
      body: uploadForm(),
    });
    expect(up.status, await up.clone().text()).toBe(202);
    const { task_id } = (await up.json()) as { task_id: string };
    // The task is the user's: their session sees it.
    expect((await ctx.api.request(`/api/v1/tasks/${task_id}`, { headers: bearer(token) })).status).toBe(200);
    expect((await ctx.api.request(`/api/v1/tasks/${task_id}`, { headers: { 'x-api-key': key.secret } })).status).toBe(
      200,
    );
    const img = await ctx.api.request(`/api/v1/tasks/${task_id}/image`, { headers: bearer(key.secret) });
    expect(img.status).toBe(200);
    expect(Buffer.from(await img.arrayBuffer()).equals(fixture('chelsea.png'))).toBe(true);
    const del = await ctx.api.request(`/api/v1/tasks/${task_id}`, { method: 'DELETE', headers: bearer(key.secret) });
    expect([200, 204]).toContain(del.status);
  });

  it('routes for people refuse keys with 403 insufficient_scope: a key cannot make keys', async () => {
    const { token } = await ctx.api.addUser('escalator');
    const key = await makeKey(token, {
      name: 'all',
      scopes: ['tasks:read', 'tasks:write', 'webhooks:read', 'webhooks:write'],
    });
    for (const [method, path, body] of [
      ['POST', '/api/v1/api-keys', JSON.stringify({ name: 'wider', scopes: ['tasks:write'] })],
      ['GET', '/api/v1/api-keys', undefined],
      ['GET', '/api/v1/admin/api-keys', undefined],
      ['POST', '/api/v1/auth/logout', undefined],
      ['POST', '/api/v1/push/subscriptions', '{}'],
    ] as const) {
      const res = await ctx.api.request(path, {
        method,
        headers: { ...bearer(key.secret), 'content-type': 'application/json' },
        body,
      });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(await errorCode(res)).toBe('insufficient_scope');
    }
    expect(await listOwn(token)).toHaveLength(1);
    // /auth/me takes any valid key (a program can ask whose key it holds).
    const me = await ctx.api.request('/api/v1/auth/me', { headers: bearer(key.secret) });
    expect(await me.json()).toMatchObject({ username: 'escalator' });
  });

  it('a revoked key → 401 on the very next request; unknown and malformed keys → 401', async () => {
    const { token } = await ctx.api.addUser('revoker');
    const key = await makeKey(token, { name: 'short-lived', scopes: ['tasks:read'] });
    expect((await ctx.api.request('/api/v1/tasks', { headers: bearer(key.secret) })).status).toBe(200);
    const del = await ctx.api.request(`/api/v1/api-keys/${key.id}`, { method: 'DELETE', headers: bearer(token) });
    expect(del.status).toBe(204);
    const after = await ctx.api.request('/api/v1/tasks', { headers: bearer(key.secret) });
    expect(after.status).toBe(401);
    expect(await errorCode(after)).toBe('unauthorized');
    expect(await listOwn(token)).toHaveLength(0);
    // Revoked twice: 404.
    expect(
      (await ctx.api.request(`/api/v1/api-keys/${key.id}`, { method: 'DELETE', headers: bearer(token) })).status,
    ).toBe(404);
    for (const bad of [`tlk_${'A'.repeat(43)}`, 'tlk_short', `${key.secret}x`]) {
      for (const headers of [bearer(bad), { 'x-api-key': bad }]) {
        const res = await ctx.api.request('/api/v1/tasks', { headers });
        expect(res.status, bad).toBe(401);
        expect(await res.text()).not.toContain(bad);
      }
    }
    // A public route does not look at keys at all.
    expect((await ctx.api.request('/api/v1/models', { headers: bearer(key.secret) })).status).toBe(200);
  });

  it('refused keys do not count toward the login limits', async () => {
    const { password } = await ctx.api.addUser('ivan');
    const from = { 'x-forwarded-for': '203.0.113.7' };
    for (let i = 0; i < 10; i++) {
      const res = await ctx.api.request('/api/v1/tasks', {
        headers: { ...from, 'x-api-key': `tlk_${String(i).repeat(43)}` },
      });
      expect(res.status).toBe(401);
    }
    // One wrong password: still under the limit of 2 (the ten refused keys counted nothing)…
    const wrong = await ctx.api.login('ivan', 'not-the-password', from);
    expect(wrong.status).toBe(401);
    expect(await errorCode(wrong)).toBe('invalid_credentials');
    // …and the limit is real: the second reaches it, the third is refused before the password is checked.
    expect((await ctx.api.login('ivan', 'not-the-password', from)).status).toBe(401);
    expect((await ctx.api.login('ivan', password, from)).status).toBe(429);
  });

  it('an expired key → 401 as soon as its time is up; an expiry in the past is refused', async () => {
    const { token } = await ctx.api.addUser('expirer');
    const past = await ctx.api.request('/api/v1/api-keys', {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'late',
        scopes: ['tasks:read'],
        expires_at: new Date(Date.now() - 1000).toISOString(),
      }),
    });
    expect(past.status).toBe(400);
    const expiresAt = Date.now() + 1500;
    const key = await makeKey(token, {
      name: 'soon',
      scopes: ['tasks:read'],
      expires_at: new Date(expiresAt).toISOString(),
    });
    expect(key.expires_at).toBe(new Date(expiresAt).toISOString());
    expect((await ctx.api.request('/api/v1/tasks', { headers: bearer(key.secret) })).status).toBe(200);
    await new Promise((r) => setTimeout(r, expiresAt - Date.now() + 50));
    const res = await ctx.api.request('/api/v1/tasks', { headers: bearer(key.secret) });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/expired/);
  });

  it('one user’s key never reaches another user’s tasks or keys', async () => {
    const carol = await ctx.api.addUser('carol');
    const dave = await ctx.api.addUser('dave');
    const up = await ctx.api.request('/api/v1/tasks', {
      method: 'POST',
      headers: bearer(carol.token),
      body: uploadForm(),
    });
    expect(up.status).toBe(202);
    const { task_id } = (await up.json()) as { task_id: string };
    const carolKey = await makeKey(carol.token, { name: 'carol’s', scopes: ['tasks:read'] });
    const daveKey = await makeKey(dave.token, { name: 'dave’s', scopes: ['tasks:read', 'tasks:write'] });
    for (const [method, path] of [
      ['GET', `/api/v1/tasks/${task_id}`],
      ['GET', `/api/v1/tasks/${task_id}/image`],
      ['GET', `/api/v1/tasks/${task_id}/events`],
      ['GET', `/api/v1/tasks/${task_id}/deliveries`],
      ['GET', `/api/v1/tasks/export?ids=${task_id}`],
      ['DELETE', `/api/v1/tasks/${task_id}`],
    ] as const) {
      const res = await ctx.api.request(path, { method, headers: bearer(daveKey.secret) });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    const daves = await ctx.api.request('/api/v1/tasks', { headers: bearer(daveKey.secret) });
    expect(((await daves.json()) as { items: unknown[] }).items).toHaveLength(0);
    // Dave cannot see or revoke Carol's key either.
    expect((await listOwn(dave.token)).map((k) => k.id)).toEqual([daveKey.id]);
    const steal = await ctx.api.request(`/api/v1/api-keys/${carolKey.id}`, {
      method: 'DELETE',
      headers: bearer(dave.token),
    });
    expect(steal.status).toBe(404);
    // Carol's key still works, and still reaches her task.
    expect((await ctx.api.request(`/api/v1/tasks/${task_id}`, { headers: bearer(carolKey.secret) })).status).toBe(200);
  });

  it('admins list and revoke anyone’s keys; other users get 403 forbidden', async () => {
    const erin = await ctx.api.addUser('erin');
    const key = await makeKey(erin.token, { name: 'erin’s script', scopes: ['tasks:read'] });
    const notAdmin = await ctx.api.request('/api/v1/admin/api-keys', { headers: bearer(erin.token) });
    expect(notAdmin.status).toBe(403);
    expect(await errorCode(notAdmin)).toBe('forbidden');
    expect(
      (await ctx.api.request(`/api/v1/admin/api-keys/${key.id}`, { method: 'DELETE', headers: bearer(erin.token) }))
        .status,
    ).toBe(403);

    const admin = await adminToken();
    const all = await ctx.api.request('/api/v1/admin/api-keys', { headers: bearer(admin) });
    expect(all.status).toBe(200);
    const items = ApiKeyListSchema.parse(await all.json()).items;
    expect(items.find((k) => k.id === key.id)).toMatchObject({ username: 'erin', name: 'erin’s script' });
    expect(JSON.stringify(items)).not.toContain(key.secret);
    const del = await ctx.api.request(`/api/v1/admin/api-keys/${key.id}`, { method: 'DELETE', headers: bearer(admin) });
    expect(del.status).toBe(204);
    expect((await ctx.api.request('/api/v1/tasks', { headers: bearer(key.secret) })).status).toBe(401);
    expect(await listOwn(erin.token)).toHaveLength(0);
  });

  it('a removed user’s keys stop working (also for a new user of the same name)', async () => {
    const frank = await ctx.api.addUser('frank');
    const key = await makeKey(frank.token, { name: 'frank’s', scopes: ['tasks:read'] });
    const users = new UserStore(ctx.api.services.redis, ctx.api.services.keys);
    expect(await users.remove('frank')).toBe(true);
    expect((await ctx.api.request('/api/v1/tasks', { headers: bearer(key.secret) })).status).toBe(401);
    await users.add('frank', 'another-password-1');
    expect((await ctx.api.request('/api/v1/tasks', { headers: bearer(key.secret) })).status).toBe(401);
  });

  it('last_used_at: null until used, then the time of use, written at most once a minute', async () => {
    const { token } = await ctx.api.addUser('gina');
    const key = await makeKey(token, { name: 'counted', scopes: ['tasks:read'] });
    expect((await listOwn(token))[0]?.last_used_at).toBeNull();
    const before = Date.now();
    expect((await ctx.api.request('/api/v1/tasks', { headers: bearer(key.secret) })).status).toBe(200);
    const first = (await listOwn(token))[0]?.last_used_at;
    expect(first).not.toBeNull();
    expect(Date.parse(first as string)).toBeGreaterThanOrEqual(before);
    await new Promise((r) => setTimeout(r, 20));
    expect((await ctx.api.request('/api/v1/tasks', { headers: bearer(key.secret) })).status).toBe(200);
    expect((await listOwn(token))[0]?.last_used_at).toBe(first);
  });

  it('bad requests to make a key → 400 naming the field', async () => {
    const token = await adminToken();
    for (const body of [
      { name: '', scopes: ['tasks:read'] },
      { name: 'x', scopes: [] },
      { name: 'x', scopes: ['admin'] },
      { name: 'x', scopes: ['tasks:read', 'tasks:read'] },
      { name: 'x\u0007', scopes: ['tasks:read'] },
      { name: 'x', scopes: ['tasks:read'], expires_at: 'tomorrow' },
    ]) {
      const res = await ctx.api.request('/api/v1/api-keys', {
        method: 'POST',
        headers: { ...bearer(token), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await errorCode(res)).toBe('invalid_request');
    }
  });

  it('the OpenAPI document: the ApiKey scheme, the key routes, and the scope of every route a key may use', async () => {
    const doc = (await (await ctx.api.request('/api/openapi.json')).json()) as {
      components: { securitySchemes: Record<string, { type: string; in?: string; name?: string }> };
      paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>>;
    };
    expect(doc.components.securitySchemes.ApiKey).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-API-Key' });
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/api-keys',
        '/api/v1/api-keys/{id}',
        '/api/v1/admin/api-keys',
        '/api/v1/admin/api-keys/{id}',
      ]),
    );
    const scopeOf = (path: string, method: string) =>
      doc.paths[path]?.[method]?.security?.find((s) => 'ApiKey' in s)?.ApiKey;
    // Table: what each route that takes a session asks of a key; `session` = for people only.
    // A new authenticated route fails here until its author decides.
    const expected: Record<string, string[] | 'session'> = {
      'post /api/v1/tasks': ['tasks:write'],
      'get /api/v1/tasks': ['tasks:read'],
      'get /api/v1/tasks/{id}': ['tasks:read'],
      'delete /api/v1/tasks/{id}': ['tasks:write'],
      'get /api/v1/tasks/{id}/image': ['tasks:read'],
      'get /api/v1/tasks/{id}/annotated': ['tasks:read'],
      'get /api/v1/tasks/{id}/events': ['tasks:read'],
      'get /api/v1/tasks/{id}/deliveries': ['tasks:read'],
      'get /api/v1/tasks/export': ['tasks:read'],
      'post /api/v1/batches': ['tasks:write'],
      'get /api/v1/batches': ['tasks:read'],
      'get /api/v1/batches/{id}': ['tasks:read'],
      'post /api/v1/batches/{id}/images': ['tasks:write'],
      'post /api/v1/batches/{id}/cancel': ['tasks:write'],
      'delete /api/v1/batches/{id}': ['tasks:write'],
      'get /api/v1/batches/{id}/deliveries': ['tasks:read'],
      'get /api/v1/batches/{id}/results': ['tasks:read'],
      'get /api/v1/stats': ['tasks:read'],
      'get /api/v1/webhooks/settings': ['webhooks:read'],
      'put /api/v1/webhooks/settings': ['webhooks:write'],
      'post /api/v1/webhooks/secret/rotate': ['webhooks:write'],
      'get /api/v1/auth/me': [],
      'post /api/v1/auth/logout': 'session',
      'post /api/v1/push/subscriptions': 'session',
      'delete /api/v1/push/subscriptions': 'session',
      'post /api/v1/api-keys': 'session',
      'get /api/v1/api-keys': 'session',
      'delete /api/v1/api-keys/{id}': 'session',
      'get /api/v1/admin/api-keys': 'session',
      'delete /api/v1/admin/api-keys/{id}': 'session',
    };
    const actual: Record<string, string[] | 'session'> = {};
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        if (!op.security?.length) continue;
        actual[`${method} ${path}`] = scopeOf(path, method) ?? 'session';
      }
    }
    expect(actual).toEqual(expected);
  });
});
