/**
 * The history's buttons: export as JSON, COCO or CSV (the same formats as the API's exports and the
 * CLI: shared/export), and delete all. The tasks come from the state, newest first.
 */
import { toCoco } from '../../../shared/export/coco.ts';
import { toCsv } from '../../../shared/export/csv.ts';
import { rowsNewestFirst, type Store } from '../state.ts';

export interface ExportElements {
  json: HTMLElement;
  coco: HTMLElement;
  csv: HTMLElement;
  clear: HTMLElement;
}

function download(text: string, type: string, name: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = `twinlens-${name}-${new Date().toISOString().slice(0, 10)}`;
  a.click();
  URL.revokeObjectURL(a.href);
}

export function exportView(el: ExportElements, store: Store, clear: () => Promise<void>): void {
  const tasks = () => rowsNewestFirst(store.get().rows).map((r) => r.task);
  el.json.addEventListener('click', () =>
    download(
      JSON.stringify({ exported_at: new Date().toISOString(), tasks: tasks() }, null, 2),
      'application/json',
      'history.json',
    ),
  );
  el.coco.addEventListener('click', () =>
    download(JSON.stringify(toCoco(tasks()), null, 1), 'application/json', 'coco.json'),
  );
  el.csv.addEventListener('click', () => download(toCsv(tasks()), 'text/csv', 'detections.csv'));
  el.clear.addEventListener('click', () => {
    if (confirm('Delete the whole history on this device?')) void clear();
  });
}
