/**
 * Tasks as CSV, one row per detection, for spreadsheets and scripts, written by the project's one
 * CSV writer (csv-writer.ts: RFC 4180; cells a spreadsheet would run as formulas neutralised). A
 * succeeded task without detections still gets a row (empty label), so every photo appears;
 * failed tasks get a row with their error code.
 */
import type { Task } from '../contract.ts';
import { cocoCategoryOf } from '../detector/labels.ts';
import { type CsvValue, writeCsv } from './csv-writer.ts';

export const CSV_COLUMNS = [
  'task_id',
  'file_name',
  'status',
  'image_width',
  'image_height',
  'label',
  'category_id',
  'score',
  'x',
  'y',
  'width',
  'height',
  'error',
] as const;

export function toCsv(tasks: Task[], opts: { fileNames?: Map<string, string> } = {}): string {
  const rows: CsvValue[][] = [[...CSV_COLUMNS]];
  for (const t of tasks) {
    const head = [
      t.task_id,
      opts.fileNames?.get(t.task_id) ?? t.file_name ?? t.task_id,
      t.status,
      t.image.width,
      t.image.height,
    ];
    if (t.status !== 'succeeded' || t.detections.length === 0) {
      rows.push([...head, null, null, null, null, null, null, null, t.error?.code ?? null]);
      continue;
    }
    for (const d of t.detections) {
      rows.push([
        ...head,
        d.label,
        cocoCategoryOf(d) ?? null,
        d.score,
        d.box.x,
        d.box.y,
        d.box.width,
        d.box.height,
        null,
      ]);
    }
  }
  return writeCsv(rows);
}
