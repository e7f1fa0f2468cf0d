/**
 * SSD as the TensorFlow Object Detection API exports it, the coco-ssd family
 * (@tensorflow-models/coco-ssd: `Postprocessor/ExpandDims_1` boxes [1, N, 1, 4] and
 * `Postprocessor/Slice` scores [1, N, classes]): boxes are [ymin, xmin, ymax, xmax] in 0–1 of the
 * input, scores already sigmoid. One candidate per box, its best class — what coco-ssd's own
 * `detect` computes (its `calculateMaxScores`); the suppression then is ours, per class.
 */
import type { ModelDecoder } from '../../models/manifest.ts';
import type { LabelMap } from '../labels.ts';
import type { Candidate } from '../postprocess.ts';
import { ModelMismatchError, outputNamed, type RawOutput } from './output.ts';

export function ssdCandidates(
  outputs: RawOutput[],
  decoder: Extract<ModelDecoder, { type: 'ssd' }>,
  labels: LabelMap,
  input: { width: number; height: number },
  minScore: number,
): Candidate[] {
  const boxes = outputNamed(outputs, decoder.boxes_output, 'boxes', (o) => o.shape[o.shape.length - 1] === 4);
  const scores = outputNamed(outputs, decoder.scores_output, 'scores', (o) => o !== boxes);
  const n = boxes.data.length / 4;
  const classes = scores.shape[scores.shape.length - 1] as number;
  if (scores.data.length !== n * classes) {
    throw new ModelMismatchError(
      `ssd outputs disagree: ${n} boxes in "${boxes.name}" [${boxes.shape.join(', ')}], scores "${scores.name}" [${scores.shape.join(', ')}]`,
    );
  }
  if (classes !== labels.columns) {
    throw new ModelMismatchError(
      `the model scores ${classes} classes but the manifest's labels give ${labels.columns} (with background: ${decoder.background})`,
    );
  }
  const s = scores.data;
  const b = boxes.data;
  const candidates: Candidate[] = [];
  for (let i = 0; i < n; i++) {
    let best = -1;
    let column = -1;
    for (let c = decoder.background ? 1 : 0, at = i * classes + c; c < classes; c++, at++) {
      if ((s[at] as number) > best) {
        best = s[at] as number;
        column = c;
      }
    }
    if (!(best >= minScore)) continue;
    candidates.push({
      y1: (b[i * 4] as number) * input.height,
      x1: (b[i * 4 + 1] as number) * input.width,
      y2: (b[i * 4 + 2] as number) * input.height,
      x2: (b[i * 4 + 3] as number) * input.width,
      score: best,
      column,
    });
  }
  return candidates;
}
