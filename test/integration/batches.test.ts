/**
 * Album jobs: many photos in one request, a bad one refused alone with its code, counts and
 * progress, paging, isolation per user, cancel and delete, and the results as COCO and CSV.
 * The HTTP rules run in-process (no worker: tasks stay queued); the 20-photo album runs on the
 * real system (API and worker processes, the real model).
 */
import { describe, expect, it } from 'vitest';
import {
  type Batch,
  type BatchDetail,
  BatchDetailSchema,
  BatchListSchema,
  BatchSchema,
  type BatchUpload,
  BatchUploadSchema,
  TaskSchema,
} from '../../shared/contract.ts';
import { COCO_LABELS } from '../../shared/detector/labels.ts';
import { auth, fixture } from '../helpers/api.ts';
import { gif, jpegOf, truncatedJpeg } from '../helpers/images.ts';
import { type InProcess, useInProcess } from '../helpers/in-process.ts';
import { storedFiles, useSystem } from '../helpers/system.ts';

interface PhotoFile {
  bytes: Uint8Array;
  name: string;
}

function batchForm(photos: PhotoFile[], fields: Record<string, string> = {}): FormData {
  const form = new FormData();
  for (const p of photos) form.append('image', new Blob([new Uint8Array(p.bytes)]), p.name);
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  return form;
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

const good = (n: number): PhotoFile[] =>
  Array.from({ length: n }, (_, i) => ({
    bytes: fixture(['chelsea.png', 'coffee.png', 'astronaut.png'][i % 3] as string),
    name: `photo-${i}.png`,
  }));

describe('album jobs, in-process (no worker: tasks stay queued)', () => {
  const ctx = useInProcess({ MAX_BATCH_TASKS: '8', MAX_QUEUE_DEPTH: '2' });
  let owner: { token: string };
  let other: { token: string };
  const post = (api: InProcess, token: string, path: string, body?: FormData) =>
    api.request(path, { method: 'POST', headers: auth(token), ...(body ? { body } : {}) });
  const getJson = async (token: string, path: string) => {
    const res = await ctx.api.request(path, { headers: auth(token) });
    expect(res.status, await res.clone().text()).toBe(200);
    return res.json();
  };

  it('a batch of photos with a bad one: 202, a task per good photo with its batch_id, the bad one refused with its code', async () => {
    owner = await ctx.api.addUser('bob');
    other = await ctx.api.addUser('eve');
    const photos = [...good(2), { bytes: await gif(), name: 'anim.gif' }, ...good(1)];
    const res = await post(ctx.api, owner.token, '/api/v1/batches', batchForm(photos, { min_score: '0.5' }));
    expect(res.status, await res.clone().text()).toBe(202);
    const body = BatchUploadSchema.parse(await res.json());
    expect(res.headers.get('location')).toBe(`/api/v1/batches/${body.batch.batch_id}`);
    expect(body.tasks).toHaveLength(3);
    for (const t of body.tasks) {
      expect(t.batch_id).toBe(body.batch.batch_id);
      expect(t.status).toBe('queued');
      expect(t.params.min_score).toBe(0.5);
    }
    expect(body.rejected).toEqual([
      { index: 2, filename: 'anim.gif', error: { code: 'unsupported_media_type', message: expect.any(String) } },
    ]);
    expect(body.batch.counts).toEqual({ queued: 3, running: 0, succeeded: 0, failed: 0, canceled: 0, rejected: 1 });
    expect(body.batch).toMatchObject({ status: 'active', total: 4, progress: 0.25 });
    // A task of the batch reads like any task, with its batch_id.
    const task = TaskSchema.parse(await getJson(owner.token, `/api/v1/tasks/${body.tasks[0]?.task_id}`));
    expect(task.batch_id).toBe(body.batch.batch_id);
  });

  it('more photos go into an open batch; the batch lists its tasks in upload order, paged', async () => {
    const first = await createBatch(ctx.api, owner.token, good(2));
    const id = first.batch.batch_id;
    const more = await post(ctx.api, owner.token, `/api/v1/batches/${id}/images`, batchForm(good(3)));
    expect(more.status, await more.clone().text()).toBe(202);
    const added = BatchUploadSchema.parse(await more.json());
    expect(added.tasks).toHaveLength(3);
    expect(added.batch.total).toBe(5);

    const order = [...first.tasks, ...added.tasks].map((t) => t.task_id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&cursor=${cursor}` : '';
      const page: BatchDetail = BatchDetailSchema.parse(
        await getJson(owner.token, `/api/v1/batches/${id}?limit=2${q}`),
      );
      expect(page.counts.queued).toBe(5);
      seen.push(...page.tasks.map((t) => t.task_id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(order);

    // Over the cap (8 photos a batch here): refused whole, nothing added.
    const full = await post(ctx.api, owner.token, `/api/v1/batches/${id}/images`, batchForm(good(4)));
    expect(full.status).toBe(409);
    expect(await errorCode(full)).toBe('batch_full');
    const after = BatchDetailSchema.parse(await getJson(owner.token, `/api/v1/batches/${id}`));
    expect(after.total).toBe(5);
  });

  it('album jobs do not fill the queue for single uploads (MAX_QUEUE_DEPTH counts interactive jobs only)', async () => {
    // Eight album tasks are queued by now, far over MAX_QUEUE_DEPTH=2: a single upload still goes in.
    const form = new FormData();
    form.set('image', new Blob([new Uint8Array(fixture('chelsea.png'))]), 'one.png');
    const res = await post(ctx.api, owner.token, '/api/v1/tasks', form);
    expect(res.status, await res.clone().text()).toBe(202);
    const counts = await ctx.api.services.queue.counts();
    expect(counts.batchWaiting).toBeGreaterThan(2);
  });

  it('album jobs queue behind single uploads and behind their own owner’s backlog (BullMQ priorities)', async () => {
    const a = await ctx.api.addUser('album-a');
    const b = await ctx.api.addUser('album-b');
    const priorities = async (upload: BatchUpload) =>
      Promise.all(
        upload.tasks.map(
          async (t) => (await ctx.api.services.queue.queueFor('centernet').getJob(t.task_id))?.opts.priority ?? 0,
        ),
      );
    expect(await priorities(await createBatch(ctx.api, a.token, good(3)))).toEqual([1, 2, 3]);
    // Another user's album starts at the front of the album lane, not behind a's.
    expect(await priorities(await createBatch(ctx.api, b.token, good(1)))).toEqual([1]);
    // a's next album queues behind a's own backlog.
    expect(await priorities(await createBatch(ctx.api, a.token, good(2)))).toEqual([4, 5]);
    // A single upload has no priority: BullMQ takes it before any prioritized job.
    const form = new FormData();
    form.set('image', new Blob([new Uint8Array(fixture('coffee.png'))]), 'one.png');
    const single = TaskSchema.parse(await (await post(ctx.api, a.token, '/api/v1/tasks', form)).json());
    expect((await ctx.api.services.queue.queueFor('centernet').getJob(single.task_id))?.opts.priority ?? 0).toBe(0);
    expect(single.batch_id).toBeUndefined();
  });

  it('another user sees none of it: 404 batch_not_found everywhere, and not in their list', async () => {
    const mine = await createBatch(ctx.api, owner.token, good(1));
    const id = mine.batch.batch_id;
    for (const [method, path] of [
      ['GET', `/api/v1/batches/${id}`],
      ['GET', `/api/v1/batches/${id}/results?format=coco`],
      ['POST', `/api/v1/batches/${id}/cancel`],
      ['DELETE', `/api/v1/batches/${id}`],
    ] as const) {
      const res = await ctx.api.request(path, { method, headers: auth(other.token) });
      expect({ path, method, status: res.status, code: await errorCode(res) }).toEqual({
        path,
        method,
        status: 404,
        code: 'batch_not_found',
      });
    }
    const add = await post(ctx.api, other.token, `/api/v1/batches/${id}/images`, batchForm(good(1)));
    expect(add.status).toBe(404);
    const task = await ctx.api.request(`/api/v1/tasks/${mine.tasks[0]?.task_id}`, { headers: auth(other.token) });
    expect(task.status).toBe(404);
    const exported = await ctx.api.request(`/api/v1/tasks/export?ids=${mine.tasks[0]?.task_id}`, {
      headers: auth(other.token),
    });
    expect(exported.status).toBe(404);
    expect(BatchListSchema.parse(await getJson(other.token, '/api/v1/batches')).items).toEqual([]);
    const ownList = BatchListSchema.parse(await getJson(owner.token, '/api/v1/batches?limit=100'));
    expect(ownList.items[0]?.batch_id).toBe(id); // newest first
    expect(ownList.items.length).toBeGreaterThanOrEqual(3);
    // Still intact for its owner.
    expect(BatchSchema.parse(await getJson(owner.token, `/api/v1/batches/${id}`)).counts.queued).toBe(1);
  });

  it('cancel: queued tasks canceled (their jobs gone), the batch takes no more photos; delete: tasks and files gone', async () => {
    const b = await createBatch(ctx.api, owner.token, good(3));
    const id = b.batch.batch_id;
    const res = await post(ctx.api, owner.token, `/api/v1/batches/${id}/cancel`);
    expect(res.status).toBe(200);
    const canceled: Batch = BatchSchema.parse(await res.json());
    expect(canceled.status).toBe('canceled');
    expect(canceled.counts).toMatchObject({ queued: 0, canceled: 3 });
    expect(canceled.progress).toBe(1);
    for (const t of b.tasks)
      expect(await ctx.api.services.queue.queueFor('centernet').getJob(t.task_id)).toBeUndefined();
    const closed = await post(ctx.api, owner.token, `/api/v1/batches/${id}/images`, batchForm(good(1)));
    expect(closed.status).toBe(409);
    expect(await errorCode(closed)).toBe('batch_closed');

    const before = storedFiles(ctx.api.config.DATA_DIR).length;
    const d = await createBatch(ctx.api, owner.token, [{ bytes: await jpegOf('coffee.png'), name: 'c.jpg' }]);
    expect(storedFiles(ctx.api.config.DATA_DIR).length).toBe(before + 1);
    const del = await ctx.api.request(`/api/v1/batches/${d.batch.batch_id}`, {
      method: 'DELETE',
      headers: auth(owner.token),
    });
    expect(del.status).toBe(204);
    expect((await ctx.api.request(`/api/v1/batches/${d.batch.batch_id}`, { headers: auth(owner.token) })).status).toBe(
      404,
    );
    const gone = await ctx.api.request(`/api/v1/tasks/${d.tasks[0]?.task_id}`, { headers: auth(owner.token) });
    expect(gone.status).toBe(404);
    expect(storedFiles(ctx.api.config.DATA_DIR).length).toBe(before);
    expect(await ctx.api.services.queue.queueFor('centernet').getJob(d.tasks[0]?.task_id ?? '')).toBeUndefined();
  });

  it('bad requests: no photos, a non-file image part, a bad cursor or format', async () => {
    const none = await post(ctx.api, owner.token, '/api/v1/batches', batchForm([], { min_score: '0.5' }));
    expect(none.status).toBe(400);
    expect(await errorCode(none)).toBe('missing_image');
    const form = new FormData();
    form.set('image', 'not a file');
    const text = await post(ctx.api, owner.token, '/api/v1/batches', form);
    expect(await errorCode(text)).toBe('missing_image');
    const b = await createBatch(ctx.api, owner.token, good(1));
    for (const q of ['?cursor=abc', '/results?format=xml']) {
      const res = await ctx.api.request(`/api/v1/batches/${b.batch.batch_id}${q}`, { headers: auth(owner.token) });
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('invalid_request');
    }
    const unauth = await ctx.api.request('/api/v1/batches');
    expect(unauth.status).toBe(401);
  });

  it('the OpenAPI document has the batch routes and schemas', async () => {
    const doc = (await (await ctx.api.request('/api/openapi.json')).json()) as {
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, unknown> };
    };
    for (const p of [
      '/api/v1/batches',
      '/api/v1/batches/{id}',
      '/api/v1/batches/{id}/images',
      '/api/v1/batches/{id}/cancel',
      '/api/v1/batches/{id}/results',
      '/api/v1/tasks/export',
    ]) {
      expect(doc.paths[p], p).toBeDefined();
    }
    for (const s of ['Batch', 'BatchDetail', 'BatchUpload', 'BatchList', 'RejectedPhoto']) {
      expect(doc.components.schemas[s], s).toBeDefined();
    }
  });
});

describe('album admission limits, in-process', () => {
  const ctx = useInProcess({ MAX_BATCH_QUEUE_DEPTH: '3', MAX_BATCH_IMAGES_PER_REQUEST: '4' });

  it('an album that would pass MAX_BATCH_QUEUE_DEPTH is refused whole (503 queue_full, Retry-After), leaving no batch', async () => {
    const { token } = await ctx.api.addUser('carol');
    await createBatch(ctx.api, token, good(2));
    const res = await ctx.api.request('/api/v1/batches', {
      method: 'POST',
      headers: auth(token),
      body: batchForm(good(2)),
    });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await errorCode(res)).toBe('queue_full');
    const list = BatchListSchema.parse(
      await (await ctx.api.request('/api/v1/batches', { headers: auth(token) })).json(),
    );
    expect(list.items).toHaveLength(1);
    expect((await ctx.api.services.queue.counts()).batchWaiting).toBe(2);
  });

  it('more photos in one request than MAX_BATCH_IMAGES_PER_REQUEST allows: 400, nothing made', async () => {
    const { token } = await ctx.api.addUser('dave');
    const res = await ctx.api.request('/api/v1/batches', {
      method: 'POST',
      headers: auth(token),
      body: batchForm(good(5)),
    });
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('invalid_request');
    const list = BatchListSchema.parse(
      await (await ctx.api.request('/api/v1/batches', { headers: auth(token) })).json(),
    );
    expect(list.items).toEqual([]);
  });
});

async function createBatch(api: InProcess, token: string, photos: PhotoFile[]): Promise<BatchUpload> {
  const res = await api.request('/api/v1/batches', { method: 'POST', headers: auth(token), body: batchForm(photos) });
  expect(res.status, await res.clone().text()).toBe(202);
  return BatchUploadSchema.parse(await res.json());
}

describe('an album of 20 photos, 2 bad, on the real system (real model)', () => {
  const ctx = useSystem({ workers: 1 });

  it('18 succeed, 2 are refused with their codes, the counts add up; COCO and CSV exports are right', async () => {
    const { sys, token } = ctx;
    const photos = good(18).map((p, i) => ({ ...p, name: `album-${i}.png` }));
    photos.splice(5, 0, { bytes: await truncatedJpeg(), name: 'broken.jpg' });
    photos.splice(12, 0, { bytes: await gif(), name: 'anim.gif' });
    const res = await fetch(`${sys.baseUrl}/api/v1/batches`, {
      method: 'POST',
      headers: auth(token),
      body: batchForm(photos),
    });
    expect(res.status, await res.clone().text()).toBe(202);
    const created = BatchUploadSchema.parse(await res.json());
    expect(created.tasks).toHaveLength(18);
    expect(created.rejected.map((r) => [r.index, r.filename, r.error.code])).toEqual([
      [5, 'broken.jpg', 'image_undecodable'],
      [12, 'anim.gif', 'unsupported_media_type'],
    ]);
    const id = created.batch.batch_id;

    let batch: BatchDetail;
    const deadline = Date.now() + 80_000;
    for (;;) {
      const r = await fetch(`${sys.baseUrl}/api/v1/batches/${id}?limit=100`, { headers: auth(token) });
      batch = BatchDetailSchema.parse(await r.json());
      if (batch.status !== 'active' || Date.now() > deadline) break;
      // While it runs: the estimate comes from /stats' figures once a worker has timed a task.
      if (batch.counts.succeeded > 0) expect(batch.estimated_remaining_ms).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(batch.status, sys.dump().slice(-3000)).toBe('done');
    expect(batch.counts).toEqual({ queued: 0, running: 0, succeeded: 18, failed: 0, canceled: 0, rejected: 2 });
    expect(batch).toMatchObject({ total: 20, progress: 1, estimated_remaining_ms: null });
    expect(batch.tasks.map((t) => t.task_id)).toEqual(created.tasks.map((t) => t.task_id));
    // The worker kept each task's batch_id through claim and success.
    expect(batch.tasks.every((t) => t.batch_id === id && t.status === 'succeeded')).toBe(true);
    const people = batch.tasks.filter((t) => t.detections.some((d) => d.label === 'person'));
    expect(people.length).toBe(6); // the astronaut, every third photo

    // COCO: the rules of the format.
    const cocoRes = await fetch(`${sys.baseUrl}/api/v1/batches/${id}/results?format=coco`, { headers: auth(token) });
    expect(cocoRes.status).toBe(200);
    expect(cocoRes.headers.get('content-type')).toMatch(/^application\/json/);
    const coco = (await cocoRes.json()) as {
      images: { id: number; width: number; height: number }[];
      annotations: { id: number; image_id: number; category_id: number; bbox: number[]; score: number }[];
      categories: { id: number; name: string }[];
    };
    expect(coco.images).toHaveLength(18);
    const unique = (xs: number[]) => new Set(xs).size === xs.length;
    expect(unique(coco.images.map((i) => i.id))).toBe(true);
    expect(unique(coco.annotations.map((a) => a.id))).toBe(true);
    expect(unique(coco.categories.map((c) => c.id))).toBe(true);
    const images = new Map(coco.images.map((i) => [i.id, i]));
    const categories = new Map(coco.categories.map((c) => [c.id, c.name]));
    const detections = batch.tasks.reduce((n, t) => n + t.detections.length, 0);
    expect(coco.annotations).toHaveLength(detections);
    expect(coco.annotations.length).toBeGreaterThan(0);
    for (const a of coco.annotations) {
      const img = images.get(a.image_id);
      expect(img, `annotation ${a.id}: image ${a.image_id}`).toBeDefined();
      expect(categories.has(a.category_id), `annotation ${a.id}: category ${a.category_id}`).toBe(true);
      const [x, y, w, h] = a.bbox as [number, number, number, number];
      expect(x).toBeGreaterThanOrEqual(0);
      expect(y).toBeGreaterThanOrEqual(0);
      expect(w).toBeGreaterThan(0);
      expect(h).toBeGreaterThan(0);
      expect(x + w).toBeLessThanOrEqual((img?.width ?? 0) + 1e-6);
      expect(y + h).toBeLessThanOrEqual((img?.height ?? 0) + 1e-6);
      expect(a.score).toBeGreaterThan(0);
      expect(a.score).toBeLessThanOrEqual(1);
      expect(COCO_LABELS).toContain(categories.get(a.category_id));
    }
    // COCO's own category ids (1–90, with gaps), not the detector's 0–79.
    expect([categories.get(1), categories.get(18), categories.get(47), categories.get(90)]).toEqual([
      'person',
      'dog',
      'cup',
      'toothbrush',
    ]);

    // CSV: one row per detection, parsed back to the same labels and scores.
    const csvRes = await fetch(`${sys.baseUrl}/api/v1/batches/${id}/results?format=csv`, { headers: auth(token) });
    expect(csvRes.headers.get('content-type')).toMatch(/^text\/csv/);
    const rows = parseCsv(await csvRes.text());
    const header = rows[0] ?? [];
    const records = rows.slice(1).map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
    expect(records).toHaveLength(detections);
    const expected = batch.tasks.flatMap((t) => t.detections.map((d) => `${t.task_id} ${d.label} ${d.score}`));
    expect(records.map((r) => `${r.task_id} ${r.label} ${Number(r.score)}`).sort()).toEqual(expected.sort());

    // JSON, and the same for a list of tasks.
    const json = (await (
      await fetch(`${sys.baseUrl}/api/v1/batches/${id}/results?format=json`, { headers: auth(token) })
    ).json()) as { tasks: unknown[] };
    expect(json.tasks).toHaveLength(18);
    const two = created.tasks.slice(0, 2).map((t) => t.task_id);
    const some = await fetch(`${sys.baseUrl}/api/v1/tasks/export?format=coco&ids=${two.join(',')}`, {
      headers: auth(token),
    });
    expect(some.status).toBe(200);
    expect(((await some.json()) as { images: unknown[] }).images).toHaveLength(2);
  });
});

/** RFC 4180 CSV: quoted fields may hold commas, quotes ("") and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}
