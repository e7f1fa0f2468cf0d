import type { ModelLabels } from '../models/manifest.ts';

/**
 * The 80 COCO object classes in the order the detector emits them (0-based class ids).
 * Same list as @vladmandic/human src/object/labels.ts (MIT).
 */
export const COCO_LABELS = [
  'person',
  'bicycle',
  'car',
  'motorcycle',
  'airplane',
  'bus',
  'train',
  'truck',
  'boat',
  'traffic light',
  'fire hydrant',
  'stop sign',
  'parking meter',
  'bench',
  'bird',
  'cat',
  'dog',
  'horse',
  'sheep',
  'cow',
  'elephant',
  'bear',
  'zebra',
  'giraffe',
  'backpack',
  'umbrella',
  'handbag',
  'tie',
  'suitcase',
  'frisbee',
  'skis',
  'snowboard',
  'sports ball',
  'kite',
  'baseball bat',
  'baseball glove',
  'skateboard',
  'surfboard',
  'tennis racket',
  'bottle',
  'wine glass',
  'cup',
  'fork',
  'knife',
  'spoon',
  'bowl',
  'banana',
  'apple',
  'sandwich',
  'orange',
  'broccoli',
  'carrot',
  'hot dog',
  'pizza',
  'donut',
  'cake',
  'chair',
  'couch',
  'potted plant',
  'bed',
  'dining table',
  'toilet',
  'tv',
  'laptop',
  'mouse',
  'remote',
  'keyboard',
  'cell phone',
  'microwave',
  'oven',
  'toaster',
  'sink',
  'refrigerator',
  'book',
  'clock',
  'vase',
  'scissors',
  'teddy bear',
  'hair drier',
  'toothbrush',
] as const;

export type CocoLabel = (typeof COCO_LABELS)[number];

export function labelFor(classId: number): CocoLabel | undefined {
  return COCO_LABELS[classId];
}

/** COCO's category id for each of the 80 classes, in class-id order (the 91-id numbering with gaps). */
export const COCO_CATEGORY_IDS: readonly number[] = [
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32, 33, 34, 35, 36,
  37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67,
  70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90,
];

/** Category id → class id (0–79); a gap in COCO's numbering → undefined. */
const CLASS_OF_CATEGORY = new Map(COCO_CATEGORY_IDS.map((id, i) => [id, i]));

/**
 * A model's labels as its decoder needs them: the names reported, how many score columns the model
 * has, and which class a column is. The built-in COCO models all report the same 80 classes with
 * the same class ids, so their answers compare directly.
 */
export interface LabelMap {
  names: readonly string[];
  /** Score columns (classes) the model's output has. */
  columns: number;
  /** The reported class id of a score column; undefined: not a class (background, a gap in COCO's ids). */
  classOf(column: number): number | undefined;
}

/** `background`: column 0 of the scores is "nothing" (TF Object Detection API models). */
export function labelMapFor(labels: ModelLabels, background = false): LabelMap {
  const shift = background ? 1 : 0;
  if (labels === 'coco91') {
    // Column j is category id j + 1 (ids 1–90; coco-ssd's scores: its `Postprocessor/Slice` drops the background).
    return {
      names: COCO_LABELS,
      columns: 90 + shift,
      classOf: (j) => CLASS_OF_CATEGORY.get(j - shift + 1),
    };
  }
  const names: readonly string[] = labels === 'coco80' ? COCO_LABELS : labels;
  return {
    names,
    columns: names.length + shift,
    classOf: (j) => (j - shift >= 0 && j - shift < names.length ? j - shift : undefined),
  };
}

/**
 * COCO's category id of a detection: its class is one of the 80 COCO classes (a built-in model, or
 * any model whose labels are `coco80`/`coco91`: the class id names that class); undefined for a
 * model's own labels, which exports number after COCO's (from 91).
 */
export function cocoCategoryOf(d: { class_id: number; label: string }): number | undefined {
  return COCO_LABELS[d.class_id] === d.label ? COCO_CATEGORY_IDS[d.class_id] : undefined;
}
