/**
 * Tasks as a COCO detection-results dataset, the format COCO tools, Label Studio, FiftyOne and
 * mmdetection read: `images`, `annotations` (bbox [x, y, width, height] in pixels, `score`) and
 * `categories` with COCO's own category ids (the 91-id numbering with gaps, not the detector's
 * 0–79 class ids).
 */
import type { Task } from '../contract.ts';
import { COCO_CATEGORY_IDS, COCO_LABELS, cocoCategoryOf } from '../detector/labels.ts';

export { COCO_CATEGORY_IDS };

const SUPERCATEGORY: Record<number, string> = {
  1: 'person',
  2: 'vehicle',
  10: 'outdoor',
  16: 'animal',
  27: 'accessory',
  34: 'sports',
  44: 'kitchen',
  52: 'food',
  62: 'furniture',
  72: 'electronic',
  78: 'appliance',
  84: 'indoor',
};

function supercategoryOf(id: number): string {
  let name = 'person';
  for (const [from, s] of Object.entries(SUPERCATEGORY)) if (id >= Number(from)) name = s;
  return name;
}

export interface CocoImage {
  id: number;
  file_name: string;
  width: number;
  height: number;
  /** Twinlens' own id, so that results can be traced back. */
  task_id: string;
}

export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  area: number;
  score: number;
  iscrowd: 0;
}

export interface CocoDataset {
  info: { description: string; date_created: string };
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories: { id: number; name: string; supercategory: string }[];
}

/**
 * Succeeded tasks become images with their detections; other tasks are left out (no result to
 * give). `fileNames`: a name per task id (the CLI's file paths); else the task id.
 */
export function toCoco(tasks: Task[], opts: { fileNames?: Map<string, string> } = {}): CocoDataset {
  const images: CocoImage[] = [];
  const annotations: CocoAnnotation[] = [];
  // Labels of models that are not COCO's (an operator's model): numbered after COCO's ids, by name.
  const own = new Map<string, number>();
  for (const t of tasks) {
    if (t.status !== 'succeeded') continue;
    const imageId = images.length + 1;
    images.push({
      id: imageId,
      file_name: opts.fileNames?.get(t.task_id) ?? t.file_name ?? t.task_id,
      width: t.image.width,
      height: t.image.height,
      task_id: t.task_id,
    });
    for (const d of t.detections) {
      let categoryId = cocoCategoryOf(d);
      if (categoryId === undefined) {
        categoryId = own.get(d.label) ?? 91 + own.size;
        own.set(d.label, categoryId);
      }
      // Inside the image, whatever rounding did at the edges.
      const x = clamp(d.box.x, 0, t.image.width);
      const y = clamp(d.box.y, 0, t.image.height);
      const w = clamp(d.box.width, 0, t.image.width - x);
      const h = clamp(d.box.height, 0, t.image.height - y);
      annotations.push({
        id: annotations.length + 1,
        image_id: imageId,
        category_id: categoryId,
        bbox: [x, y, w, h],
        area: w * h,
        score: d.score,
        iscrowd: 0,
      });
    }
  }
  return {
    info: { description: 'Twinlens detections (MobileNetV3-CenterNet, COCO)', date_created: new Date().toISOString() },
    images,
    annotations,
    categories: [
      ...COCO_LABELS.map((name, i) => {
        const id = COCO_CATEGORY_IDS[i] as number;
        return { id, name, supercategory: supercategoryOf(id) };
      }),
      ...[...own].map(([name, id]) => ({ id, name, supercategory: 'other' })),
    ],
  };
}

const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), Math.max(lo, hi));
