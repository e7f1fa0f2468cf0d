/**
 * What a worker does with one job: claim the task, decode, detect (in the model thread),
 * draw the annotated image, store it, and record the outcome with a compare-and-set so that
 * a task has exactly one outcome even if BullMQ delivers its job twice.
 */
import { type Job, UnrecoverableError } from 'bullmq';
import { isFinalStatus, type Task } from '../../shared/contract.ts';
import { CENTERNET } from '../../shared/detector/detector.ts';
import { TwinlensError } from '../../shared/errors.ts';
import { annotate } from '../images/annotate.ts';
import { decodeForModel } from '../images/decode.ts';
import type { Logger } from '../log.ts';
import type { JobMetrics } from '../metrics/worker-metrics.ts';
import type { ModelRunner } from '../model/runner.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { TaskStore } from '../tasks/task-store.ts';
import type { DetectJobData } from './detect-queue.ts';

export interface ProcessorDeps {
  tasks: TaskStore;
  blobs: BlobStore;
  model: ModelRunner;
  maxPixels: number;
  log: Logger;
  /** Observability: told of each task's timings or failure (server/metrics/). */
  metrics?: JobMetrics;
}

export function createProcessor(deps: ProcessorDeps) {
  const { tasks, blobs, model, maxPixels } = deps;

  return async function process(job: Job<DetectJobData>): Promise<string> {
    const { taskId } = job.data;
    const log = deps.log.child({ task_id: taskId, job_attempt: job.attemptsMade + 1 });
    const stored = await tasks.get(taskId);
    if (!stored) {
      log.warn('task record is gone (deleted or expired); dropping the job');
      return 'gone';
    }
    if (isFinalStatus(stored.task.status)) {
      log.info('task already final; nothing to do', { status: stored.task.status });
      return stored.task.status;
    }
    await tasks.countRun(taskId);
    const startedAt = stored.task.started_at ?? new Date().toISOString();
    const created = Date.parse(stored.task.created_at);
    // Measured to the first attempt's start, so a retried task's wait is not counted twice; never
    // negative, even when the API's and this host's clocks disagree a little.
    const queueMs = Math.max(0, Date.parse(startedAt) - created);
    const running: Task = { ...stored.task, status: 'running', started_at: startedAt, model: model.info };
    // queued → running, or running → running when a previous attempt died mid-job.
    const claim = await tasks.transition(running, ['queued', 'running']);
    if (claim !== 'ok') {
      log.info('task changed under us (canceled?); dropping the job', { claim });
      return claim;
    }

    try {
      const bytes = await blobs.get(job.data.uploadKey);
      if (!bytes) throw new TwinlensError('storage_failed', 'the uploaded image is missing from storage');
      let decoded: Awaited<ReturnType<typeof decodeForModel>> | null = null;
      if (model.needsPixels) {
        try {
          decoded = await decodeForModel(bytes, CENTERNET.inputSize, maxPixels);
        } catch (err) {
          throw new TwinlensError('image_undecodable', `the image cannot be decoded: ${(err as Error).message}`);
        }
      }
      const original = decoded?.original ?? { width: stored.task.image.width, height: stored.task.image.height };
      const result = await model.detect(decoded?.pixels ?? null, original, job.data.params);
      const annotated = await annotate(bytes, result.detections, maxPixels);
      const annotatedKey = await blobs.put('results', annotated, 'jpg');
      await tasks.addBlob(taskId, annotatedKey);

      const finished = new Date();
      const done: Task = {
        ...running,
        status: 'succeeded',
        finished_at: finished.toISOString(),
        detections: result.detections,
        timings: {
          queue_ms: queueMs,
          inference_ms: Math.round(result.inferenceMs * 10) / 10,
          total_ms: Math.max(0, finished.getTime() - created),
        },
        error: null,
      };
      const outcome = await tasks.transition(done, ['running']);
      if (outcome !== 'ok') {
        // Canceled while we worked: the user asked for its files to go.
        await tasks.releaseBlob(taskId, annotatedKey);
        log.info('task was canceled while running; result discarded');
        return 'canceled';
      }
      deps.metrics?.succeeded(done.timings);
      log.info('task succeeded', {
        detections: done.detections.length,
        inference_ms: done.timings.inference_ms,
        total_ms: done.timings.total_ms,
      });
      return 'succeeded';
    } catch (err) {
      const e =
        err instanceof TwinlensError
          ? err
          : new TwinlensError('inference_failed', String((err as Error).message ?? err));
      // Bad input, a hung model and full storage are final (another attempt seconds later cannot
      // succeed); anything else is retried with backoff until the attempts run out.
      const permanent = e.code === 'image_undecodable' || e.code === 'timeout' || e.code === 'storage_full';
      const lastAttempt = permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (lastAttempt) {
        const failed: Task = {
          ...running,
          status: 'failed',
          finished_at: new Date().toISOString(),
          timings: { ...running.timings, queue_ms: queueMs, total_ms: Math.max(0, Date.now() - created) },
          error: { code: e.code, message: e.message },
        };
        await tasks.transition(failed, ['running']);
        deps.metrics?.failed(e.code, failed.timings);
        log.warn('task failed', { error_code: e.code, error: e.message });
      } else {
        log.warn('attempt failed; will retry', { error_code: e.code, error: e.message });
      }
      throw permanent ? new UnrecoverableError(e.message) : e;
    }
  };
}
