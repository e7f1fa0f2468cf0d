/**
 * The boxes over the video, drawn at display rate (one animation frame each): every track where it is
 * displayed now (tracker.ts glides it between detections), its label, id and score on a filled tab
 * readable on a phone, one colour per track id (so a colour follows an object, as its id does).
 */
import { displayed, type Track } from './tracker.ts';

const COLOURS = ['#14b8a6', '#f59e0b', '#6366f1', '#ef4444', '#22c55e', '#ec4899', '#0ea5e9', '#a855f7'];

export function colourFor(id: number): string {
  return COLOURS[id % COLOURS.length] as string;
}

/**
 * Draws `tracks` (boxes in frame pixels of `frame` size) on `canvas`, which covers the video's box.
 * The canvas keeps the video's aspect ratio (the page lays it out so), so one scale fits both axes.
 * `last`: what the previous call drew (its return value): when nothing moved by a pixel since, nothing
 * is drawn — a canvas left alone costs the compositor nothing, which is most of a still scene's frames.
 */
export function drawOverlay(
  canvas: HTMLCanvasElement,
  tracks: readonly Track[],
  frame: { width: number; height: number },
  now: number,
  last = '',
): string {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.round(canvas.clientWidth * dpr);
  const h = Math.round(canvas.clientHeight * dpr);
  const s = frame.width ? w / frame.width : 0;
  const shown = tracks.map((t) => ({ t, b: displayed(t, now) }));
  const px = (v: number) => Math.round(v * s);
  const drawn =
    `${w}x${h}` +
    shown
      .map(
        ({ t, b }) =>
          `|${t.id},${t.misses},${Math.round(t.score * 100)},${px(b.x)},${px(b.y)},${px(b.width)},${px(b.height)}`,
      )
      .join('');
  if (drawn === last) return last;
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext('2d');
  if (!ctx) return drawn;
  ctx.clearRect(0, 0, w, h);
  if (frame.width === 0 || w === 0) return drawn;
  const font = Math.max(12, Math.round(14 * dpr));
  ctx.font = `600 ${font}px system-ui, sans-serif`;
  ctx.lineWidth = Math.max(2, 2 * dpr);
  ctx.textBaseline = 'top';
  for (const { t, b } of shown) {
    const colour = colourFor(t.id);
    // A track the latest detection missed fades: it may be gone.
    ctx.globalAlpha = t.misses > 0 ? 0.45 : 1;
    ctx.strokeStyle = colour;
    ctx.strokeRect(b.x * s, b.y * s, b.width * s, b.height * s);
    const text = `${t.label} #${t.id} ${Math.round(t.score * 100)}%`;
    const tw = ctx.measureText(text).width + 8 * dpr;
    const th = font + 6 * dpr;
    const tx = Math.min(Math.max(0, b.x * s), w - tw);
    const ty = b.y * s >= th ? b.y * s - th : b.y * s;
    ctx.fillStyle = colour;
    ctx.fillRect(tx, ty, tw, th);
    ctx.fillStyle = '#fff';
    ctx.fillText(text, tx + 4 * dpr, ty + 3 * dpr);
  }
  ctx.globalAlpha = 1;
  return drawn;
}
