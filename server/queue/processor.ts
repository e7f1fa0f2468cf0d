/**
 * What a worker does with one job: claim the task, decode the upload once for the model, detect
 * (in the model thread), and record the outcome — each change through the task service, one round
 * trip each, so that a task has exactly one outcome even if BullMQ delivers its job twice. The
 * annotated image is not drawn here: the API draws it when someone asks for it.
 */
import { type Job, UnrecoverableError } from 'bullmq';
import { TwinlensError } from '../../shared/errors.ts';
import { inputSide } from '../../shared/models/manifest.ts';
import { decodeForModel } from '../images/decode.ts';
import type { Logger } from '../log.ts';
import type { JobMetrics } from '../metrics/worker-metrics.ts';
import type { ModelRunner } from '../model/runner.ts';
import type { ModelCatalog } from '../models/catalog.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { TaskService } from '../tasks/task-service.ts';
import { type DetectJobData, modelOf } from './detect-queue.ts';

export interface ProcessorDeps {
  tasks: TaskService;
  blobs: BlobStore;
  model: ModelRunner;
  /** Where each job's model is found (by the id in its params). */
  models: ModelCatalog;
  maxPixels: number;
  log: Logger;
  /** Observability: told of each task's timings or failure (server/metrics/). */
  metrics?: JobMetrics;
}

/** Failures another attempt seconds later cannot mend: bad input, a hung model, no storage space, a model that does not load. */
const PERMANENT = new Set(['image_undecodable', 'timeout', 'storage_full', 'model_unavailable']);

export function createProcessor(deps: ProcessorDeps) {
  const { tasks, blobs, model, maxPixels } = deps;

  return async function process(job: Job<DetectJobData>): Promise<string> {
    const { taskId } = job.data;
    const modelId = modelOf(job.data);
    const log = deps.log.child({ task_id: taskId, job_attempt: job.attemptsMade + 1, model: modelId });
    const entry = await deps.models.get(modelId);
    const info = entry
      ? model.info(entry.manifest)
      : { id: modelId, name: modelId, version: 'unknown', backend: model.backend };
    // queued → running, or running → running when a previous attempt died mid-job.
    const claim = await tasks.claim(taskId, info, job.data.task);
    if (claim.outcome === 'missing') {
      log.warn('task record is gone (deleted or expired); dropping the job');
      return 'gone';
    }
    if (claim.outcome === 'not-allowed') {
      log.info('task already final; nothing to do', { status: claim.status });
      return claim.status;
    }
    const running = claim.task;

    try {
      if (!entry?.ready) {
        throw new TwinlensError(
          'model_unavailable',
          entry ? `model ${modelId} is not installed here: ${entry.problem}` : `this worker has no model ${modelId}`,
        );
      }
      const bytes = await blobs.get(job.data.uploadKey);
      if (!bytes) throw new TwinlensError('storage_failed', 'the uploaded image is missing from storage');
      let decoded: Awaited<ReturnType<typeof decodeForModel>> | null = null;
      if (model.needsPixels) {
        try {
          const side = inputSide(entry.manifest.input);
          decoded = await decodeForModel(bytes, side, maxPixels, job.data.params.tiling ?? 'off');
        } catch (err) {
          throw new TwinlensError('image_undecodable', `the image cannot be decoded: ${(err as Error).message}`);
        }
      }
      const original = decoded?.original ?? { width: running.image.width, height: running.image.height };
      const result = await model.detect(entry, decoded?.pixels ?? null, original, job.data.params);
      const done = await tasks.succeed(
        { ...running, model: result.info },
        job.data.ownerId,
        result.detections,
        result.inferenceMs,
        result,
      );
      if (done.outcome !== 'ok') {
        log.info('task was canceled while running; result discarded');
        return 'canceled';
      }
      deps.metrics?.succeeded(done.task.timings);
      log.info('task succeeded', {
        detections: result.detections.length,
        inference_ms: done.task.timings.inference_ms,
        total_ms: done.task.timings.total_ms,
      });
      return 'succeeded';
    } catch (err) {
      const e =
        err instanceof TwinlensError
          ? err
          : new TwinlensError('inference_failed', String((err as Error).message ?? err));
      const permanent = PERMANENT.has(e.code);
      if (permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
        const failed = await tasks.fail(running, job.data.ownerId, { code: e.code, message: e.message });
        deps.metrics?.failed(e.code, failed.task.timings);
        log.warn('task failed', { error_code: e.code, error: e.message });
      } else {
        log.warn('attempt failed; will retry', { error_code: e.code, error: e.message });
      }
      throw permanent ? new UnrecoverableError(e.message) : e;
    }
  };
}
