/**
 * Tiled detection for large photos ("slicing"), the same on both paths: the model sees 512×512,
 * so in a 12 MP photo an object 500 px wide is ~60 px to it and is missed. A large photo is run
 * whole *and* in overlapping tiles, and the boxes are merged: back in the photo's pixels, one box
 * per object across tile seams and between the whole pass and the tiles.
 *
 * Pure arithmetic (no TensorFlow.js): the plan, the crops and the merge are unit-tested
 * (test/unit/tiling.test.ts); Detector.detect runs it.
 */
import type { Detection, Tiling } from '../contract.ts';
import { iou } from './postprocess.ts';
import type { Pixels } from './preprocess.ts';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface TilePlan {
  cols: number;
  rows: number;
  /** In the coordinates the plan was made in (the photo's pixels, or a decode of it). */
  tiles: Rect[];
}

/** At most this many tiles per photo: the cost stays bounded and known (1 + 12 model passes). */
export const MAX_TILES = 12;
/** `auto` tiles a photo whose long side is at least this (smaller photos gain little). */
export const AUTO_MIN_LONG_SIDE = 1600;
/** `auto` aims at tiles about this wide: objects ~2.5× larger to the model than in the whole pass. */
export const AUTO_TILE_SIDE = 1300;
/** Neighbouring tiles overlap by this share of a tile, so an object on a seam is whole in one of them. */
export const OVERLAP = 0.2;
/** Tiles come from one decode whose long side is at most this (memory stays bounded for 40 MP photos). */
export const TILED_DECODE_LONG_SIDE = 4096;

/** The grid for a photo, or null when it is not tiled (`off`, or `auto` on a small photo). */
export function planTiles(width: number, height: number, tiling: Tiling): TilePlan | null {
  let cols: number;
  let rows: number;
  if (tiling === 'off') return null;
  if (tiling === 'auto') {
    if (Math.max(width, height) < AUTO_MIN_LONG_SIDE) return null;
    cols = Math.max(1, Math.round(width / AUTO_TILE_SIDE));
    rows = Math.max(1, Math.round(height / AUTO_TILE_SIDE));
  } else {
    const [c, r] = tiling.split('x').map(Number);
    cols = Math.max(1, c ?? 1);
    rows = Math.max(1, r ?? 1);
  }
  while (cols * rows > MAX_TILES) {
    if (cols >= rows) cols--;
    else rows--;
  }
  if (cols * rows <= 1) return null;
  const span = (total: number, n: number) => Math.min(total, Math.ceil((total / n) * (1 + OVERLAP)));
  const tw = span(width, cols);
  const th = span(height, rows);
  const at = (i: number, n: number, total: number, size: number) =>
    n === 1 ? 0 : Math.round((i * (total - size)) / (n - 1));
  const tiles: Rect[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++)
      tiles.push({ x: at(c, cols, width, tw), y: at(r, rows, height, th), width: tw, height: th });
  }
  return { cols, rows, tiles };
}

/** Model passes a photo costs: 1, or 1 + its tiles (for estimates: the router compares like with like). */
export function modelPasses(width: number, height: number, tiling: Tiling): number {
  return 1 + (planTiles(width, height, tiling)?.tiles.length ?? 0);
}

