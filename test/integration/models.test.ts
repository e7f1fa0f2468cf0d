/**
 * Models chosen per task, through HTTP, the real Redis, real worker processes and the real models:
 * nanodet beside centernet; GET /models; 400 unknown_model; a task whose model no live worker serves
 * waits (visibly, in /stats) and runs when one starts; an operator's model added with
 * `twinlens models add` (checked, then served without a restart); a model that fails to load fails its
 * tasks with model_unavailable while the worker goes on serving the others.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BatchUploadSchema, ModelListSchema, StatsSchema, TaskSchema } from '../../shared/contract.ts';
import { auth, fixture, getTask, upload, waitForTask } from '../helpers/api.ts';
import { DECODER_CASES } from '../helpers/decoder-models.ts';
import { writeModelFolder } from '../helpers/graph-models.ts';
import { launch, useSystem } from '../helpers/system.ts';

// The first worker serves centernet only: nanodet tasks wait for the second, started by a test.
const ctx = useSystem({ workers: 1, env: { WORKER_MODELS: 'centernet' } });
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-models-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const post = async (fields: Record<string, string>, photo = 'astronaut.png') => {
  const res = await upload(ctx.sys.baseUrl, ctx.token, fixture(photo), { filename: photo, fields });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

async function cli(args: string[]): Promise<{ code: number | null; output: string }> {
  const p = launch('cli', { args, env: ctx.sys.env });
  const code = await p.exited;
  return { code, output: p.logs.join('\n') };
}

async function stats() {
  const res = await fetch(`${ctx.sys.baseUrl}/api/v1/stats`, { headers: auth(ctx.token) });
  return StatsSchema.parse(await res.json());
}

describe('models per task', () => {
  it('lists the models served, without a login: centernet (default) and nanodet; coco-ssd only once its weights are placed', async () => {
    const res = await fetch(`${ctx.sys.baseUrl}/api/v1/models`);
    expect(res.status).toBe(200);
    const list = ModelListSchema.parse(await res.json());
    expect(list.default).toBe('centernet');
    expect(list.items.map((m) => m.id)).toEqual(['centernet', 'nanodet']);
    const nanodet = list.items.find((m) => m.id === 'nanodet')!;
    expect(nanodet).toMatchObject({ version: 'human-models-3.0.4', builtin: true, default: false });
    expect(nanodet.labels).toHaveLength(80);
    expect(nanodet.input).toMatchObject({ size: [416, 416], layout: 'NCHW' });
    expect(nanodet.license).toMatch(/MIT/);
    // Its files are served, for the device path.
    const json = await fetch(`${ctx.sys.baseUrl}${nanodet.url}nanodet.json`);
    expect(json.status).toBe(200);
    expect(json.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(`${ctx.sys.baseUrl}${nanodet.url}manifest.json`)).status).toBe(404);
    expect((await fetch(`${ctx.sys.baseUrl}/models/nanodet/0.0.1/nanodet.json`)).status).toBe(404);
  });

  it('refuses a model this server does not serve with 400 unknown_model (coco-ssd without its weights too)', async () => {
    for (const model of ['yolo-nope', 'coco-ssd', '../etc']) {
      const r = await post({ model });
      expect(r.status, model).toBe(400);
      expect((r.body.error as { code: string }).code).toBe('unknown_model');
    }
  });

  it('a task for a model no live worker serves waits, visibly, and runs when a worker for it starts', async () => {
    const r = await post({ model: 'nanodet' });
    expect(r.status).toBe(202);
    const queued = TaskSchema.parse(r.body);
    expect(queued.params).toMatchObject({ model: 'nanodet', min_score: 0.3 });
    await new Promise((res) => setTimeout(res, 1500));
    const s = await stats();
    const nano = s.models?.find((m) => m.model === 'nanodet');
    expect(nano).toMatchObject({ waiting: 1, workers: 0, estimated_wait_ms: null, waiting_for_worker: true });
    expect((await getTask(ctx.sys.baseUrl, ctx.token, queued.task_id)).status).toBe('queued');

    await ctx.sys.startWorker({ WORKER_MODELS: 'nanodet' });
    const done = await waitForTask(ctx.sys.baseUrl, ctx.token, queued.task_id);
    expect(done.status, ctx.sys.dump()).toBe('succeeded');
    expect(done.model).toMatchObject({ id: 'nanodet', name: 'nanodet', version: 'human-models-3.0.4' });
    expect(done.detections[0]).toMatchObject({ label: 'person' });
    // The same photo, the other model: both answer, each its own way.
    const other = await waitForTask(ctx.sys.baseUrl, ctx.token, TaskSchema.parse((await post({})).body).task_id);
    expect(other.model?.id).toBe('centernet');
    expect(other.detections[0]).toMatchObject({ label: 'person' });
    const listed = ModelListSchema.parse(await (await fetch(`${ctx.sys.baseUrl}/api/v1/models`)).json());
    const measured = listed.items.find((m) => m.id === 'nanodet')!;
    expect(measured.workers).toBe(1);
    expect(measured.inference[0]).toMatchObject({ backend: done.model?.backend, samples: 1 });
  });

  it('runs a whole batch on the model it names', async () => {
    const form = new FormData();
    for (const p of ['astronaut.png', 'coffee.png']) form.append('image', new Blob([new Uint8Array(fixture(p))]), p);
    form.set('model', 'nanodet');
    const res = await fetch(`${ctx.sys.baseUrl}/api/v1/batches`, {
      method: 'POST',
      headers: auth(ctx.token),
      body: form,
    });
    expect(res.status).toBe(202);
    const b = BatchUploadSchema.parse(await res.json());
    expect(b.batch.params.model).toBe('nanodet');
    for (const t of b.tasks) {
      const done = await waitForTask(ctx.sys.baseUrl, ctx.token, t.task_id);
      expect(done.model?.id).toBe('nanodet');
    }
  });
});

describe('bring your own model', () => {
  const yolo = DECODER_CASES.find((c) => c.name === 'yolo')!;

  it('models add refuses a corrupted model and leaves nothing; accepts a good one, which tasks may name at once', async () => {
    const good = path.join(scratch, 'my-yolo');
    writeModelFolder(good, yolo.graph, { ...yolo.manifest, id: 'my-yolo' });
    const bad = path.join(scratch, 'bad-yolo');
    writeModelFolder(bad, yolo.graph, { ...yolo.manifest, id: 'bad-yolo' });
    const w = fs.readFileSync(path.join(bad, 'weights.bin'));
    w[w.length - 1] = (w[w.length - 1] ?? 0) ^ 0xff;
    fs.writeFileSync(path.join(bad, 'weights.bin'), w);

    const refused = await cli(['models', 'add', bad]);
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/refused: files: weights\.bin has SHA-256 [0-9a-f]{64}; the manifest pins/);
    const modelsDir = path.join(ctx.sys.dataDir, 'models');
    expect(fs.existsSync(modelsDir) ? fs.readdirSync(modelsDir) : []).toEqual([]);

    const added = await cli(['models', 'add', good]);
    expect(added.code, added.output).toBe(0);
    expect(added.output).toMatch(
      /conformance: astronaut\.png: 2 detection\(s\) \(dog 0\.90, cat 0\.60\), the same twice/,
    );
    expect(fs.readdirSync(modelsDir)).toEqual(['my-yolo']);

    const listed = await cli(['models', 'list']);
    expect(listed.output).toMatch(/my-yolo\t1\tadded\tTest YOLO\tready/);
    // Served without a restart (the first two workers serve one model each: start one for all).
    await ctx.sys.startWorker({ WORKER_MODELS: '' });
    const r = await post({ model: 'my-yolo' }, 'coffee.png');
    expect(r.status).toBe(202);
    const done = await waitForTask(ctx.sys.baseUrl, ctx.token, (r.body as { task_id: string }).task_id);
    expect(done.status, ctx.sys.dump()).toBe('succeeded');
    // Letterboxed 64×64 from a 600×400 photo: the constant boxes, in the photo's pixels.
    expect(done.detections.map((d) => [d.label, d.score])).toEqual([
      ['dog', 0.9],
      ['cat', 0.6],
    ]);
  });

  it('a model that fails to load fails its tasks with model_unavailable, and the worker serves the others', async () => {
    // Installed, then damaged in place: the worker's load checks each file's SHA-256.
    const weights = path.join(ctx.sys.dataDir, 'models', 'my-yolo', 'weights.bin');
    const w = fs.readFileSync(weights);
    w[0] = (w[0] ?? 0) ^ 0xff;
    fs.writeFileSync(weights, w);
    // A worker that has not loaded it yet.
    const fresh = await ctx.sys.startWorker({ WORKER_MODELS: 'my-yolo,centernet' });
    for (const old of ctx.sys.workers.filter((p) => p !== fresh)) old.child.kill('SIGTERM');
    await Promise.all(ctx.sys.workers.filter((p) => p !== fresh).map((p) => p.exited));

    const broken = TaskSchema.parse((await post({ model: 'my-yolo' })).body);
    const failed = await waitForTask(ctx.sys.baseUrl, ctx.token, broken.task_id);
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('model_unavailable');
    expect(failed.error?.message).toMatch(/weights\.bin does not match its SHA-256/);

    const fine = TaskSchema.parse((await post({ model: 'centernet' })).body);
    expect((await waitForTask(ctx.sys.baseUrl, ctx.token, fine.task_id)).status).toBe('succeeded');
    expect(fresh.child.exitCode).toBeNull();
  });

  it('a manifest URL is fetched only through the guarded client: an address inside is refused', async () => {
    const r = await cli(['models', 'add', 'https://127.0.0.1:9/manifest.json']);
    expect(r.code).toBe(1);
    expect(r.output).toMatch(
      /refused: the manifest: https:\/\/127\.0\.0\.1:9\/manifest\.json: 127\.0\.0\.1 is a loopback address/,
    );
  });
});
