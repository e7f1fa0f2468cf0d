/**
 * Observability against the real processes: the API's /metrics (HTTP histogram, queue depth,
 * worker backends), a worker's own /metrics (wait and inference histograms, failures by code),
 * /api/v1/stats, the admin-only queue dashboard, and task ids in the request logs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stats, StatsSchema } from '../../shared/contract.ts';
import { auth, fixture, login, submit, waitForTask } from '../helpers/api.ts';
import { freePort } from '../helpers/redis-server.ts';
import { launch, type Proc, type System, startSystem, storedFiles } from '../helpers/system.ts';

let sys: System;
let token: string;
let workerMetricsPort: number;

async function text(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.text() };
}

/** The value of one sample line, e.g. `twinlens_job_inference_ms_count 2`. */
function sample(body: string, name: string, labels = ''): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function stats(): Promise<Stats> {
  const res = await fetch(`${sys.baseUrl}/api/v1/stats`, { headers: auth(token) });
  expect(res.status).toBe(200);
  return StatsSchema.parse(await res.json());
}

beforeAll(async () => {
  workerMetricsPort = await freePort();
  sys = await startSystem({ workers: 0, env: { METRICS_TOKEN: 'scrape-secret' } });
  token = await login(sys.baseUrl, sys.admin.username, sys.admin.password);
});
afterAll(async () => {
  await sys?.stop();
});

const METRICS_AUTH = { authorization: 'Bearer scrape-secret' };

