/**
 * How often the Live view may detect, and why (the status line says both). Pure: the session feeds it
 * what it observes (page hidden, how long the scene has been still, the battery), tests table-drive it.
 *
 *   hidden                      → no detection at all (the camera stays open, nothing runs on it)
 *   still for STATIC_AFTER_MS   → at most STATIC_RATE a second, and at most STATIC_SHARE of what the device
 *                                 does at full rate (a change brings the full rate back at once)
 *   battery < LOW_BATTERY, not charging → at most LOW_BATTERY_RATE a second
 *   otherwise                   → as fast as the model answers, one frame in flight
 */
import type { BatteryState } from '../routing/rules.ts';

export const STATIC_AFTER_MS = 3000;
export const STATIC_RATE = 2;
/**
 * …and at most this share of the device's full rate (1000 / the worker's ms per frame, measured on the
 * stream): a still scene costs at most a quarter of the worker's time on any device. Why both: on a slow
 * device (WebAssembly on two cores: ~6.5 frames/s of worker time, ~5/s detected while moving) 2/s alone is
 * 40 % of a moving scene's detections, and the camera's own cost comes on top; on a fast one (30/s on a
 * GPU) the 2/s cap is what saves.
 */
export const STATIC_SHARE = 0.25;
export const LOW_BATTERY = 0.2;
export const LOW_BATTERY_RATE = 3;
/** Still and on a low battery: both savings. */
export const STATIC_LOW_BATTERY_RATE = 1;

export type RateReason = 'moving' | 'static' | 'battery' | 'hidden';

export interface RatePolicy {
  /** Least time between two detections' starts (ms); 0: as soon as the previous one answers. */
  minIntervalMs: number;
  /** null: none while the reason holds. */
  maxPerSecond: number | null;
  reason: RateReason;
}

export interface PowerInputs {
  hidden: boolean;
  /** How long the scene has not changed (ms; 0 while it moves). */
  stillForMs: number;
  battery: BatteryState | null;
  /** What the device could detect a second at full rate (1000 / the worker's ms per frame); null when not known yet. */
  fullRate?: number | null;
}

/** One decimal place, never above `cap`: 1.3, 2. */
const capped = (cap: number, share: number | null) => Math.round(Math.min(cap, share ?? cap) * 10) / 10;

export function ratePolicy(p: PowerInputs): RatePolicy {
  if (p.hidden) return { minIntervalMs: Number.POSITIVE_INFINITY, maxPerSecond: 0, reason: 'hidden' };
  const low = p.battery !== null && !p.battery.charging && p.battery.level < LOW_BATTERY;
  const still = p.stillForMs >= STATIC_AFTER_MS;
  if (still) {
    const share = p.fullRate ? Math.max(0.5, STATIC_SHARE * p.fullRate) : null;
    const rate = capped(low ? STATIC_LOW_BATTERY_RATE : STATIC_RATE, share);
    return { minIntervalMs: 1000 / rate, maxPerSecond: rate, reason: 'static' };
  }
  if (low) return { minIntervalMs: 1000 / LOW_BATTERY_RATE, maxPerSecond: LOW_BATTERY_RATE, reason: 'battery' };
  return { minIntervalMs: 0, maxPerSecond: null, reason: 'moving' };
}

const WHY: Record<RateReason, string> = {
  moving: 'as fast as this device detects',
  static: 'the scene is still',
  battery: 'the battery is low',
  hidden: 'the page is hidden',
};

/** "4.8 detections/s — as fast as this device detects"; "paused — the page is hidden". */
export function describeRate(measuredPerSecond: number, policy: RatePolicy): string {
  if (policy.reason === 'hidden') return `Paused — ${WHY.hidden}`;
  const cap = policy.maxPerSecond === null ? '' : ` (at most ${policy.maxPerSecond}/s)`;
  return `${measuredPerSecond.toFixed(1)} detections/s${cap} — ${WHY[policy.reason]}`;
}

/** A tiny grey copy of a frame (MOTION_W × MOTION_H): what the frame difference compares. */
export const MOTION_W = 32;
export const MOTION_H = 24;
/**
 * Mean absolute difference (0–255) per pixel above which a scene has changed: sensor noise on a still
 * camera is 1–3 at this size (averaging 20×20 pixels into one removes most of it); a hand moving, or
 * a pan, is well above 10.
 */
export const MOTION_THRESHOLD = 6;

/** RGBA pixels → grey (luma, one byte per pixel). */
export function toGrey(rgba: Uint8ClampedArray | Uint8Array): Uint8Array {
  const out = new Uint8Array(rgba.length / 4);
  for (let i = 0, j = 0; j < out.length; i += 4, j++) {
    out[j] = ((rgba[i] as number) * 77 + (rgba[i + 1] as number) * 150 + (rgba[i + 2] as number) * 29) >> 8;
  }
  return out;
}

/** Mean absolute difference of two grey images of the same size (0–255); Infinity when there is no earlier one. */
export function frameDifference(a: Uint8Array | null, b: Uint8Array): number {
  if (!a || a.length !== b.length || b.length === 0) return Number.POSITIVE_INFINITY;
  let sum = 0;
  for (let i = 0; i < b.length; i++) sum += Math.abs((a[i] as number) - (b[i] as number));
  return sum / b.length;
}

/** Follows how long the scene has been still, one tiny frame at a time. */
export class StillnessMeter {
  private last: Uint8Array | null = null;
  private stillSince: number | null = null;

  /** `grey`: this frame's tiny grey copy, at `now` (ms). Returns how long the scene has been still. */
  observe(grey: Uint8Array, now: number): number {
    const moved = frameDifference(this.last, grey) > MOTION_THRESHOLD;
    // Compared with the last frame that moved: a very slow drift adds up until it counts as a change.
    if (moved || !this.last) {
      this.last = grey;
      this.stillSince = now;
    }
    return moved ? 0 : now - (this.stillSince ?? now);
  }

  reset(): void {
    this.last = null;
    this.stillSince = null;
  }
}
