/**
 * The history list, following `state.rows`: one <li> per task, keyed by task id. A row changes only
 * when its own entry does (the state keeps unchanged rows as the same objects), and then only the
 * parts that differ: an upload's progress tick sets one <progress> value, nothing else in the list.
 * The list is redrawn whole only when the score threshold moves (every title depends on it).
 */
import type { Task } from '../../../shared/contract.ts';
import { type AppState, compareNewestFirst, type Row, type Store } from '../state.ts';
import { describeWhere } from './result-view.ts';

export interface HistoryActions {
  open(id: string): void;
  remove(id: string): void;
}

export function historyView(list: HTMLUListElement, empty: HTMLElement, store: Store, actions: HistoryActions): void {
  const views = new Map<string, RowView>();

  const render = (s: AppState, prev: AppState | null) => {
    const everything = !prev || s.settings.minScore !== prev.settings.minScore;
    if (!everything && s.rows === prev.rows) return;
    for (const [id, v] of views) {
      if (!s.rows.has(id)) {
        v.dispose();
        views.delete(id);
      }
    }
    const added: Row[] = [];
    for (const [id, row] of s.rows) {
      const v = views.get(id);
      if (!v) added.push(row);
      else if (everything || v.row !== row) v.update(row, s.settings.minScore);
    }
    // Newest first; a new row goes before the first older one (most often: at the top).
    added.sort((a, b) => compareNewestFirst(a.task, b.task));
    for (const row of added) {
      const v = new RowView(row, s.settings.minScore, actions);
      views.set(row.task.task_id, v);
      const before = [...list.children].find(
        (li) =>
          compareNewestFirst(row.task, (views.get((li as HTMLElement).dataset.taskId ?? '')?.row ?? row).task) < 0,
      );
      list.insertBefore(v.li, before ?? null);
    }
    const isEmpty = s.rows.size === 0;
    if (empty.hidden === isEmpty) empty.hidden = !isEmpty;
  };

  render(store.get(), null);
  store.subscribe(render);
}

/** One row; `update` touches only what changed (a MutationObserver sees nothing else). */
class RowView {
  readonly li = document.createElement('li');
  private readonly img = document.createElement('img');
  private readonly title = document.createElement('div');
  private readonly badge = document.createElement('span');
  private readonly where = document.createTextNode('');
  private bar: HTMLProgressElement | undefined;
  private thumbUrl: string | undefined;

  constructor(
    public row: Row,
    minScore: number,
    actions: HistoryActions,
  ) {
    const { li } = this;
    li.className = 'task';
    li.dataset.taskId = row.task.task_id;
    this.img.alt = '';
    const body = document.createElement('div');
    this.title.className = 'title';
    const sub = document.createElement('div');
    sub.className = 'sub';
    sub.append(this.badge, this.where);
    body.append(this.title, sub);
    const del = document.createElement('button');
    del.className = 'button';
    del.type = 'button';
    del.textContent = 'Delete';
    del.setAttribute('aria-label', 'Delete this task');
    del.addEventListener('click', (e) => {
      e.stopPropagation();
      actions.remove(this.row.task.task_id);
    });
    li.append(this.img, body, del);
    li.addEventListener('click', () => actions.open(this.row.task.task_id));
    this.update(row, minScore);
  }

  update(row: Row, minScore: number): void {
    this.row = row;
    const t = row.task;
    set(this.li.dataset, 'status', t.status);
    set(this.li.dataset, 'source', t.source);
    if (row.thumbnail && !this.thumbUrl) {
      this.thumbUrl = URL.createObjectURL(row.thumbnail);
      this.img.src = this.thumbUrl;
    }
    text(this.title, titleOf(t, minScore));
    const badgeClass = `badge ${t.status}`;
    if (this.badge.className !== badgeClass) this.badge.className = badgeClass;
    text(this.badge, row.pending ? 'waiting for the network' : t.status);
    const where = ` ${describeWhere(t)} · ${new Date(t.created_at).toLocaleString()}`;
    if (this.where.data !== where) this.where.data = where;
    this.progress(row.progress);
  }

  private progress(p: number | undefined): void {
    if (p === undefined || p >= 1) {
      this.bar?.remove();
      this.bar = undefined;
      return;
    }
    if (!this.bar) {
      this.bar = document.createElement('progress');
      this.bar.max = 1;
      this.title.parentElement?.append(this.bar);
    }
    if (this.bar.value !== p) this.bar.value = p;
  }

  dispose(): void {
    this.li.remove();
    if (this.thumbUrl) URL.revokeObjectURL(this.thumbUrl);
  }
}

function titleOf(t: Task, minScore: number): string {
  if (t.status !== 'succeeded') return t.error?.message ?? 'Photo';
  const labels = [...new Set(t.detections.filter((d) => d.score >= minScore).map((d) => d.label))];
  return labels.slice(0, 4).join(', ') || 'Nothing found';
}

function set(map: DOMStringMap, key: string, value: string): void {
  if (map[key] !== value) map[key] = value;
}

function text(node: HTMLElement, value: string): void {
  if (node.textContent !== value) node.textContent = value;
}
