/**
 * One small model per decoder, with the boxes it must give: the outputs are constants (see
 * graph-models.ts), so the expected detections follow by arithmetic from the manifest's geometry.
 * Used in Node (test/unit/decoders.test.ts) and in Chromium (test/e2e/models.test.ts).
 */
import type { Detection } from '../../shared/contract.ts';
import type { ModelManifestInput } from '../../shared/models/manifest.ts';
import { type ConstOutput, constantGraph } from './graph-models.ts';

export interface DecoderCase {
  name: string;
  graph: { json: object; weights: Buffer };
  manifest: Omit<ModelManifestInput, 'files' | 'model' | 'format'>;
  /** The picture the test runs (a blank one: the outputs do not depend on it) and the boxes it must get. */
  picture: { width: number; height: number };
  expected: Detection[];
}

const common = { license: 'MIT', source: 'made by the test', thresholds: { score: 0.3, iou: 0.5 } };
const log = Math.log;

function centernet(): DecoderCase {
  const rows = [
    [8, 16, 40, 48, 0.9, 0], // person
    [0, 0, 10, 10, 0.2, 2], // a car under the threshold
    [32, 8, 56, 24, 0.6, 41], // cup
  ];
  return {
    name: 'centernet',
    graph: constantGraph({
      inputShape: [1, 64, 64, 3],
      outputs: [{ name: 'tower_0/detections', shape: [1, 3, 6], values: rows.flat() }],
    }),
    manifest: {
      ...common,
      id: 'test-centernet',
      version: '1',
      name: 'test-centernet',
      title: 'Test CenterNet',
      labels: 'coco80',
      input: { size: [64, 64] },
      decoder: { type: 'centernet', output: 'tower_0/detections' },
    },
    picture: { width: 640, height: 480 },
    // ×10 across, ×7.5 down.
    expected: [
      { label: 'person', class_id: 0, score: 0.9, box: { x: 80, y: 120, width: 320, height: 240 } },
      { label: 'cup', class_id: 41, score: 0.6, box: { x: 320, y: 60, width: 240, height: 120 } },
    ],
  };
}

function nanodet(): DecoderCase {
  // Input 32×32, strides 8 (4×4 cells) and 16 (2×2); two classes; 2 bins per side.
  const scores8 = new Array(16 * 2).fill(0.01);
  const boxes8 = new Array(16 * 8).fill(0);
  scores8[5 * 2 + 0] = 0.7; // cell 5 = column 1, row 1: centre (12, 12); apple
  // Bin logits [0, 0] on every side: expectation 0.5 strides = 4 px → (8, 8)–(16, 16).
  const scores16 = new Array(4 * 2).fill(0.01);
  const boxes16 = new Array(4 * 8).fill(0);
  scores16[3 * 2 + 1] = 0.8; // cell 3 = column 1, row 1: centre (24, 24); pear
  for (let side = 0; side < 4; side++) boxes16[3 * 8 + side * 2] = log(3); // [ln 3, 0]: 0.25 strides = 4 px → (20, 20)–(28, 28)
  const outputs: ConstOutput[] = [
    { name: 'Identity', shape: [1, 16, 2], values: scores8 },
    { name: 'Identity_1', shape: [1, 4, 2], values: scores16 },
    { name: 'Identity_2', shape: [1, 16, 8], values: boxes8 },
    { name: 'Identity_3', shape: [1, 4, 8], values: boxes16 },
  ];
  return {
    name: 'nanodet',
    graph: constantGraph({ inputShape: [1, 3, 32, 32], outputs }),
    manifest: {
      ...common,
      id: 'test-nanodet',
      version: '1',
      name: 'test-nanodet',
      title: 'Test NanoDet',
      labels: ['apple', 'pear'],
      input: { size: [32, 32], layout: 'NCHW', range: [0, 1] },
      decoder: { type: 'nanodet', strides: [8, 16] },
    },
    picture: { width: 320, height: 320 },
    expected: [
      { label: 'pear', class_id: 1, score: 0.8, box: { x: 200, y: 200, width: 80, height: 80 } },
      { label: 'apple', class_id: 0, score: 0.7, box: { x: 80, y: 80, width: 80, height: 80 } },
    ],
  };
}

