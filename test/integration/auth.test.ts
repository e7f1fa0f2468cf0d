/** Logins, sessions and ownership: through HTTP, with a second user added by the real CLI. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, fixture, login, submit, waitForTask } from '../helpers/api.ts';
import { launch, type System, startSystem } from '../helpers/system.ts';

let sys: System;
let alice: string;

async function cli(args: string[], stdin?: string): Promise<{ code: number | null; out: string }> {
  const p = launch('cli', { env: sys.env, args });
  p.child.stdin?.end(stdin ?? '');
  const code = await p.exited;
  return { code, out: p.logs.join('\n') };
}

beforeAll(async () => {
  sys = await startSystem({ workers: 1 });
  alice = await login(sys.baseUrl, sys.admin.username, sys.admin.password);
});
afterAll(async () => {
  await sys?.stop();
});

describe('auth', () => {
  it('without a session, the task API answers 401', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/tasks'],
      ['POST', '/api/v1/tasks'],
      ['GET', '/api/v1/tasks/00000000-0000-4000-8000-000000000000'],
      ['GET', '/api/v1/auth/me'],
    ] as const) {
      const res = await fetch(`${sys.baseUrl}${path}`, { method });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    }
    const bogus = await fetch(`${sys.baseUrl}/api/v1/tasks`, { headers: auth('x'.repeat(43)) });
    expect(bogus.status).toBe(401);
  });

  it('a wrong password or an unknown user → 401 invalid_credentials, the same for both', async () => {
    for (const body of [
      { username: 'alice', password: 'wrong-password' },
      { username: 'nobody', password: 'wrong-password' },
    ]) {
      const res = await fetch(`${sys.baseUrl}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({
        error: { code: 'invalid_credentials', message: 'wrong username or password' },
      });
    }
  });

  it('login sets an HttpOnly SameSite=Strict cookie that works like the token', async () => {
    const res = await fetch(`${sys.baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: sys.admin.username, password: sys.admin.password }),
    });
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^twinlens_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    const me = await fetch(`${sys.baseUrl}/api/v1/auth/me`, { headers: { cookie: cookie.split(';')[0] ?? '' } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ username: 'alice', role: 'admin' });
  });

  it('logout ends the session', async () => {
    const token = await login(sys.baseUrl, sys.admin.username, sys.admin.password);
    expect((await fetch(`${sys.baseUrl}/api/v1/auth/logout`, { method: 'POST', headers: auth(token) })).status).toBe(
      204,
    );
    expect((await fetch(`${sys.baseUrl}/api/v1/auth/me`, { headers: auth(token) })).status).toBe(401);
  });

  it('/auth/session says who is logged in with a 200 either way (the page asks on every visit)', async () => {
    const token = await login(sys.baseUrl, sys.admin.username, sys.admin.password);
    const session = async (headers: Record<string, string> = {}) => {
      const res = await fetch(`${sys.baseUrl}/api/v1/auth/session`, { headers });
      expect(res.status).toBe(200);
      return res.json();
    };
    expect(await session()).toEqual({ user: null });
    expect(await session(auth('x'.repeat(43)))).toEqual({ user: null });
    expect(await session(auth(token))).toMatchObject({ user: { username: 'alice', role: 'admin' } });
    await fetch(`${sys.baseUrl}/api/v1/auth/logout`, { method: 'POST', headers: auth(token) });
    expect(await session(auth(token))).toEqual({ user: null });
  });

  it('user B cannot see user A’s task (404, like an unknown id), nor list it, nor delete it', async () => {
    const added = await cli(['users', 'add', 'bob'], 'bobs-password-123\n');
    expect(added.code, added.out).toBe(0);
    const bob = await login(sys.baseUrl, 'bob', 'bobs-password-123');

    const task = await submit(sys.baseUrl, alice, fixture('astronaut.png'));
    for (const suffix of ['', '/image', '/annotated']) {
      const res = await fetch(`${sys.baseUrl}/api/v1/tasks/${task.task_id}${suffix}`, { headers: auth(bob) });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('task_not_found');
    }
    const del = await fetch(`${sys.baseUrl}/api/v1/tasks/${task.task_id}`, { method: 'DELETE', headers: auth(bob) });
    expect(del.status).toBe(404);
    const list = (await (await fetch(`${sys.baseUrl}/api/v1/tasks`, { headers: auth(bob) })).json()) as {
      items: unknown[];
    };
    expect(list.items).toEqual([]);
    expect((await waitForTask(sys.baseUrl, alice, task.task_id)).status).toBe('succeeded');
  });

  it('an unknown or malformed task id → 404, never a made-up pending task', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const res = await fetch(`${sys.baseUrl}/api/v1/tasks/${id}`, { headers: auth(alice) });
      expect(res.status).toBe(404);
    }
  });

  it('the CLI lists and removes users; a removed user’s token stops working at once', async () => {
    await cli(['users', 'add', 'carol'], 'carols-password-1\n');
    const carol = await login(sys.baseUrl, 'carol', 'carols-password-1');
    const listed = await cli(['users', 'list']);
    expect(listed.out).toMatch(/alice\tadmin/);
    expect(listed.out).toMatch(/carol\tuser/);
    expect(listed.out).not.toContain('password');
    expect((await cli(['users', 'remove', 'carol'])).code).toBe(0);
    expect((await fetch(`${sys.baseUrl}/api/v1/auth/me`, { headers: auth(carol) })).status).toBe(401);
    expect((await cli(['users', 'add', 'alice'], 'another-password\n')).code).toBe(1); // exists already
  });
});
