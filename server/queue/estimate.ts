/**
 * The queue's figures a client estimates its wait from — jobs by state, workers alive, the mean
 * of recent inference times — read once, and the one estimate made from them: jobs × mean ÷
 * workers. /stats and the album jobs' `estimated_remaining_ms` both use these.
 */
import type { TaskService } from '../tasks/task-service.ts';
import type { WorkerRegistry } from '../workers/worker-registry.ts';
import type { DetectQueue, QueueCounts } from './detect-queue.ts';

export interface QueueFigures {
  counts: QueueCounts;
  workers: number;
  /** Mean of the recent inference times (ms), rounded to 0.1; null before any. */
  meanInferenceMs: number | null;
}

export async function queueFigures(deps: {
  queue: DetectQueue;
  workers: WorkerRegistry;
  tasks: TaskService;
}): Promise<QueueFigures> {
  const [counts, workers, inference] = await Promise.all([
    deps.queue.counts(),
    deps.workers.alive(),
    deps.tasks.meanInferenceMs(),
  ]);
  return {
    counts,
    workers: workers.length,
    meanInferenceMs: inference === null ? null : Math.round(inference * 10) / 10,
  };
}

/** Time (ms) for the workers to get through `jobs`; null with no workers or no samples. */
export function estimateMs(jobs: number, figures: QueueFigures): number | null {
  if (figures.meanInferenceMs === null || figures.workers === 0) return null;
  return Math.round((jobs * figures.meanInferenceMs) / figures.workers);
}
