/**
 * The result: the photo with boxes and labels drawn over it (sized for a phone screen), the
 * detections with their scores, and where it ran. The score slider filters what is shown
 * without running the model again (tasks keep detections down to a low score for that).
 */
import type { Detection, Task } from '../../../shared/contract.ts';
import type { AppState, Store } from '../state.ts';

const COLORS = [
  '#e6194b',
  '#3cb44b',
  '#4363d8',
  '#f58231',
  '#911eb4',
  '#0891b2',
  '#f032e6',
  '#65a30d',
  '#db2777',
  '#008080',
];

export function describeWhere(task: Task): string {
  const backend = task.model?.backend ?? '…';
  const ms = task.source === 'device' ? task.timings.inference_ms : task.timings.total_ms;
  const time = ms == null ? '' : ` in ${ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`}`;
  return task.source === 'device' ? `On this device (${backend})${time}` : `On the server (${backend})${time}`;
}

/** Draws the photo (decoded, EXIF-oriented) with its boxes and labels. */
export function drawResult(canvas: HTMLCanvasElement, bitmap: ImageBitmap, detections: Detection[]): void {
  if (canvas.width !== bitmap.width) canvas.width = bitmap.width;
  if (canvas.height !== bitmap.height) canvas.height = bitmap.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.drawImage(bitmap, 0, 0);
  // Line and text sizes follow the shown size, so labels stay readable when a large photo is
  // scaled down to a phone's width.
  const shownWidth = canvas.clientWidth || canvas.width;
  const px = canvas.width / shownWidth;
  const font = Math.round(14 * px);
  ctx.lineWidth = Math.max(2, 3 * px);
  ctx.font = `600 ${font}px system-ui, sans-serif`;
  ctx.textBaseline = 'top';
  for (const d of detections) {
    const color = COLORS[d.class_id % COLORS.length] as string;
    const { x, y, width, height } = d.box;
    ctx.strokeStyle = color;
    ctx.strokeRect(x, y, width, height);
    const text = `${d.label} ${Math.round(d.score * 100)}%`;
    const tw = ctx.measureText(text).width + font * 0.6;
    const ty = y - font * 1.4 >= 0 ? y - font * 1.4 : y;
    ctx.fillStyle = color;
    ctx.fillRect(x, ty, tw, font * 1.4);
    ctx.fillStyle = '#fff';
    ctx.fillText(text, x + font * 0.3, ty + font * 0.2);
  }
  canvas.dataset.boxes = String(detections.length);
}

export interface ResultElements {
  section: HTMLElement;
  title: HTMLElement;
  canvas: HTMLCanvasElement;
  meta: HTMLElement;
  list: HTMLOListElement;
  close: HTMLElement;
}

/**
 * The result section, following `state.open`: drawn when another task opens, when the open task
 * changes, or when the score threshold moves. The decoded photo is kept while its result is open
 * (the bitmap the model ran on when the page has it, else one decode of the stored photo), so
 * moving the slider redraws without decoding again.
 */
export function resultView(el: ResultElements, store: Store, onClose: () => void): void {
  let shown: { taskId: string; bitmap: ImageBitmap } | null = null;
  let drawing = 0;

  const render = async (s: AppState, prev: AppState | null) => {
    const open = s.open;
    const row = open ? s.rows.get(open.taskId) : undefined;
    if (!open || !row) {
      if (shown || !el.section.hidden) hide();
      return;
    }
    const changed =
      !prev ||
      open !== prev.open ||
      row !== prev.rows.get(open.taskId) ||
      s.settings.minScore !== prev.settings.minScore;
    if (!changed) return;
    const turn = ++drawing;
    if (shown?.taskId !== open.taskId) {
      shown?.bitmap.close();
      shown = null;
    }
    if (open.bitmap && shown?.bitmap !== open.bitmap) {
      shown?.bitmap.close();
      shown = { taskId: open.taskId, bitmap: open.bitmap };
    }
    if (!shown) {
      const bitmap = await createImageBitmap(row.image, { imageOrientation: 'from-image' });
      if (turn !== drawing) return bitmap.close(); // another render took over meanwhile
      shown = { taskId: open.taskId, bitmap };
    }
    show(row.task, s.settings.minScore, shown.bitmap);
    if (!prev || prev.open?.taskId !== open.taskId) el.section.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  };

  const show = (t: Task, min: number, bitmap: ImageBitmap) => {
    const found = t.detections.filter((d) => d.score >= min);
    el.section.hidden = false;
    el.section.dataset.taskId = t.task_id;
    el.section.dataset.status = t.status;
    el.title.textContent =
      t.status === 'succeeded' ? `${found.length} object${found.length === 1 ? '' : 's'} found` : `Task ${t.status}`;
    el.meta.textContent = `${describeWhere(t)} · ${t.image.width}×${t.image.height}`;
    el.list.replaceChildren(
      ...found.map((d) => {
        const li = document.createElement('li');
        li.textContent = `${d.label} — ${(d.score * 100).toFixed(0)}%`;
        return li;
      }),
    );
    drawResult(el.canvas, bitmap, found);
    el.section.dataset.shown = t.task_id;
  };

  const hide = () => {
    drawing++;
    shown?.bitmap.close();
    shown = null;
    el.section.hidden = true;
    delete el.section.dataset.taskId;
    delete el.section.dataset.shown;
  };

  el.close.addEventListener('click', onClose);
  void render(store.get(), null);
  store.subscribe((s, prev) => void render(s, prev));
}
