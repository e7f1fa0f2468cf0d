/**
 * YOLO as Ultralytics exports it to TF.js: one output [1, 4 + classes, N] (YOLOv8/v11: cx, cy, w, h
 * in input pixels, then class scores) or, with `objectness`, [1, 5 + classes, N] (YOLOv5: an
 * objectness score multiplies the class scores). The transposed layout [1, N, 4 + classes] is read
 * too: the side that is not 4 (5) + classes is the boxes'.
 */
import type { ModelDecoder } from '../../models/manifest.ts';
import type { LabelMap } from '../labels.ts';
import type { Candidate } from '../postprocess.ts';
import { ModelMismatchError, outputNamed, type RawOutput } from './output.ts';

export function yoloCandidates(
  outputs: RawOutput[],
  decoder: Extract<ModelDecoder, { type: 'yolo' }>,
  labels: LabelMap,
  minScore: number,
): Candidate[] {
  const out = outputNamed(outputs, decoder.output, 'detections');
  const head = decoder.objectness ? 5 : 4;
  const fields = head + labels.columns;
  const [, a = 0, b = 0] = out.shape;
  if (out.shape.length !== 3 || (a !== fields && b !== fields)) {
    throw new ModelMismatchError(
      `a yolo output is [1, ${head} + classes, N]; "${out.name}" is [${out.shape.join(', ')}], and the manifest's labels give ${labels.columns} classes`,
    );
  }
  const channelsFirst = a === fields;
  const n = channelsFirst ? b : a;
  const d = out.data;
  const at = channelsFirst
    ? (i: number, f: number) => d[f * n + i] as number
    : (i: number, f: number) => d[i * fields + f] as number;
  const candidates: Candidate[] = [];
  for (let i = 0; i < n; i++) {
    const objectness = decoder.objectness ? at(i, 4) : 1;
    if (!(objectness >= minScore)) continue;
    let best = -1;
    let column = -1;
    for (let c = 0; c < labels.columns; c++) {
      const s = at(i, head + c);
      if (s > best) {
        best = s;
        column = c;
      }
    }
    const score = best * objectness;
    if (!(score >= minScore)) continue;
    const cx = at(i, 0);
    const cy = at(i, 1);
    const w = at(i, 2);
    const h = at(i, 3);
    candidates.push({ x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2, score, column });
  }
  return candidates;
}