describe('observability', () => {
  it('stats with no workers: three queued tasks, no estimate', async () => {
    const tasks = [];
    for (const name of ['astronaut.png', 'coffee.png', 'chelsea.png']) {
      tasks.push(await submit(sys.baseUrl, token, fixture(name)));
    }
    const s = await stats();
    expect(s).toEqual({
      queue: { waiting: 3, active: 0, delayed: 0 },
      workers: 0,
      mean_inference_ms: null,
      estimated_wait_ms: null,
      models: expect.arrayContaining([
        {
          model: 'centernet',
          waiting: 3,
          active: 0,
          delayed: 0,
          workers: 0,
          mean_inference_ms: null,
          estimated_wait_ms: null,
          waiting_for_worker: true,
        },
      ]),
    });
    expect((await fetch(`${sys.baseUrl}/api/v1/stats`)).status).toBe(401);

    // The last one's stored file is damaged before any worker runs, so it fails (image_undecodable).
    const chelsea = tasks[2]!;
    const upload = storedFiles(sys.dataDir).find((f) => f.startsWith('uploads/') && f.includes(chelsea.image.sha256));
    expect(upload, storedFiles(sys.dataDir).join(',')).toBeDefined();
    fs.writeFileSync(path.join(sys.dataDir, upload!), fixture('chelsea.png').subarray(0, 2000));

    await sys.startWorker({ WORKER_METRICS_PORT: String(workerMetricsPort), HOST: '127.0.0.1' });
    const done = await Promise.all(tasks.map((t) => waitForTask(sys.baseUrl, token, t.task_id)));
    expect(
      done.map((t) => t.status),
      sys.dump(),
    ).toEqual(['succeeded', 'succeeded', 'failed']);

    const after = await stats();
    expect(after.queue).toEqual({ waiting: 0, active: 0, delayed: 0 });
    expect(after.workers).toBe(1);
    const inferences = done.slice(0, 2).map((t) => t.timings.inference_ms ?? 0);
    expect(after.mean_inference_ms).toBeCloseTo((inferences[0]! + inferences[1]!) / 2, 0);
    expect(after.estimated_wait_ms).toBe(0); // nothing queued
  });

  it("the worker's /metrics: wait, inference and total histograms by outcome, failures by code", async () => {
    const url = `http://127.0.0.1:${workerMetricsPort}/metrics`;
    expect((await text(url)).status).toBe(401); // METRICS_TOKEN set
    const { status, body } = await text(url, METRICS_AUTH);
    expect(status).toBe(200);
    const ok = '{outcome="succeeded"}';
    const failed = '{outcome="failed"}';
    expect(sample(body, 'twinlens_job_inference_ms_count', ok)).toBe(2);
    expect(sample(body, 'twinlens_job_queue_ms_count', ok)).toBe(2);
    expect(sample(body, 'twinlens_job_total_ms_count', ok)).toBe(2);
    // The failed task waited and ended too; it never reached the model.
    expect(sample(body, 'twinlens_job_queue_ms_count', failed)).toBe(1);
    expect(sample(body, 'twinlens_job_total_ms_count', failed)).toBe(1);
    expect(sample(body, 'twinlens_job_inference_ms_count', failed)).toBeUndefined();
    expect(sample(body, 'twinlens_job_failures_total', '{error_code="image_undecodable"}')).toBe(1);
    expect(body).toMatch(/^process_cpu_user_seconds_total /m);
  });

  it("the API's /metrics: HTTP histogram by route, queue depth, worker backends, process defaults", async () => {
    expect((await text(`${sys.baseUrl}/metrics`)).status).toBe(401);
    const { status, body } = await text(`${sys.baseUrl}/metrics`, METRICS_AUTH);
    expect(status).toBe(200);
    expect(
      sample(
        body,
        'twinlens_http_request_duration_seconds_count',
        '{method="POST",route="/api/v1/tasks",status="202"}',
      ),
    ).toBe(3);
    expect(body).toMatch(
      /twinlens_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/tasks\/:id",status="200"\} \d+/,
    );
    expect(sample(body, 'twinlens_queue_jobs', '{state="waiting"}')).toBe(0);
    expect(sample(body, 'twinlens_queue_jobs', '{state="completed"}')).toBe(2);
    expect(sample(body, 'twinlens_queue_jobs', '{state="failed"}')).toBe(1);
    const backend = /^twinlens_workers\{backend="([^"]+)"\} 1$/m.exec(body)?.[1];
    expect(backend).toMatch(/^(tensorflow|wasm|cpu)$/);
    expect(body).toMatch(/^nodejs_heap_size_used_bytes /m);
  });

  it('the queue dashboard: admins get it, other users 403, no login 401', async () => {
    const admin = await fetch(`${sys.baseUrl}/admin/queues`, { headers: auth(token) });
    expect(admin.status).toBe(200);
    expect(admin.headers.get('content-type')).toMatch(/text\/html/);
    const html = await admin.text();
    expect(html).toMatch(/<html/i);
    // Its static assets are served (from node_modules, by @hono/node-server's serveStatic).
    expect(html).toContain('<base href="/admin/queues/"');
    const asset = /src="(static\/js\/main\.[^"]+\.js)"/.exec(html)?.[1];
    expect(asset, html).toBeDefined();
    const js = await fetch(`${sys.baseUrl}/admin/queues/${asset}`, { headers: auth(token) });
    expect(js.status).toBe(200);
    expect((await js.text()).length).toBeGreaterThan(1000);
    // Its API and static assets are behind the same check.
    const queues = await fetch(`${sys.baseUrl}/admin/queues/api/queues`, { headers: auth(token) });
    expect(queues.status).toBe(200);

    const add: Proc = launch('cli', { env: sys.env, args: ['users', 'add', 'bob'] });
    add.child.stdin?.end('bobs-password-123\n');
    expect(await add.exited).toBe(0);
    const bob = await login(sys.baseUrl, 'bob', 'bobs-password-123');
    const forbidden = await fetch(`${sys.baseUrl}/admin/queues`, { headers: auth(bob) });
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({ error: { code: 'forbidden' } });
    const anonymous = await fetch(`${sys.baseUrl}/admin/queues`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('request logs carry task_id, and failures their error_code', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await fetch(`${sys.baseUrl}/api/v1/tasks/${missing}`, { headers: auth(token) })).status).toBe(404);
    const line = await sys.api.waitFor((l) => l.msg === 'request' && l.task_id === missing, 5000);
    expect(line).toMatchObject({ level: 'info', method: 'GET', status: 404, error_code: 'task_not_found' });
    expect(typeof line.ms).toBe('number');
    // Successful requests are logged at debug only, which LOG_LEVEL=info leaves out.
    expect(sys.api.logs.filter((l) => l.includes('"msg":"request"') && l.includes('"status":200'))).toEqual([]);
  });

  it('/api/v1/stats is in the OpenAPI document, with the Stats schema', async () => {
    const doc = (await (await fetch(`${sys.baseUrl}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.paths['/api/v1/stats']?.get).toBeDefined();
    expect(doc.components.schemas.Stats).toBeDefined();
  });
});
