/**
 * Hostile clients and failing infrastructure, with real processes: task ids reused after a
 * delete, Redis going away (and coming back empty), clients that send too slowly, and a disk
 * that fills up (a small tmpfs mounted as the data directory).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { auth, fixture, login, upload, waitForTask } from '../helpers/api.ts';
import { type OwnRedis, startOwnRedis } from '../helpers/redis-server.ts';
import { addUser, type System, startSystem, storedFiles } from '../helpers/system.ts';

type ErrorBody = { error: { code: string; message: string } };

let sys: System | undefined;
let redis: OwnRedis | undefined;
let mounted: string | undefined;
afterEach(async () => {
  await sys?.stop();
  sys = undefined;
  await redis?.destroy();
  redis = undefined;
  if (mounted) {
    execFileSync('umount', [mounted]);
    fs.rmSync(mounted, { recursive: true, force: true });
    mounted = undefined;
  }
});

describe('task ids', () => {
  it('an id whose task was deleted is not taken again in silence: 409 for the owner and for anyone else', async () => {
    sys = await startSystem({ workers: 1 });
    const token = await login(sys.baseUrl, sys.admin.username, sys.admin.password);
    const id = randomUUID();
    const first = await upload(sys.baseUrl, token, fixture('chelsea.png'), { fields: { task_id: id } });
    expect(first.status).toBe(202);
    expect((await waitForTask(sys.baseUrl, token, id)).status).toBe('succeeded');
    const deleted = await fetch(`${sys.baseUrl}/api/v1/tasks/${id}`, { method: 'DELETE', headers: auth(token) });
    expect(deleted.status).toBe(204);

    const other = await addUser(sys, 'walter');
    for (const who of [token, other]) {
      const again = await upload(sys.baseUrl, who, fixture('chelsea.png'), { fields: { task_id: id } });
      expect(again.status).toBe(409);
      expect(((await again.json()) as ErrorBody).error.code).toBe('conflict');
    }
    // A new id goes through as usual.
    const fresh = randomUUID();
    expect((await upload(sys.baseUrl, token, fixture('chelsea.png'), { fields: { task_id: fresh } })).status).toBe(202);
    expect((await waitForTask(sys.baseUrl, token, fresh)).status).toBe('succeeded');
  });
});

describe('Redis going away', () => {
  it('while Redis is down every route answers 503 with Retry-After at once; when it comes back, even empty, all works again without a restart', async () => {
    redis = await startOwnRedis();
    sys = await startSystem({ workers: 0, redisUrl: redis.url });
    const s = sys;
    const token = await login(s.baseUrl, s.admin.username, s.admin.password);
    await redis.shutdown();

    // Answered while Redis is still down: nothing waits for it to come back.
    const attempts: [string, string, RequestInit][] = [
      [
        'POST',
        '/api/v1/auth/login',
        {
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: s.admin.username, password: s.admin.password }),
        },
      ],
      ['GET', '/api/v1/auth/me', { headers: auth(token) }],
      ['GET', '/api/v1/tasks', { headers: auth(token) }],
      ['GET', '/api/v1/stats', { headers: auth(token) }],
      ['POST', '/api/v1/tasks', { headers: auth(token), body: formWith(fixture('chelsea.png')) }],
    ];
    for (const [method, route, init] of attempts) {
      const res = await fetch(`${s.baseUrl}${route}`, { method, ...init });
      expect(res.status, `${method} ${route}`).toBe(503);
      expect(res.headers.get('retry-after'), `${method} ${route}`).toBe('5');
      expect(((await res.json()) as ErrorBody).error.code).toBe('not_ready');
    }
    expect((await fetch(`${s.baseUrl}/readyz`)).status).toBe(503);
    expect((await fetch(`${s.baseUrl}/healthz`)).status).toBe(200);

    // It comes back with nothing in it (as a Redis without persistence does).
    for (const entry of fs.readdirSync(redis.dir)) fs.rmSync(path.join(redis.dir, entry), { recursive: true });
    await redis.start();

    // The first user is made again by the running API, so the operator can log in.
    await expect
      .poll(
        async () =>
          (
            await fetch(`${s.baseUrl}/api/v1/auth/login`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ username: s.admin.username, password: s.admin.password }),
            })
          ).status,
        { timeout: 30_000, interval: 250 },
      )
      .toBe(200);
    // Sessions lived in the lost data.
    expect((await fetch(`${s.baseUrl}/api/v1/auth/me`, { headers: auth(token) })).status).toBe(401);
  });
});

describe('slow clients', () => {
  const SLOW_ENV = { REQUEST_BODY_GRACE_MS: '2000', MIN_BODY_BYTES_PER_SECOND: '1024', HEADERS_TIMEOUT_MS: '3000' };

  it('an upload trickling in at 10 bytes/s is cut off with 408 and its socket closed; others are served meanwhile', async () => {
    sys = await startSystem({ workers: 0, env: SLOW_ENV });
    const s = sys;
    const token = await login(s.baseUrl, s.admin.username, s.admin.password);
    const { hostname, port } = new URL(s.baseUrl);
    const socket = net.connect(Number(port), hostname);
    let answer = '';
    socket.on('data', (d) => {
      answer += d.toString('latin1');
    });
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    socket.write(
      [
        'POST /api/v1/tasks HTTP/1.1',
        `Host: ${hostname}:${port}`,
        `Authorization: Bearer ${token}`,
        'Content-Type: multipart/form-data; boundary=xyz',
        'Content-Length: 200000',
        '',
        '',
      ].join('\r\n'),
    );
    const trickle = setInterval(() => socket.writable && socket.write('0123456789'), 1000);
    try {
      // Served while the slow one is held open.
      expect((await fetch(`${s.baseUrl}/api/v1/auth/me`, { headers: auth(token) })).status).toBe(200);
      await closed;
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(answer).toContain('"code":"request_timeout"');
    expect(s.api.logs.some((l) => l.includes('request body too slow'))).toBe(true);
  });

  it('headers that never end are cut off too', async () => {
    sys = await startSystem({ workers: 0, env: SLOW_ENV });
    const { hostname, port } = new URL(sys.baseUrl);
    const socket = net.connect(Number(port), hostname);
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(`GET /api/v1/stats HTTP/1.1\r\nHost: ${hostname}\r\n`);
    const trickle = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 1000);
    try {
      await closed;
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
  });
});

/** Whether this machine lets the test mount a small tmpfs (root, and a kernel that allows it). */
function canMount(): boolean {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-mountcheck-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' });
    execFileSync('umount', [dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('a full disk', () => {
  it.skipIf(!canMount())(
    'uploads and drawing answer 507 storage_full with Retry-After and leave nothing; /readyz says so; all recovers when there is space',
    async () => {
      mounted = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-smallfs-'));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mounted]);
      sys = await startSystem({ workers: 1, dataDir: mounted, env: { STORAGE_MIN_FREE_BYTES: '512kb' } });
      const s = sys;
      const token = await login(s.baseUrl, s.admin.username, s.admin.password);
      expect((await fetch(`${s.baseUrl}/readyz`)).status).toBe(200);
      const accepted = await upload(s.baseUrl, token, fixture('chelsea.png'));
      expect(accepted.status).toBe(202);
      const taskId = ((await accepted.json()) as { task_id: string }).task_id;
      expect((await waitForTask(s.baseUrl, token, taskId)).status).toBe('succeeded');

      const filler = path.join(mounted, 'filler');
      fill(filler);
      const ready = await fetch(`${s.baseUrl}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as ErrorBody).error.code).toBe('storage_full');

      const before = storedFiles(s.dataDir);
      const refused = await upload(s.baseUrl, token, fixture('coffee.png'));
      expect(refused.status).toBe(507);
      expect(refused.headers.get('retry-after')).toBe('60');
      expect(((await refused.json()) as ErrorBody).error.code).toBe('storage_full');
      expect(storedFiles(s.dataDir)).toEqual(before); // no half-written file, nothing in tmp/
      const list = (await (await fetch(`${s.baseUrl}/api/v1/tasks`, { headers: auth(token) })).json()) as {
        items: { task_id: string }[];
      };
      expect(list.items.map((t) => t.task_id)).toEqual([taskId]); // the refused upload left no task
      // Drawing the annotated image needs space too: named the same way, not a 500.
      const annotated = await fetch(`${s.baseUrl}/api/v1/tasks/${taskId}/annotated`, { headers: auth(token) });
      expect(annotated.status).toBe(507);
      expect(annotated.headers.get('retry-after')).toBe('60');

      // Space again: ready again, all works again, without a restart.
      fs.rmSync(filler);
      expect((await fetch(`${s.baseUrl}/readyz`)).status).toBe(200);
      expect((await fetch(`${s.baseUrl}/api/v1/tasks/${taskId}/annotated`, { headers: auth(token) })).status).toBe(200);
      expect((await upload(s.baseUrl, token, fixture('coffee.png'))).status).toBe(202);
    },
  );
});

/** Writes to `file` until the filesystem is full. */
function fill(file: string): void {
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(16 * 1024, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fd);
  }
}

function formWith(bytes: Buffer): FormData {
  const form = new FormData();
  form.set('image', new Blob([new Uint8Array(bytes)]), 'photo');
  return form;
}
