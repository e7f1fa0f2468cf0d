/**
 * The result: the photo with boxes and labels drawn over it (sized for a phone screen), the
 * detections with their scores, and where it ran. The score slider filters what is shown
 * without running the model again (tasks keep detections down to a low score for that).
 */
import type { Detection, Task } from '../../../shared/contract.ts';

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

/** `image`: the photo, or a bitmap of it decoded already (drawn, then closed). */
export async function drawResult(
  canvas: HTMLCanvasElement,
  image: Blob | ImageBitmap,
  detections: Detection[],
): Promise<void> {
  const bitmap =
    image instanceof ImageBitmap ? image : await createImageBitmap(image, { imageOrientation: 'from-image' });
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
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