/** coco-ssd's signature: int32 image of any size; scores [1, N, 90] (`Postprocessor/Slice`), boxes [1, N, 1, 4]. */
export function ssd(): DecoderCase {
  const scores = new Array(3 * 90).fill(0.01);
  scores[0 * 90 + 0] = 0.9; // column 0 = category 1: person
  scores[1 * 90 + 46] = 0.7; // column 46 = category 47: cup
  scores[2 * 90 + 3] = 0.2; // category 4 (motorcycle), under the threshold
  const boxes = [
    [0.1, 0.2, 0.5, 0.6], // ymin, xmin, ymax, xmax
    [0.5, 0.5, 0.9, 0.9],
    [0, 0, 1, 1],
  ];
  return {
    name: 'ssd',
    graph: constantGraph({
      inputShape: [1, -1, -1, 3],
      inputDtype: 'int32',
      outputs: [
        { name: 'Postprocessor/Slice', shape: [1, 3, 90], values: scores },
        { name: 'Postprocessor/ExpandDims_1', shape: [1, 3, 1, 4], values: boxes.flat() },
      ],
    }),
    manifest: {
      ...common,
      thresholds: { score: 0.5, iou: 0.5 },
      id: 'test-ssd',
      version: '1',
      name: 'test-ssd',
      title: 'Test SSD',
      labels: 'coco91',
      input: { size: [300, 300], dtype: 'int32' },
      decoder: {
        type: 'ssd',
        boxes_output: 'Postprocessor/ExpandDims_1',
        scores_output: 'Postprocessor/Slice',
        background: false,
      },
    },
    picture: { width: 600, height: 400 },
    expected: [
      { label: 'person', class_id: 0, score: 0.9, box: { x: 120, y: 40, width: 240, height: 160 } },
      { label: 'cup', class_id: 41, score: 0.7, box: { x: 300, y: 200, width: 240, height: 160 } },
    ],
  };
}

function yolo(): DecoderCase {
  // [1, 4 + 2, 4] channels first; input 64×64 letterboxed: a 128×64 picture fills 64×32 at y = 16.
  const rows = [
    [32, 32, 16, 8, 0.1, 0.9], // dog
    [16, 24, 8, 8, 0.6, 0.2], // cat
    [33, 32, 16, 8, 0.1, 0.85], // the same dog, a little less sure: suppressed
    [50, 20, 4, 4, 0.2, 0.1], // nothing sure enough
  ];
  const channelsFirst: number[] = [];
  for (let f = 0; f < 6; f++) for (const r of rows) channelsFirst.push(r[f] as number);
  return {
    name: 'yolo',
    graph: constantGraph({
      inputShape: [1, 64, 64, 3],
      outputs: [{ name: 'output0', shape: [1, 6, 4], values: channelsFirst }],
    }),
    manifest: {
      ...common,
      id: 'test-yolo',
      version: '1',
      name: 'test-yolo',
      title: 'Test YOLO',
      labels: ['cat', 'dog'],
      input: { size: [64, 64], range: [0, 1], resize: 'letterbox' },
      decoder: { type: 'yolo', output: 'output0' },
    },
    picture: { width: 128, height: 64 },
    expected: [
      { label: 'dog', class_id: 1, score: 0.9, box: { x: 48, y: 24, width: 32, height: 16 } },
      { label: 'cat', class_id: 0, score: 0.6, box: { x: 24, y: 8, width: 16, height: 16 } },
    ],
  };
}

export const DECODER_CASES: DecoderCase[] = [centernet(), nanodet(), ssd(), yolo()];
