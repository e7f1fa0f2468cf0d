/**
 * CenterNet (MobileNetV3, @vladmandic/human): one output of rows x1, y1, x2, y2, score, class in
 * input pixels, best first; the model has found the peaks itself.
 */
import type { ModelDecoder } from '../../models/manifest.ts';
import type { LabelMap } from '../labels.ts';
import type { Candidate } from '../postprocess.ts';
import { ModelMismatchError, outputNamed, type RawOutput } from './output.ts';

export function centernetCandidates(
  outputs: RawOutput[],
  decoder: Extract<ModelDecoder, { type: 'centernet' }>,
  labels: LabelMap,
): Candidate[] {
  const out = outputNamed(outputs, decoder.output, 'detections');
  if (out.shape[out.shape.length - 1] !== 6) {
    throw new ModelMismatchError(
      `a centernet output has rows of 6 (x1, y1, x2, y2, score, class); "${out.name}" is [${out.shape.join(', ')}]`,
    );
  }
  return centernetRows(out.data, labels.columns);
}

/** Rows of 6 (x1, y1, x2, y2, score, class) → candidates; a class past the label map's columns is dropped. */
export function centernetRows(raw: ArrayLike<number>, columns: number): Candidate[] {
  const candidates: Candidate[] = [];
  for (let i = 0; i + 6 <= raw.length; i += 6) {
    const column = Math.round(raw[i + 5] as number);
    if (column >= columns) continue;
    candidates.push({
      x1: raw[i] as number,
      y1: raw[i + 1] as number,
      x2: raw[i + 2] as number,
      y2: raw[i + 3] as number,
      score: raw[i + 4] as number,
      column,
    });
  }
  return candidates;
}
