/**
 * Tasks as a download in one of the export formats (a batch's results, a list of tasks): JSON as
 * the API gives tasks, a COCO dataset, or CSV with a row per detection. The formats themselves are
 * pure functions in shared/export/, the same the web app and the CLI write.
 */
import type { ExportFormat, Task } from '../../shared/contract.ts';
import { toCoco } from '../../shared/export/coco.ts';
import { toCsv } from '../../shared/export/csv.ts';

export function exportResponse(tasks: Task[], format: ExportFormat, name: string): Response {
  const file = (body: string, type: string, ext: string) =>
    new Response(body, {
      status: 200,
      headers: {
        'Content-Type': type,
        'Content-Disposition': `attachment; filename="${name}.${ext}"`,
        'Cache-Control': 'private, no-store',
      },
    });
  if (format === 'csv') return file(toCsv(tasks), 'text/csv; charset=utf-8', 'csv');
  if (format === 'coco') return file(JSON.stringify(toCoco(tasks)), 'application/json', 'coco.json');
  return file(JSON.stringify({ tasks }), 'application/json', 'json');
}
