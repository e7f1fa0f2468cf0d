/** The Live view's tracker (web/src/live/tracker.ts): ids by class and overlap, interpolation, counts. */
import { describe, expect, it } from 'vitest';
import type { Detection } from '../../shared/contract.ts';
import { countByClass, displayed, iou, match, Tracker } from '../../web/src/live/tracker.ts';

const det = (label: string, x: number, y: number, w = 100, h = 100, score = 0.8): Detection => ({
  label,
  class_id: label === 'person' ? 0 : 41,
  score,
  box: { x, y, width: w, height: h },
});

describe('iou', () => {
  it.each([
    ['the same box', { x: 0, y: 0, width: 10, height: 10 }, { x: 0, y: 0, width: 10, height: 10 }, 1],
    ['apart', { x: 0, y: 0, width: 10, height: 10 }, { x: 20, y: 0, width: 10, height: 10 }, 0],
    ['touching edges', { x: 0, y: 0, width: 10, height: 10 }, { x: 10, y: 0, width: 10, height: 10 }, 0],
    ['half over', { x: 0, y: 0, width: 10, height: 10 }, { x: 5, y: 0, width: 10, height: 10 }, 50 / 150],
    ['one inside the other', { x: 0, y: 0, width: 10, height: 10 }, { x: 0, y: 0, width: 5, height: 10 }, 0.5],
    ['empty boxes', { x: 0, y: 0, width: 0, height: 0 }, { x: 0, y: 0, width: 0, height: 0 }, 0],
  ])('%s', (_name, a, b, want) => {
    expect(iou(a, b)).toBeCloseTo(want, 6);
  });
});

describe('match', () => {
  const tracker = new Tracker();
  const tracks = tracker.update([det('person', 0, 0), det('person', 300, 0), det('cup', 600, 0)], 0);
  it.each([
    [
      'each to its own, listed in another order',
      [det('cup', 605, 0), det('person', 310, 0), det('person', 5, 0)],
      [
        [0, 2],
        [1, 1],
        [2, 0],
      ],
    ],
    ['another class over the same place is not the same object', [det('cup', 0, 0)], []],
    ['too little overlap: a new object', [det('person', 80, 0)], []],
    ['two detections on one track: the better overlap wins', [det('person', 40, 0), det('person', 2, 0)], [[0, 1]]],
    ['nothing detected', [], []],
  ] as const)('%s', (_name, dets, want) => {
    const got = match(tracks, dets as unknown as Detection[], 0.3).sort((a, b) => a[0] - b[0]);
    expect(got).toEqual(want);
  });
});

describe('Tracker', () => {
  /** Each step: the detections of one frame; `ids`: the track id each detection should have after it. */
  it.each([
    {
      name: 'an object moving across the frame keeps its id',
      steps: [[det('person', 0, 0)], [det('person', 20, 0)], [det('person', 40, 5)], [det('person', 60, 5)]],
      ids: [[1], [1], [1], [1]],
    },
    {
      name: 'a second object entering (scored higher, listed first) changes no existing id',
      steps: [[det('person', 0, 0)], [det('person', 400, 0, 100, 100, 0.99), det('person', 10, 0)]],
      ids: [[1], [2, 1]],
    },
    {
      name: 'an object leaving changes no other id',
      steps: [[det('person', 0, 0), det('cup', 300, 300)], [det('cup', 305, 300)]],
      ids: [[1, 2], [2]],
    },
    {
      name: 'one missed detection (the model blinked) keeps the id',
      steps: [[det('person', 0, 0)], [], [det('person', 5, 0)]],
      ids: [[1], [], [1]],
    },
    {
      name: 'missing longer: the track ended, the object comes back with a new id',
      steps: [[det('person', 0, 0)], [], [], [det('person', 5, 0)]],
      ids: [[1], [], [], [2]],
    },
    {
      name: 'two of a class crossing slowly keep their ids',
      steps: [
        [det('person', 0, 0), det('person', 200, 0)],
        [det('person', 200, 0), det('person', 30, 0)],
        [det('person', 60, 0), det('person', 170, 0)],
      ],
      ids: [
        [1, 2],
        [2, 1],
        [1, 2],
      ],
    },
  ])('$name', ({ steps, ids }) => {
    const tracker = new Tracker();
    steps.forEach((dets, i) => {
      const tracks = tracker.update(dets, i * 100);
      const got = dets.map((d) => tracks.find((t) => t.box === d.box)?.id);
      expect(got, `step ${i}`).toEqual(ids[i]);
    });
  });

  it('clear ends every track: the next object gets a new id', () => {
    const tracker = new Tracker();
    tracker.update([det('person', 0, 0)], 0);
    tracker.clear();
    expect(tracker.current).toEqual([]);
    expect(tracker.update([det('person', 0, 0)], 100)[0]?.id).toBe(2);
  });
});

describe('displayed (the overlay between two detections)', () => {
  const tracker = new Tracker({ glideMs: 100 });
  tracker.update([det('person', 0, 0, 400, 400)], 0);
  const [track] = tracker.update([det('person', 100, 0, 400, 400)], 1000);
  it.each([
    ['when the detection comes: where it was shown', 1000, 0],
    ['half way through the glide', 1050, 50],
    ['after the glide: where it was detected', 1100, 100],
    ['long after', 5000, 100],
    ['a clock before the detection: where it was shown', 900, 0],
  ])('%s', (_name, now, x) => {
    expect(track && displayed(track, now, 100).x).toBeCloseTo(x, 6);
  });

  it('a detection mid-glide starts the next glide from where the box was shown (no jump)', () => {
    const t = new Tracker({ glideMs: 100 });
    t.update([det('person', 0, 0, 400, 400)], 0);
    t.update([det('person', 100, 0, 400, 400)], 1000);
    const [moved] = t.update([det('person', 120, 0, 400, 400)], 1050);
    expect(moved?.from.x).toBeCloseTo(50, 6);
    expect(moved && displayed(moved, 1050, 100).x).toBeCloseTo(50, 6);
  });
});

describe('countByClass', () => {
  it.each([
    ['none', [], []],
    [
      'most first, then by name',
      [
        { label: 'cup', misses: 0 },
        { label: 'person', misses: 0 },
        { label: 'person', misses: 0 },
        { label: 'bottle', misses: 0 },
      ],
      [
        ['person', 2],
        ['bottle', 1],
        ['cup', 1],
      ],
    ],
    [
      'a track missing from the latest detection still counts (until it ends)',
      [{ label: 'cup', misses: 1 }],
      [['cup', 1]],
    ],
  ] as const)('%s', (_name, tracks, want) => {
    expect(countByClass(tracks)).toEqual(want);
  });
});
