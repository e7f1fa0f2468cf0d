/** The history list: a row per task with its thumbnail, status, progress and where it ran. */
import type { Task } from '../../../shared/contract.ts';
import type { HistoryEntry } from '../store.ts';
import { describeWhere } from './result-view.ts';

const urls = new Map<string, string>();

function thumbUrl(entry: HistoryEntry): string {
  const key = `${entry.task.task_id}:${entry.thumbnail.size}`;
  let url = urls.get(key);
  if (!url) {
    url = URL.createObjectURL(entry.thumbnail);
    urls.set(key, url);
  }
  return url;
}

type Handlers = { open(id: string): void; remove(id: string): void };

export function renderHistory(
  list: HTMLUListElement,
  entries: HistoryEntry[],
  progress: Map<string, number>,
  handlers: Handlers,
  minScore: number,
): void {
  list.replaceChildren(...entries.map((entry) => row(entry, thumbUrl(entry), progress, handlers, minScore)));
}

/**
 * A task's new state in its row at once, before it is written to the history (which re-renders the
 * list after it): a result is shown as soon as it is known.
 */
export function markRow(
  list: HTMLUListElement,
  task: Task,
  progress: Map<string, number>,
  handlers: Handlers,
  minScore: number,
): void {
  const old = list.querySelector<HTMLLIElement>(`li.task[data-task-id="${CSS.escape(task.task_id)}"]`);
  const thumb = old?.querySelector('img')?.src;
  if (old && thumb) old.replaceWith(row({ task }, thumb, progress, handlers, minScore));
}

function row(
  entry: Pick<HistoryEntry, 'task' | 'pending'>,
  thumb: string,
  progress: Map<string, number>,
  handlers: Handlers,
  minScore: number,
): HTMLLIElement {
  const t = entry.task;
  const li = document.createElement('li');
  li.className = 'task';
  li.dataset.taskId = t.task_id;
  li.dataset.status = t.status;
  li.dataset.source = t.source;
  const img = document.createElement('img');
  img.src = thumb;
  img.alt = '';
  const body = document.createElement('div');
  const labels = [...new Set(t.detections.filter((d) => d.score >= minScore).map((d) => d.label))]
    .slice(0, 4)
    .join(', ');
  const title = document.createElement('div');
  title.className = 'title';
  title.textContent = t.status === 'succeeded' ? labels || 'Nothing found' : (t.error?.message ?? 'Photo');
  const sub = document.createElement('div');
  sub.className = 'sub';
  const badge = document.createElement('span');
  badge.className = `badge ${t.status}`;
  badge.textContent = entry.pending ? 'waiting for the network' : t.status;
  sub.append(badge, ` ${describeWhere(t)} · ${new Date(t.created_at).toLocaleString()}`);
  body.append(title, sub);
  const p = progress.get(t.task_id);
  if (p !== undefined && p < 1) {
    const bar = document.createElement('progress');
    bar.max = 1;
    bar.value = p;
    body.append(bar);
  }
  const del = document.createElement('button');
  del.className = 'button';
  del.type = 'button';
  del.textContent = 'Delete';
  del.setAttribute('aria-label', 'Delete this task');
  del.addEventListener('click', (e) => {
    e.stopPropagation();
    handlers.remove(t.task_id);
  });
  li.append(img, body, del);
  li.addEventListener('click', () => handlers.open(t.task_id));
  return li;
}
