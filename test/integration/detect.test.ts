/** End to end through HTTP, the real Redis, a real worker process and the real model. */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { TaskListSchema, TaskSchema } from '../../shared/contract.ts';
import { auth, fixture, submit, waitForTask } from '../helpers/api.ts';
import { sidewaysWithExif } from '../helpers/images.ts';
import { storedFiles, useSystem } from '../helpers/system.ts';

const ctx = useSystem({ workers: 1 });

describe('detection through the queue', () => {
  it('finds the person in astronaut.png, with a box inside the image', async () => {
    const res = await fetch(`${ctx.sys.baseUrl}/api/v1/tasks`, {
      method: 'POST',
      headers: auth(ctx.token),
      body: formWith(fixture('astronaut.png')),
    });
    expect(res.status).toBe(202);
    const queued = TaskSchema.parse(await res.json());
    expect(queued.status).toBe('queued');
    expect(queued.source).toBe('server');
    expect(res.headers.get('location')).toBe(`/api/v1/tasks/${queued.task_id}`);
    expect(queued.image).toMatchObject({ width: 512, height: 512, mime: 'image/png' });

    const done = await waitForTask(ctx.sys.baseUrl, ctx.token, queued.task_id);
    expect(done.status, ctx.sys.dump()).toBe('succeeded');
    expect(done.model).toEqual({
      id: 'centernet',
      name: 'centernet-mobilenetv3',
      version: 'human-3.3.6',
      backend: expect.any(String),
    });
    expect(['tensorflow', 'wasm']).toContain(done.model?.backend);
    const person = done.detections.find((d) => d.label === 'person');
    expect(person?.score).toBeGreaterThanOrEqual(0.5);
    const b = person!.box;
    expect(b.x).toBeGreaterThanOrEqual(0);
    expect(b.y).toBeGreaterThanOrEqual(0);
    expect(b.x + b.width).toBeLessThanOrEqual(512);
    expect(b.y + b.height).toBeLessThanOrEqual(512);
    expect(b.width * b.height).toBeGreaterThan(0.3 * 512 * 512); // she fills most of the frame
    expect(done.timings.inference_ms).toBeGreaterThan(0);
    expect(done.timings.total_ms).toBeGreaterThanOrEqual(done.timings.inference_ms ?? 0);
    expect(Date.parse(done.finished_at!)).toBeGreaterThanOrEqual(Date.parse(done.started_at!));
  });

  it('finds the cup in coffee.png and draws an annotated image of the original size', async () => {
    const task = await submit(ctx.sys.baseUrl, ctx.token, fixture('coffee.png'));
    const done = await waitForTask(ctx.sys.baseUrl, ctx.token, task.task_id);
    expect(done.status).toBe('succeeded');
    expect(done.detections.map((d) => d.label)).toContain('cup');

    const res = await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${task.task_id}/annotated`, { headers: auth(ctx.token) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([600, 400]);

    // The annotated image is not the original: boxes were drawn.
    const original = await sharp(fixture('coffee.png')).removeAlpha().raw().toBuffer();
    const drawn = await sharp(
      Buffer.from(
        await (
          await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${task.task_id}/annotated`, { headers: auth(ctx.token) })
        ).arrayBuffer(),
      ),
    )
      .raw()
      .toBuffer();
    let changed = 0;
    for (let i = 0; i < original.length; i += 3) if (Math.abs((original[i] ?? 0) - (drawn[i] ?? 0)) > 60) changed++;
    expect(changed).toBeGreaterThan(500);

    const img = await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${task.task_id}/image`, { headers: auth(ctx.token) });
    expect(img.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await img.arrayBuffer()).equals(fixture('coffee.png'))).toBe(true);
  });

  it('applies EXIF orientation before detection and reports the upright size', async () => {
    const task = await submit(ctx.sys.baseUrl, ctx.token, await sidewaysWithExif('coffee.png'));
    expect([task.image.width, task.image.height]).toEqual([600, 400]);
    const done = await waitForTask(ctx.sys.baseUrl, ctx.token, task.task_id);
    expect(done.detections.map((d) => d.label)).toContain('cup');
    const cup = done.detections.find((d) => d.label === 'cup')!;
    // Upright, the cup sits in the upper middle of the 600×400 frame.
    expect(cup.box.x + cup.box.width / 2).toBeGreaterThan(200);
    expect(cup.box.x + cup.box.width / 2).toBeLessThan(400);
  });

  it('honours min_score and max_detections', async () => {
    const res = await fetch(`${ctx.sys.baseUrl}/api/v1/tasks`, {
      method: 'POST',
      headers: auth(ctx.token),
      body: formWith(fixture('coffee.png'), { min_score: '0.05', max_detections: '1' }),
    });
    const task = TaskSchema.parse(await res.json());
    expect(task.params).toEqual({ min_score: 0.05, max_detections: 1, tiling: 'auto', model: 'centernet' });
    const done = await waitForTask(ctx.sys.baseUrl, ctx.token, task.task_id);
    expect(done.detections).toHaveLength(1);
    expect(done.detections[0]?.label).toBe('cup');
  });

  it('lists my tasks newest first, page by page', async () => {
    const page1 = TaskListSchema.parse(
      await (await fetch(`${ctx.sys.baseUrl}/api/v1/tasks?limit=2`, { headers: auth(ctx.token) })).json(),
    );
    expect(page1.items).toHaveLength(2);
    expect(page1.next_cursor).not.toBeNull();
    const page2 = TaskListSchema.parse(
      await (
        await fetch(`${ctx.sys.baseUrl}/api/v1/tasks?limit=10&cursor=${page1.next_cursor}`, {
          headers: auth(ctx.token),
        })
      ).json(),
    );
    expect(page2.items).toHaveLength(2);
    expect(page2.next_cursor).toBeNull();
    const times = [...page1.items, ...page2.items].map((t) => Date.parse(t.created_at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it('deletes a finished task with its files; shared uploads stay while another task uses them', async () => {
    const a = await waitForTask(
      ctx.sys.baseUrl,
      ctx.token,
      (await submit(ctx.sys.baseUrl, ctx.token, fixture('chelsea.png'))).task_id,
    );
    const b = await waitForTask(
      ctx.sys.baseUrl,
      ctx.token,
      (await submit(ctx.sys.baseUrl, ctx.token, fixture('chelsea.png'))).task_id,
    );
    const upload = (f: string) => f.startsWith('uploads/') && f.includes(a.image.sha256);
    expect(storedFiles(ctx.sys.dataDir).filter(upload)).toHaveLength(1); // content-addressed: stored once

    expect(
      (await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${a.task_id}`, { method: 'DELETE', headers: auth(ctx.token) }))
        .status,
    ).toBe(204);
    expect((await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${a.task_id}`, { headers: auth(ctx.token) })).status).toBe(
      404,
    );
    expect(storedFiles(ctx.sys.dataDir).filter(upload)).toHaveLength(1); // b still uses it

    expect(
      (await fetch(`${ctx.sys.baseUrl}/api/v1/tasks/${b.task_id}`, { method: 'DELETE', headers: auth(ctx.token) }))
        .status,
    ).toBe(204);
    expect(storedFiles(ctx.sys.dataDir).filter(upload)).toHaveLength(0);
  });
});

describe('service endpoints', () => {
  it('serves the OpenAPI document generated from the shared schemas, and Swagger UI', async () => {
    const doc = (await (await fetch(`${ctx.sys.baseUrl}/api/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/auth/login',
        '/api/v1/tasks',
        '/api/v1/tasks/{id}',
        '/api/v1/tasks/{id}/annotated',
      ]),
    );
    expect(Object.keys(doc.components.schemas.Task?.properties ?? {})).toEqual(Object.keys(TaskSchema.shape));
    const ui = await fetch(`${ctx.sys.baseUrl}/api/docs`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger');
  });

  it('reports liveness and readiness with the worker’s backend', async () => {
    expect(await (await fetch(`${ctx.sys.baseUrl}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = (await (await fetch(`${ctx.sys.baseUrl}/readyz`)).json()) as { workers: number; backends: string[] };
    expect(ready.workers).toBe(1);
    expect(ready.backends.length).toBe(1);
  });

  it('answers unknown API routes with the error format', async () => {
    const res = await fetch(`${ctx.sys.baseUrl}/api/v1/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
  });
});

function formWith(bytes: Uint8Array, fields: Record<string, string> = {}): FormData {
  const form = new FormData();
  form.set('image', new Blob([new Uint8Array(bytes)]), 'photo.png');
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  return form;
}

describe('client-chosen task ids', () => {
  it('uses the client’s task_id, and answers a retry with the same task instead of a second one', async () => {
    const id = crypto.randomUUID();
    const send = () =>
      fetch(`${ctx.sys.baseUrl}/api/v1/tasks`, {
        method: 'POST',
        headers: auth(ctx.token),
        body: formWith(fixture('chelsea.png'), { task_id: id }),
      });
    const first = await send();
    expect(first.status).toBe(202);
    expect(((await first.json()) as { task_id: string }).task_id).toBe(id);
    const again = await send();
    expect(again.status).toBe(202);
    expect(((await again.json()) as { task_id: string }).task_id).toBe(id);
    const list = TaskListSchema.parse(
      await (await fetch(`${ctx.sys.baseUrl}/api/v1/tasks?limit=100`, { headers: auth(ctx.token) })).json(),
    );
    expect(list.items.filter((t) => t.task_id === id)).toHaveLength(1);
    expect((await waitForTask(ctx.sys.baseUrl, ctx.token, id)).status).toBe('succeeded');
  });

  it('answers the same task to uploads with one task_id sent at the same moment (no 409)', async () => {
    const id = crypto.randomUUID();
    const sends = Array.from({ length: 4 }, () =>
      fetch(`${ctx.sys.baseUrl}/api/v1/tasks`, {
        method: 'POST',
        headers: auth(ctx.token),
        body: formWith(fixture('coffee.png'), { task_id: id }),
      }),
    );
    const answers = await Promise.all(sends);
    expect(answers.map((r) => r.status)).toEqual([202, 202, 202, 202]);
    const tasks = await Promise.all(answers.map(async (r) => (await r.json()) as { task_id: string }));
    expect(new Set(tasks.map((t) => t.task_id))).toEqual(new Set([id]));
    const done = await waitForTask(ctx.sys.baseUrl, ctx.token, id);
    expect(done.status).toBe('succeeded');
    const runs = await ctx.sys.redis.get(`${ctx.sys.prefix}:task-runs:${id}`);
    expect(Number(runs)).toBe(1); // one task, one job
  });

  it('refuses a malformed task_id', async () => {
    const res = await fetch(`${ctx.sys.baseUrl}/api/v1/tasks`, {
      method: 'POST',
      headers: auth(ctx.token),
      body: formWith(fixture('chelsea.png'), { task_id: '../etc' }),
    });
    expect(res.status).toBe(400);
  });
});
