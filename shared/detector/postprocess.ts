/**
 * The decoders' common end: candidate boxes in model-input pixels → Detections in the picture's
 * pixels, with the score threshold, class-wise suppression and the cap. Plain arithmetic over
 * arrays: no tensors, so it is cheap, deterministic and the same on every backend and both paths.
 */
import type { Detection } from '../contract.ts';
import { centernetRows } from './decoders/centernet.ts';
import type { LabelMap } from './labels.ts';
import { labelMapFor } from './labels.ts';
import { type InputGeometry, inputGeometry, toPicture } from './preprocess.ts';

/** One box a decoder found: corners in input pixels, its score, its score column. */
export interface Candidate {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
  column: number;
}

export interface FinishOptions {
  labels: LabelMap;
  geometry: InputGeometry;
  /** The picture the boxes are reported in. */
  width: number;
  height: number;
  minScore: number;
  maxDetections: number;
  /** Boxes of the same class overlapping more than this are suppressed. */
  iouThreshold: number;
}

interface Kept extends Detection {
  readonly area: number;
}

export function finishDetections(candidates: Iterable<Candidate>, o: FinishOptions): Detection[] {
  const kept: Kept[] = [];
  for (const c of candidates) {
    if (!(c.score >= o.minScore)) continue;
    const classId = o.labels.classOf(c.column);
    const label = classId === undefined ? undefined : o.labels.names[classId];
    if (classId === undefined || label === undefined) continue;
    const [ax, ay] = toPicture(o.geometry, o.width, o.height, Math.min(c.x1, c.x2), Math.min(c.y1, c.y2));
    const [bx, by] = toPicture(o.geometry, o.width, o.height, Math.max(c.x1, c.x2), Math.max(c.y1, c.y2));
    // Clamp to the picture: the model may place a box partly outside it.
    const x1 = clamp(ax, 0, o.width);
    const y1 = clamp(ay, 0, o.height);
    const width = clamp(bx, 0, o.width) - x1;
    const height = clamp(by, 0, o.height) - y1;
    if (width <= 0 || height <= 0) continue;
    kept.push({
      label,
      class_id: classId,
      score: round(c.score, 4),
      box: { x: round(x1, 1), y: round(y1, 1), width: round(width, 1), height: round(height, 1) },
      area: width * height,
    });
  }
  kept.sort((a, b) => b.score - a.score);
  const out: Kept[] = [];
  for (const c of kept) {
    if (out.length >= o.maxDetections) break;
    if (out.some((k) => k.class_id === c.class_id && iou(k, c) > o.iouThreshold)) continue;
    out.push(c);
  }
  return out.map(({ area: _area, ...d }) => d);
}

export interface DecodeOptions {
  /** Side of the square model input the coordinates refer to (512 for CenterNet). */
  inputSize: number;
  /** Original image size: boxes are scaled back to it. */
  imageWidth: number;
  imageHeight: number;
  minScore: number;
  maxDetections: number;
  /** Boxes of the same class overlapping more than this are suppressed. */
  iouThreshold?: number;
}

/** CenterNet's rows (x1, y1, x2, y2, score, COCO class) from a stretched square input: the decoder's unit-test entry. */
export function decodeDetections(raw: ArrayLike<number>, options: DecodeOptions): Detection[] {
  const labels = labelMapFor('coco80');
  const candidates = centernetRows(raw, labels.columns);
  const size = options.inputSize;
  return finishDetections(candidates, {
    labels,
    geometry: inputGeometry({ size: [size, size], resize: 'stretch' }, options.imageWidth, options.imageHeight),
    width: options.imageWidth,
    height: options.imageHeight,
    minScore: options.minScore,
    maxDetections: options.maxDetections,
    iouThreshold: options.iouThreshold ?? 0.5,
  });
}

/** Intersection over union of two boxes. */
export function iou(a: Pick<Detection, 'box'>, b: Pick<Detection, 'box'>): number {
  const ix = Math.max(0, Math.min(a.box.x + a.box.width, b.box.x + b.box.width) - Math.max(a.box.x, b.box.x));
  const iy = Math.max(0, Math.min(a.box.y + a.box.height, b.box.y + b.box.height) - Math.max(a.box.y, b.box.y));
  const inter = ix * iy;
  const union = a.box.width * a.box.height + b.box.width * b.box.height - inter;
  return union > 0 ? inter / union : 0;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
