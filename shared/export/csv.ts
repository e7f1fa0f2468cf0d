/**
 * Tasks as CSV, one row per detection (RFC 4180: comma-separated, quoted where needed, CRLF),
 * for spreadsheets and scripts. A succeeded task without detections still gets a row (empty
 * label), so every photo appears; failed tasks get a row with their error code.
 */
import type { Task } from '../contract.ts';
import { cocoCategoryOf } from '../detector/labels.ts';

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

function cell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function toCsv(tasks: Task[], opts: { fileNames?: Map<string, string> } = {}): string {
  const rows: (string | number | null)[][] = [[...CSV_COLUMNS]];
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
  return `${rows.map((r) => r.map(cell).join(',')).join('\r\n')}\r\n`;
}
