/** Exports of tasks from different models: COCO's ids for COCO's classes, an operator model's own labels after them. */
import { describe, expect, it } from 'vitest';
import type { Task } from '../../shared/contract.ts';
import { toCoco } from '../../shared/export/coco.ts';
import { toCsv } from '../../shared/export/csv.ts';

const task = (id: string, detections: Task['detections']): Task => ({
  task_id: id,
  status: 'succeeded',
  source: 'server',
  created_at: '2026-01-01T00:00:00.000Z',
  started_at: null,
  finished_at: null,
  params: { min_score: 0.3, max_detections: 20, tiling: 'off', model: 'x' },
  model: null,
  image: { width: 100, height: 100, sha256: 'a'.repeat(64), mime: 'image/png' },
  detections,
  timings: { queue_ms: null, inference_ms: null, total_ms: null },
  error: null,
});
const box = { x: 1, y: 2, width: 3, height: 4 };

describe('exports across models', () => {
  it('COCO: a COCO class keeps its category id; a model’s own label (class 0 = "cat" of a two-label list) gets its own', () => {
    const coco = toCoco([
      task('00000000-0000-4000-8000-000000000001', [{ label: 'cup', class_id: 41, score: 0.9, box }]),
      task('00000000-0000-4000-8000-000000000002', [
        { label: 'cat', class_id: 0, score: 0.8, box },
        { label: 'dog', class_id: 1, score: 0.7, box },
      ]),
    ]);
    expect(coco.annotations.map((a) => a.category_id)).toEqual([47, 91, 92]);
    expect(coco.categories.slice(-2)).toEqual([
      { id: 91, name: 'cat', supercategory: 'other' },
      { id: 92, name: 'dog', supercategory: 'other' },
    ]);
    const csv = toCsv([task('00000000-0000-4000-8000-000000000002', [{ label: 'cat', class_id: 0, score: 0.8, box }])]);
    expect(csv).not.toContain(',1,0.8'); // not person's category id
  });
});
