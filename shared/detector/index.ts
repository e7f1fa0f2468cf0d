export { CENTERNET, Detector, type DetectResult } from './detector.ts';
export { COCO_LABELS, type CocoLabel, labelFor } from './labels.ts';
export { type DecodeOptions, decodeDetections, iou } from './postprocess.ts';
export { decodeSizeFor, type Pixels, toModelInput } from './preprocess.ts';
