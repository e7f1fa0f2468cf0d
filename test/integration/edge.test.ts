/**
 * The edge worker (edge/worker.ts) under `wrangler dev` (workerd, locally, offline) in front of the
 * real system: the built app with its cache headers, and the API forwarded with bodies streamed
 * both ways (an upload; Server-Sent Events), the Authorization header and the session cookie.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Task, TaskSchema } from '../../shared/contract.ts';
import { BUILTIN_MODELS, modelUrlPath } from '../../shared/models/builtin.ts';
import { APP_ISOLATION_HEADERS } from '../../shared/web-headers.ts';

const MODEL_URL_PATH = modelUrlPath(BUILTIN_MODELS[0]!);

import { auth, fixture, login, submit, waitForTask } from '../helpers/api.ts';
import { freePort } from '../helpers/redis-server.ts';
import { readSse } from '../helpers/sse.ts';
import { ROOT, useSystem } from '../helpers/system.ts';

const IMMUTABLE = 'public, max-age=31536000, immutable';
const ctx = useSystem({ workers: 1 });
let edge = '';
let wrangler: ChildProcess | undefined;
const wranglerLogs: string[] = [];

beforeAll(async () => {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'web', 'index.html'))) {
    throw new Error('dist/web is not built: run `npm run build:web` (npm test does it first)');
  }
  const port = await freePort();
  edge = `http://127.0.0.1:${port}`;
  wrangler = spawn(
    path.join(ROOT, 'node_modules', '.bin', 'wrangler'),
    [
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--var',
      `ORIGIN_URL:${ctx.sys.baseUrl}`,
      '--log-level',
      'warn',
    ],
    // Its own process group, so the workerd it starts is stopped with it.
    { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' }, detached: true },
  );
  wrangler.stdout?.on('data', (c: Buffer) => wranglerLogs.push(c.toString()));
  wrangler.stderr?.on('data', (c: Buffer) => wranglerLogs.push(c.toString()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${edge}/healthz`)
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) break;
    if (wrangler.exitCode !== null || Date.now() > deadline) {
      throw new Error(`wrangler dev did not answer on ${edge}:\n${wranglerLogs.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
});

afterAll(async () => {
  if (wrangler?.pid && wrangler.exitCode === null) {
    const exited = new Promise((r) => wrangler?.once('exit', r));
    process.kill(-wrangler.pid, 'SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (wrangler.exitCode === null) process.kill(-wrangler.pid, 'SIGKILL');
  }
});

it('serves the app: index.html and sw.js no-cache, hashed assets and the model immutable, SPA fallback', async () => {
  const index = await fetch(`${edge}/`);
  expect(index.status).toBe(200);
  expect(index.headers.get('cache-control')).toBe('no-cache');
  // The same policy as the API's: the Live view's camera for this origin only.
  expect(index.headers.get('permissions-policy')).toContain('camera=(self)');
  const html = await index.text();
  expect(html).toBe(fs.readFileSync(path.join(ROOT, 'dist', 'web', 'index.html'), 'utf8'));

  const asset = /\/assets\/[\w-]+\.js/.exec(html)?.[0];
  expect(asset, 'index.html names a hashed script under /assets/').toBeTruthy();
  const js = await fetch(`${edge}${asset}`);
  expect(js.status).toBe(200);
  expect(js.headers.get('cache-control')).toBe(IMMUTABLE);
  await js.arrayBuffer();

  const model = await fetch(`${edge}${MODEL_URL_PATH}centernet.bin`);
  expect(model.status).toBe(200);
  expect(model.headers.get('cache-control')).toBe(IMMUTABLE);
  expect((await model.arrayBuffer()).byteLength).toBe(
    fs.statSync(path.join(ROOT, 'dist', 'web', MODEL_URL_PATH, 'centernet.bin')).size,
  );

  for (const p of ['/sw.js', '/manifest.webmanifest']) {
    const res = await fetch(`${edge}${p}`);
    expect(res.status, p).toBe(200);
    expect(res.headers.get('cache-control'), p).toBe('no-cache');
    await res.arrayBuffer();
  }

  const route = await fetch(`${edge}/some/client/route`);
  expect(route.status).toBe(200);
  expect(route.headers.get('cache-control')).toBe('no-cache');
  expect(await route.text()).toBe(html);
});

it('sends every file of the app cross-origin isolated, as the API does (shared/web-headers.ts)', async () => {
  const html = await (await fetch(`${edge}/`)).text();
  const asset = /\/assets\/[\w-]+\.js/.exec(html)?.[0] ?? '';
  const [wasmVersion] = fs.readdirSync(path.join(ROOT, 'dist', 'web', 'tfjs'));
  for (const file of [
    '/',
    '/some/client/route',
    asset,
    '/sw.js',
    `${MODEL_URL_PATH}centernet.bin`,
    `/tfjs/${wasmVersion}/tfjs-backend-wasm-threaded-simd.wasm`,
    `/tfjs/${wasmVersion}/tfjs-backend-wasm-threaded-simd.worker.js`,
    `/tfjs/${wasmVersion}/tfjs-backend-wasm-threaded-simd.js`,
  ]) {
    const res = await fetch(`${edge}${file}`);
    expect(res.status, file).toBe(200);
    for (const [name, value] of Object.entries(APP_ISOLATION_HEADERS)) {
      expect(res.headers.get(name), `${file} ${name}`).toBe(value);
    }
    await res.arrayBuffer();
  }
});

it('forwards the API: login, an upload, SSE and polling give a task that finds the person', async () => {
  const { username, password } = ctx.sys.admin;
  const loginRes = await fetch(`${edge}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  expect(loginRes.status).toBe(200);
  const cookie = loginRes.headers.get('set-cookie')?.split(';')[0];
  expect(cookie).toMatch(/^twinlens_session=/);
  await loginRes.json();
  // The cookie alone is enough: it reached the origin through the edge.
  const me = await fetch(`${edge}/api/v1/auth/me`, { headers: { cookie: cookie ?? '' } });
  expect(me.status).toBe(200);
  expect(((await me.json()) as { username: string }).username).toBe(username);

  const token = await login(edge, username, password);
  const task = await submit(edge, token, fixture('astronaut.png'));
  expect(task.status).toBe('queued');

  // Server-Sent Events through the edge: a stream of tasks that ends after the final one.
  const events = await fetch(`${edge}/api/v1/tasks/${task.task_id}/events`, { headers: auth(token) });
  expect(events.status).toBe(200);
  expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const seen: Task[] = [];
  for await (const item of readSse(events)) {
    if (item.kind === 'event') seen.push(TaskSchema.parse(JSON.parse(item.data)));
  }
  expect(seen.at(-1)?.status).toBe('succeeded');

  const done = await waitForTask(edge, token, task.task_id);
  expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
  expect(done.detections.map((d) => d.label)).toContain('person');
});

it('an unknown API path gets the origin 404 error JSON', async () => {
  const res = await fetch(`${edge}/api/v1/no-such-thing`);
  expect(res.status).toBe(404);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(await res.json()).toEqual({
    error: { code: 'not_found', message: 'no route GET /api/v1/no-such-thing' },
  });
});
