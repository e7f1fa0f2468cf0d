import { describe, expect, it } from 'vitest';
import { COCO_LABELS } from '../../shared/detector/labels.ts';
import { decodeDetections, iou } from '../../shared/detector/postprocess.ts';

const opts = { inputSize: 512, imageWidth: 1024, imageHeight: 256, minScore: 0.3, maxDetections: 10 };
const row = (x1: number, y1: number, x2: number, y2: number, score: number, cls: number) => [
  x1,
  y1,
  x2,
  y2,
  score,
  cls,
];

describe('decodeDetections', () => {
  it('scales boxes from model space to the original image and names the class', () => {
    const [d] = decodeDetections(row(128, 128, 256, 384, 0.9, 0), opts);
    expect(d).toEqual({ label: 'person', class_id: 0, score: 0.9, box: { x: 256, y: 64, width: 256, height: 128 } });
  });

  it('drops rows under the score threshold and unknown classes', () => {
    const raw = [...row(0, 0, 10, 10, 0.29, 1), ...row(0, 0, 10, 10, 0.8, 80), ...row(0, 0, 10, 10, 0.5, 2)];
    expect(decodeDetections(raw, opts).map((d) => d.label)).toEqual(['car']);
  });

  it('suppresses overlapping boxes of the same class but keeps other classes', () => {
    const raw = [
      ...row(100, 100, 200, 200, 0.7, 41),
      ...row(105, 105, 205, 205, 0.9, 41), // same cup, better score
      ...row(100, 100, 200, 200, 0.6, 60), // a table in the same place
      ...row(300, 300, 400, 400, 0.5, 41), // another cup
    ];
    const out = decodeDetections(raw, opts);
    expect(out.map((d) => [d.label, d.score])).toEqual([
      ['cup', 0.9],
      ['dining table', 0.6],
      ['cup', 0.5],
    ]);
  });

  it('keeps at most maxDetections, best first', () => {
    const raw = Array.from({ length: 30 }, (_, i) => row(i * 16, 0, i * 16 + 10, 10, 0.4 + i / 100, 0)).flat();
    const out = decodeDetections(raw, { ...opts, maxDetections: 5 });
    expect(out).toHaveLength(5);
    expect(out[0]?.score).toBeCloseTo(0.69);
  });

  it('clamps boxes to the image and drops empty ones', () => {
    const raw = [...row(-20, -20, 600, 100, 0.9, 0), ...row(520, 10, 530, 20, 0.9, 1)];
    const out = decodeDetections(raw, opts);
    expect(out).toHaveLength(1);
    expect(out[0]?.box).toEqual({ x: 0, y: 0, width: 1024, height: 50 });
  });

  it('has the 80 COCO labels', () => {
    expect(COCO_LABELS).toHaveLength(80);
    expect(COCO_LABELS[41]).toBe('cup');
  });
});

describe('iou', () => {
  it('is 1 for the same box, 0 for disjoint ones, 1/3 for half-overlapping equal boxes', () => {
    const a = { box: { x: 0, y: 0, width: 10, height: 10 } };
    expect(iou(a, a)).toBe(1);
    expect(iou(a, { box: { x: 20, y: 0, width: 10, height: 10 } })).toBe(0);
    expect(iou(a, { box: { x: 5, y: 0, width: 10, height: 10 } })).toBeCloseTo(1 / 3);
  });
});
