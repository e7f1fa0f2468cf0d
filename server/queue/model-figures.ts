/**
 * The queue's figures per model: each model has its own queue, its own workers (those whose
 * heartbeat names it) and its own inference times, so each gets its own estimate — and a model no
 * live worker serves says so (`waiting_for_worker`), with no estimate, while its tasks wait.
 */
import type { ModelQueueStats } from '../../shared/contract.ts';
import type { ModelCatalog } from '../models/catalog.ts';
import type { TaskService } from '../tasks/task-service.ts';
import type { Heartbeat, WorkerRegistry } from '../workers/worker-registry.ts';
import type { DetectQueue } from './detect-queue.ts';

/** Whether a live worker takes this model's jobs (a heartbeat without `models`: an older worker, the default only). */
export function serves(w: Heartbeat, model: string, defaultModel: string): boolean {
  return w.models ? w.models.includes(model) : model === defaultModel;
}

export async function modelFigures(deps: {
  queue: DetectQueue;
  workers: WorkerRegistry;
  tasks: TaskService;
  models: ModelCatalog;
}): Promise<ModelQueueStats[]> {
  const [byModel, alive, catalog] = await Promise.all([
    deps.queue.countsByModel(),
    deps.workers.alive(),
    deps.models.list(),
  ]);
  const ids = [...new Set([...catalog.map((m) => m.manifest.id), ...byModel.keys()])];
  const inference = await deps.tasks.modelInference(ids);
  return ids.map((model) => {
    const c = byModel.get(model);
    const waiting = c?.waiting ?? 0;
    const active = c?.active ?? 0;
    const delayed = c?.delayed ?? 0;
    const workers = alive.filter((w) => serves(w, model, deps.models.defaultModel)).length;
    const mean = inference.get(model)?.meanMs ?? null;
    const jobs = waiting + active + delayed;
    return {
      model,
      waiting,
      active,
      delayed,
      workers,
      mean_inference_ms: mean,
      estimated_wait_ms: workers === 0 || mean === null ? null : Math.round((jobs * mean) / workers),
      waiting_for_worker: workers === 0 && jobs > 0,
    };
  });
}
