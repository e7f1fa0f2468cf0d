/**
 * A manifest's decoder: the model's outputs → Detections in the picture's pixels. Each decoder
 * turns outputs into candidate boxes in input pixels (pure arithmetic); `finishDetections` maps them
 * back through the pre-processing's geometry and suppresses overlaps, the same for all.
 */
import type { Detection } from '../../contract.ts';
import type { ModelManifest } from '../../models/manifest.ts';
import { type LabelMap, labelMapFor } from '../labels.ts';
import { type Candidate, finishDetections } from '../postprocess.ts';
import type { InputGeometry } from '../preprocess.ts';
import { centernetCandidates } from './centernet.ts';
import { nanodetCandidates } from './nanodet.ts';
import type { RawOutput } from './output.ts';
import { ssdCandidates } from './ssd.ts';
import { yoloCandidates } from './yolo.ts';

export { ModelMismatchError, type RawOutput } from './output.ts';

export function labelMapOf(manifest: Pick<ModelManifest, 'labels' | 'decoder'>): LabelMap {
  return labelMapFor(manifest.labels, manifest.decoder.type === 'ssd' && manifest.decoder.background);
}

export interface DecodeContext {
  geometry: InputGeometry;
  /** The picture the boxes are reported in. */
  width: number;
  height: number;
  minScore: number;
  maxDetections: number;
}

export function candidatesOf(
  manifest: Pick<ModelManifest, 'decoder' | 'labels'>,
  outputs: RawOutput[],
  geometry: InputGeometry,
  minScore: number,
  labels = labelMapOf(manifest),
): Candidate[] {
  const input = { width: geometry.inputWidth, height: geometry.inputHeight };
  const d = manifest.decoder;
  switch (d.type) {
    case 'centernet':
      return centernetCandidates(outputs, d, labels);
    case 'nanodet':
      return nanodetCandidates(outputs, d, labels, input, minScore);
    case 'ssd':
      return ssdCandidates(outputs, d, labels, input, minScore);
    case 'yolo':
      return yoloCandidates(outputs, d, labels, minScore);
  }
}

export function decodeOutputs(
  manifest: Pick<ModelManifest, 'decoder' | 'labels' | 'thresholds'>,
  outputs: RawOutput[],
  ctx: DecodeContext,
): Detection[] {
  const labels = labelMapOf(manifest);
  return finishDetections(candidatesOf(manifest, outputs, ctx.geometry, ctx.minScore, labels), {
    labels,
    geometry: ctx.geometry,
    width: ctx.width,
    height: ctx.height,
    minScore: ctx.minScore,
    maxDetections: ctx.maxDetections,
    iouThreshold: manifest.thresholds.iou,
  });
}
