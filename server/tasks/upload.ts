/**
 * From an uploaded photo to a new task, for every route that takes photos (POST /tasks, album
 * jobs): the form's detection parameters, and the checks made in memory before a byte is written
 * (a refusal leaves no file). The task itself is made by shared/task-lifecycle.ts's `newTask`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { type DetectParams, DetectParamsSchema, type Task } from '../../shared/contract.ts';
import { TwinlensError } from '../../shared/errors.ts';
import { newTask } from '../../shared/task-lifecycle.ts';
import { type ImageLimits, inspectImage } from '../images/inspect.ts';

export interface PreparedUpload {
  task: Task;
  upload: { bytes: Uint8Array; extension: string };
}

/** Checks the photo and makes its queued task (not stored yet: TaskService.create does that). */
export async function prepareUpload(
  bytes: Uint8Array,
  limits: ImageLimits,
  opts: { id?: string | undefined; params: DetectParams; batchId?: string; fileName?: string | undefined },
): Promise<PreparedUpload> {
  if (bytes.length === 0) throw new TwinlensError('empty_body', 'the image file is empty');
  const info = await inspectImage(bytes, limits);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const task = newTask({
    id: opts.id ?? randomUUID(),
    source: 'server',
    image: { width: info.width, height: info.height, sha256, mime: info.mime },
    params: opts.params,
    ...(opts.batchId ? { batchId: opts.batchId } : {}),
    fileName: opts.fileName,
  });
  return { task, upload: { bytes, extension: info.extension } };
}

/**
 * `min_score`, `max_detections`, `tiling` and `model` from a form's text fields (defaults when
 * absent). `model`: the task's model, checked already (ModelCatalog.forTask); its own default score
 * applies when the form gives none.
 */
export function parseParams(
  fields: Map<string, string>,
  model?: { id: string; thresholds: { score: number } },
): DetectParams {
  const num = (name: string) => {
    const v = fields.get(name);
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new TwinlensError('invalid_request', `${name} must be a number`);
    return n;
  };
  const tiling = fields.get('tiling') || undefined;
  const parsed = DetectParamsSchema.safeParse({
    min_score: num('min_score') ?? model?.thresholds.score,
    max_detections: num('max_detections'),
    tiling,
    model: model?.id,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TwinlensError('invalid_request', `${issue?.path.join('.')}: ${issue?.message}`);
  }
  return parsed.data;
}
