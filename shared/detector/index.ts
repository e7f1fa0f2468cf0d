export { Detector, type DetectResult, isModelMismatch, ModelMismatchError } from './detector.ts';
export { COCO_CATEGORY_IDS, COCO_LABELS, type CocoLabel, type LabelMap, labelFor, labelMapFor } from './labels.ts';
export { type DecodeOptions, decodeDetections, finishDetections, iou } from './postprocess.ts';
export { decodeSizeFor, inputGeometry, type Pixels, pixelTransform, toModelInput } from './preprocess.ts';
