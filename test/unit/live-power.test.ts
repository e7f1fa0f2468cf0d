/** The Live view's power policy and its frame difference (web/src/live/power.ts). */
import { describe, expect, it } from 'vitest';
import {
  describeRate,
  frameDifference,
  MOTION_THRESHOLD,
  ratePolicy,
  STATIC_AFTER_MS,
  StillnessMeter,
  toGrey,
} from '../../web/src/live/power.ts';

const full = { level: 0.9, charging: false };
const low = { level: 0.15, charging: false };
const lowCharging = { level: 0.15, charging: true };

describe('ratePolicy', () => {
  it.each([
    ['still on a fast device (30/s): the 2/s cap', 30, 2],
    ['still on a slow device (6/s): a quarter of it', 6, 1.5],
    ['still on a very slow device (1/s): never below 0.5/s', 1, 0.5],
    ['full rate not known yet: the 2/s cap', null, 2],
  ] as const)('%s', (_name, fullRate, want) => {
    const p = ratePolicy({ hidden: false, stillForMs: STATIC_AFTER_MS, battery: full, fullRate });
    expect(p).toMatchObject({ reason: 'static', maxPerSecond: want });
    expect(p.minIntervalMs).toBeCloseTo(1000 / want, 6);
  });

  it.each([
    ['moving, battery fine: as fast as it answers', false, 0, full, 'moving', null, 0],
    ['no battery reading: as fast as it answers', false, 0, null, 'moving', null, 0],
    ['still, but not long enough yet', false, STATIC_AFTER_MS - 1, full, 'moving', null, 0],
    ['still for a few seconds: 2/s', false, STATIC_AFTER_MS, full, 'static', 2, 500],
    ['low battery, moving: 3/s', false, 0, low, 'battery', 3, 1000 / 3],
    ['low battery but charging: full rate', false, 0, lowCharging, 'moving', null, 0],
    ['low battery and still: 1/s', false, 10_000, low, 'static', 1, 1000],
    ['hidden: none, whatever else', true, 0, full, 'hidden', 0, Number.POSITIVE_INFINITY],
    ['hidden and still: none', true, 10_000, low, 'hidden', 0, Number.POSITIVE_INFINITY],
  ] as const)('%s', (_name, hidden, stillForMs, battery, reason, maxPerSecond, minIntervalMs) => {
    const p = ratePolicy({ hidden, stillForMs, battery });
    expect(p.reason).toBe(reason);
    expect(p.maxPerSecond).toBe(maxPerSecond);
    expect(p.minIntervalMs).toBeCloseTo(minIntervalMs, 6);
  });
});

describe('describeRate', () => {
  it.each([
    [4.84, { hidden: false, stillForMs: 0, battery: null }, '4.8 detections/s — as fast as this device detects'],
    [2, { hidden: false, stillForMs: 5000, battery: null }, '2.0 detections/s (at most 2/s) — the scene is still'],
    [3, { hidden: false, stillForMs: 0, battery: low }, '3.0 detections/s (at most 3/s) — the battery is low'],
    [0, { hidden: true, stillForMs: 0, battery: null }, 'Paused — the page is hidden'],
  ] as const)('%s/s → %s', (rate, inputs, want) => {
    expect(describeRate(rate, ratePolicy(inputs))).toBe(want);
  });
});

describe('the frame difference', () => {
  const grey = (v: number, n = 4) => new Uint8Array(n).fill(v);
  it.each([
    ['no earlier frame', null, grey(10), Number.POSITIVE_INFINITY],
    ['the same frame', grey(10), grey(10), 0],
    ['every pixel 8 brighter', grey(10), grey(18), 8],
    ['one pixel of four 40 brighter', grey(10), Uint8Array.from([50, 10, 10, 10]), 10],
    ['another size (the camera changed)', grey(10, 4), grey(10, 8), Number.POSITIVE_INFINITY],
  ])('%s', (_name, a, b, want) => {
    expect(frameDifference(a, b)).toBe(want);
  });

  it('grey is the luma of RGBA pixels (alpha ignored)', () => {
    const rgba = Uint8ClampedArray.from([255, 255, 255, 0, 0, 0, 0, 255, 255, 0, 0, 255]);
    expect([...toGrey(rgba)]).toEqual([255, 0, 76]);
  });
});

describe('StillnessMeter', () => {
  it('counts how long the scene has been still, from the last change', () => {
    const m = new StillnessMeter();
    const still = new Uint8Array(16).fill(100);
    const moved = new Uint8Array(16).fill(100 + MOTION_THRESHOLD + 5);
    expect(m.observe(still, 0)).toBe(0); // the first frame: a change
    expect(m.observe(still, 1000)).toBe(1000);
    expect(m.observe(still, 4000)).toBe(4000);
    expect(m.observe(moved, 4100)).toBe(0);
    expect(m.observe(moved, 4200)).toBe(100);
  });

  it('a slow drift adds up until it counts as a change (compared with the last frame that moved)', () => {
    const m = new StillnessMeter();
    m.observe(new Uint8Array(16).fill(100), 0);
    const step = Math.ceil(MOTION_THRESHOLD / 2);
    expect(m.observe(new Uint8Array(16).fill(100 + step), 100)).toBe(100);
    expect(m.observe(new Uint8Array(16).fill(100 + 3 * step), 200)).toBe(0);
  });
});
