/**
 * Turns the CenterNet output `tower_0/detections` [1, 100, 6] into Detections.
 *
 * Each row is x1, y1, x2, y2 (in model-input pixels), score, 0-based COCO class. Plain
 * arithmetic over 100 rows: no tensors, so it is cheap, deterministic and unit-testable.
 */
import type { Detection } from '../contract.ts';
import { labelFor } from './labels.ts';

export const ROW_LENGTH = 6;

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

interface Candidate extends Detection {
  readonly area: number;
}

export function decodeDetections(raw: ArrayLike<number>, options: DecodeOptions): Detection[] {
  const { inputSize, imageWidth, imageHeight, minScore, maxDetections } = options;
  const iouThreshold = options.iouThreshold ?? 0.5;
  const sx = imageWidth / inputSize;
  const sy = imageHeight / inputSize;
  const candidates: Candidate[] = [];
  for (let i = 0; i + ROW_LENGTH <= raw.length; i += ROW_LENGTH) {
    const score = raw[i + 4] as number;
    const classId = Math.round(raw[i + 5] as number);
    const label = labelFor(classId);
    if (!(score >= minScore) || label === undefined) continue;
    // Clamp to the image: the model may place a box partly outside it.
    const x1 = clamp(Math.min(raw[i] as number, raw[i + 2] as number) * sx, 0, imageWidth);
    const y1 = clamp(Math.min(raw[i + 1] as number, raw[i + 3] as number) * sy, 0, imageHeight);
    const x2 = clamp(Math.max(raw[i] as number, raw[i + 2] as number) * sx, 0, imageWidth);
    const y2 = clamp(Math.max(raw[i + 1] as number, raw[i + 3] as number) * sy, 0, imageHeight);
    const width = x2 - x1;
    const height = y2 - y1;
    if (width <= 0 || height <= 0) continue;
    candidates.push({
      label,
      class_id: classId,
      score: round(score, 4),
      box: { x: round(x1, 1), y: round(y1, 1), width: round(width, 1), height: round(height, 1) },
      area: width * height,
    });
  }
  candidates.sort((a, b) => b.score - a.score);
  const kept: Candidate[] = [];
  for (const c of candidates) {
    if (kept.length >= maxDetections) break;
    if (kept.some((k) => k.class_id === c.class_id && iou(k, c) > iouThreshold)) continue;
    kept.push(c);
  }
  return kept.map(({ area: _area, ...d }) => d);
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