/** The decode size for a photo: bounded for tiling, else `small` (what the whole pass alone needs). */
export function decodeSizeForTiling(
  width: number,
  height: number,
  tiling: Tiling,
  small: { width: number; height: number },
): { width: number; height: number } {
  if (!planTiles(width, height, tiling)) return small;
  const scale = Math.min(1, TILED_DECODE_LONG_SIDE / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** A tile's pixels, copied out of the decoded photo (row by row). */
export function crop(p: Pixels, r: Rect): Pixels {
  const ch = p.channels;
  const out = new Uint8Array(r.width * r.height * ch);
  for (let y = 0; y < r.height; y++) {
    const from = ((r.y + y) * p.width + r.x) * ch;
    out.set(p.data.subarray(from, from + r.width * ch), y * r.width * ch);
  }
  return { data: out, width: r.width, height: r.height, channels: ch };
}

/**
 * Averages `factor`×`factor` blocks (a box filter): shrinks a large decode or tile to at most 2× the
 * model input before the model's own bilinear resize, which does not filter and would alias a 3×
 * or larger step (the same rule as decodeSizeFor: small objects keep their edges).
 */
export function shrinkFor(p: Pixels, inputSize: number): Pixels {
  const factor = Math.ceil(Math.max(p.width, p.height) / (2 * inputSize));
  if (factor <= 1) return p;
  const ch = p.channels;
  const w = Math.floor(p.width / factor);
  const h = Math.floor(p.height / factor);
  const out = new Uint8Array(w * h * ch);
  const sums = new Float64Array(w * ch);
  const n = factor * factor;
  for (let y = 0; y < h; y++) {
    sums.fill(0);
    for (let dy = 0; dy < factor; dy++) {
      const row = (y * factor + dy) * p.width * ch;
      for (let x = 0; x < w; x++) {
        const from = row + x * factor * ch;
        for (let dx = 0; dx < factor; dx++) {
          const o = from + dx * ch;
          for (let c = 0; c < ch; c++) sums[x * ch + c] = (sums[x * ch + c] as number) + (p.data[o + c] as number);
        }
      }
    }
    const base = y * w * ch;
    for (let i = 0; i < w * ch; i++) out[base + i] = Math.round((sums[i] as number) / n);
  }
  return { data: out, width: w, height: h, channels: ch };
}

/** Scales a rect made in decode pixels to photo pixels. */
export function scaleRect(r: Rect, s: number): Rect {
  return { x: r.x * s, y: r.y * s, width: r.width * s, height: r.height * s };
}

/** How close (photo pixels) to an inner tile edge a box counts as cut by it. */
const EDGE = 3;
/** A box mostly inside a better-scoring box of its class is a piece of that object (or the same one, seen at another scale). */
const CONTAINED = 0.5;

/**
 * One box per object. `tiles`: each tile's rect (photo pixels) and its detections (in photo
 * pixels already). A tile box touching an edge the tile shares with a neighbour is a piece of an
 * object cut by the tile: dropped (the neighbour or the whole pass has it whole). The rest, with
 * the whole pass's boxes, go through class-wise suppression, best scores first: IoU above 0.5, or
 * mostly (half or more) inside a box of its class kept already. (So in a tiled photo an object of
 * a class mostly hidden behind a larger one of the same class may be dropped: the price of not
 * reporting pieces.)
 */
export function mergeDetections(
  whole: Detection[],
  tiles: { rect: Rect; detections: Detection[] }[],
  image: { width: number; height: number },
  maxDetections: number,
): Detection[] {
  const candidates = [...whole];
  for (const t of tiles) {
    for (const d of t.detections) {
      const b = d.box;
      const cutLeft = t.rect.x > 0 && b.x - t.rect.x < EDGE;
      const cutTop = t.rect.y > 0 && b.y - t.rect.y < EDGE;
      const cutRight = t.rect.x + t.rect.width < image.width && t.rect.x + t.rect.width - (b.x + b.width) < EDGE;
      const cutBottom = t.rect.y + t.rect.height < image.height && t.rect.y + t.rect.height - (b.y + b.height) < EDGE;
      if (cutLeft || cutTop || cutRight || cutBottom) continue;
      candidates.push(d);
    }
  }
  candidates.sort((a, b) => b.score - a.score);
  const kept: Detection[] = [];
  for (const c of candidates) {
    if (kept.length >= maxDetections) break;
    const dup = kept.some((k) => k.class_id === c.class_id && (iou(k, c) > 0.5 || containedIn(c, k) > CONTAINED));
    if (!dup) kept.push(c);
  }
  return kept;
}

/** The share of `a`'s area inside `b`. */
function containedIn(a: Pick<Detection, 'box'>, b: Pick<Detection, 'box'>): number {
  const x1 = Math.max(a.box.x, b.box.x);
  const y1 = Math.max(a.box.y, b.box.y);
  const x2 = Math.min(a.box.x + a.box.width, b.box.x + b.box.width);
  const y2 = Math.min(a.box.y + a.box.height, b.box.y + b.box.height);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  const area = a.box.width * a.box.height;
  return area > 0 ? inter / area : 0;
}
