/** Tiled detection's arithmetic (shared/detector/tiling.ts): the plan, the crops, the merge. */
import { describe, expect, it } from 'vitest';
import type { Detection } from '../../shared/contract.ts';
import { crop, MAX_TILES, mergeDetections, modelPasses, planTiles } from '../../shared/detector/tiling.ts';

const det = (x: number, y: number, width: number, height: number, score = 0.8, class_id = 0): Detection => ({
  label: class_id === 0 ? 'person' : 'cup',
  class_id,
  score,
  box: { x, y, width, height },
});

describe('planTiles', () => {
  it.each([
    ['a 12 MP phone photo, auto', 4032, 3024, 'auto', 3, 2],
    ['a 4K frame, auto', 3840, 2160, 'auto', 3, 2],
    ['a small photo, auto: not tiled', 1200, 900, 'auto', 0, 0],
    ['off: never', 8000, 6000, 'off', 0, 0],
    ['an explicit grid, even on a small photo', 1200, 900, '2x2', 2, 2],
    ['a grid past the cap is cut down', 9000, 9000, '9x9', -1, -1],
  ] as const)('%s', (_name, w, h, tiling, cols, rows) => {
    const plan = planTiles(w, h, tiling);
    if (cols === 0) {
      expect(plan).toBeNull();
      expect(modelPasses(w, h, tiling)).toBe(1);
      return;
    }
    expect(plan).not.toBeNull();
    if (!plan) return;
    if (cols > 0) expect([plan.cols, plan.rows]).toEqual([cols, rows]);
    expect(plan.tiles.length).toBeLessThanOrEqual(MAX_TILES);
    expect(modelPasses(w, h, tiling)).toBe(1 + plan.tiles.length);
    // Every pixel is in a tile; every tile is inside the photo; neighbours overlap.
    for (const t of plan.tiles) {
      expect(t.x).toBeGreaterThanOrEqual(0);
      expect(t.y).toBeGreaterThanOrEqual(0);
      expect(t.x + t.width).toBeLessThanOrEqual(w);
      expect(t.y + t.height).toBeLessThanOrEqual(h);
    }
    for (const [px, py] of [
      [0, 0],
      [w - 1, h - 1],
      [Math.floor(w / 2), Math.floor(h / 2)],
      [Math.floor(w / 3), Math.floor((2 * h) / 3)],
    ] as const) {
      expect(plan.tiles.some((t) => px >= t.x && px < t.x + t.width && py >= t.y && py < t.y + t.height)).toBe(true);
    }
    if (plan.cols > 1) {
      const [a, b] = plan.tiles;
      expect((a?.x ?? 0) + (a?.width ?? 0)).toBeGreaterThan(b?.x ?? 0);
    }
  });
});

describe('crop', () => {
  it('copies the rectangle, row by row', () => {
    const data = new Uint8Array(4 * 3 * 3).map((_, i) => i);
    const c = crop({ data, width: 4, height: 3, channels: 3 }, { x: 1, y: 1, width: 2, height: 2 });
    expect([...c.data]).toEqual([15, 16, 17, 18, 19, 20, 27, 28, 29, 30, 31, 32]);
  });
});

describe('mergeDetections', () => {
  const image = { width: 2000, height: 1000 };
  // Two tiles side by side, overlapping over [900, 1100).
  const left = { x: 0, y: 0, width: 1100, height: 1000 };
  const right = { x: 900, y: 0, width: 1100, height: 1000 };

  it('an object across the seam: one box, not its pieces', () => {
    const merged = mergeDetections(
      [],
      [
        // The left tile sees the object cut by its right edge; the right tile sees it whole.
        { rect: left, detections: [det(1000, 400, 100, 200, 0.7)] },
        { rect: right, detections: [det(1000, 400, 150, 200, 0.9)] },
      ],
      image,
      20,
    );
    expect(merged).toEqual([det(1000, 400, 150, 200, 0.9)]);
  });

  it('the whole pass and a tile see the same object: one box, the better scored', () => {
    const merged = mergeDetections(
      [det(300, 300, 200, 200, 0.6)],
      [{ rect: left, detections: [det(305, 298, 198, 204, 0.85)] }],
      image,
      20,
    );
    expect(merged).toHaveLength(1);
    expect(merged[0]?.score).toBe(0.85);
  });

  it('a piece of a large object inside its whole-pass box yields to it; other classes and other objects stay', () => {
    const merged = mergeDetections(
      [det(100, 100, 800, 800, 0.9)],
      [
        {
          rect: left,
          detections: [det(150, 150, 200, 300, 0.5), det(150, 150, 100, 100, 0.6, 41), det(950, 50, 50, 50, 0.4)],
        },
      ],
      image,
      20,
    );
    expect(merged.map((d) => [d.class_id, d.score])).toEqual([
      [0, 0.9],
      [41, 0.6],
      [0, 0.4],
    ]);
  });

  it('keeps at most max_detections, best first', () => {
    const many = Array.from({ length: 30 }, (_, i) => det(i * 60, 10, 40, 40, 0.3 + i / 100));
    const merged = mergeDetections(many, [], image, 5);
    expect(merged).toHaveLength(5);
    expect(merged[0]?.score).toBeCloseTo(0.59);
  });
});
