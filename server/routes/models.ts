/**
 * GET /api/v1/models: the models this deployment serves, for people and for the web app's model
 * picker (so it needs no login: the device path works without one); and the models' files under
 * /models/<id>/<version>/, for running them on the device. A new version is a new URL, so the
 * files are cached for good.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { type ModelList, ModelListSchema, type ModelSummary } from '../../shared/contract.ts';
import { labelMapFor } from '../../shared/detector/labels.ts';
import { modelUrlPath } from '../../shared/models/builtin.ts';
import { errorBody } from '../http/errors.ts';
import type { AppEnv } from '../http/types.ts';
import type { ModelCatalog } from '../models/catalog.ts';
import { serves } from '../queue/model-figures.ts';
import type { TaskService } from '../tasks/task-service.ts';
import type { WorkerRegistry } from '../workers/worker-registry.ts';

const list = createRoute({
  method: 'get',
  path: '/models',
  tags: ['models'],
  summary: 'The models this server serves (no login needed)',
  description:
    'Each with its manifest (labels, input, decoder, licence, source), where its files are served for running it on the device, the live workers that serve it, and the mean inference time its workers measured on recent tasks, per TF.js backend. A task names one with the form field `model`.',
  responses: {
    200: { description: 'The models, the default first', content: { 'application/json': { schema: ModelListSchema } } },
  },
});

export function modelRoutes(deps: { models: ModelCatalog; workers: WorkerRegistry; tasks: TaskService }) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(list, async (c) => {
    const ready = await deps.models.ready();
    const [alive, inference] = await Promise.all([
      deps.workers.alive(),
      deps.tasks.modelInference(ready.map((m) => m.manifest.id)),
    ]);
    const items = ready.map((m): ModelSummary => {
      const manifest = m.manifest;
      return {
        id: manifest.id,
        version: manifest.version,
        name: manifest.name,
        title: manifest.title,
        default: manifest.id === deps.models.defaultModel,
        builtin: m.builtin,
        labels: [...labelMapFor(manifest.labels).names],
        input: manifest.input,
        license: manifest.license,
        source: manifest.source,
        url: modelUrlPath(manifest),
        manifest,
        workers: alive.filter((w) => serves(w, manifest.id, deps.models.defaultModel)).length,
        inference: (inference.get(manifest.id)?.backends ?? []).map((b) => ({
          backend: b.backend,
          mean_inference_ms: b.meanMs,
          samples: b.samples,
        })),
      };
    });
    const body: ModelList = { default: deps.models.defaultModel, items };
    return c.json(body, 200, { 'Cache-Control': 'no-cache' });
  });
  return app;
}

const TYPES: Record<string, string> = { '.json': 'application/json', '.bin': 'application/octet-stream' };

export function modelFileRoutes(models: ModelCatalog) {
  const app = new Hono();
  app.get('/models/:id/:version/:file{.+}', async (c) => {
    const { id, version, file } = c.req.param();
    const m = await models.get(id);
    // Only the files a model lists (its manifest's, the shards its model.json names): nothing else of the folder.
    if (!m?.ready || m.manifest.version !== version || !m.files.includes(file)) {
      return c.json(errorBody('not_found', `no file ${file} of model ${id} ${version}`), 404);
    }
    const full = path.join(m.dir, file);
    const stat = await fs.promises.stat(full).catch(() => null);
    if (!stat?.isFile()) return c.json(errorBody('not_found', `no file ${file} of model ${id} ${version}`), 404);
    return new Response(Readable.toWeb(fs.createReadStream(full)) as ReadableStream, {
      headers: {
        'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'Content-Length': String(stat.size),
        'Cache-Control': 'public, max-age=31536000, immutable',
        'X-Content-Type-Options': 'nosniff',
      },
    });
  });
  return app;
}
