/**
 * Track ids for the Live view: each detection of a new frame is matched to the object it was in the
 * frames before, by class and overlap (IoU), so an object keeps its id — and its box glides rather
 * than jumps — however many others enter or leave. Pure: no DOM, no clock of its own (the caller
 * passes `now`), table-tested in test/unit/live-tracker.test.ts.
 *
 * Why not by position in the array (what @vladmandic/human's demo does): the model lists objects by
 * score, so one object entering above another in score reorders all of them and every box jumps to
 * another object. Matching greedily by the best overlap first, within one class, is what SORT-style
 * trackers do without their motion model; at a few detections a second on a hand-held camera the
 * boxes between two detections are interpolated instead (`displayed`).
 */
import type { Box, Detection } from '../../../shared/contract.ts';

export interface Track {
  id: number;
  label: string;
  class_id: number;
  score: number;
  /** The box of its latest detection (frame pixels). */
  box: Box;
  /** Where the overlay showed it when the latest detection came: the glide starts there. */
  from: Box;
  /** When the latest detection came (the caller's clock, ms). */
  at: number;
  /** Detections it was matched in, in a row. */
  hits: number;
  /** Detections in a row it was missing from (0 when in the latest). */
  misses: number;
}

export interface TrackerOptions {
  /** Least overlap (intersection over union) that makes a detection the same object. */
  minIou: number;
  /** A track missing from this many detections in a row ends (a miss or two is the model blinking). */
  maxMisses: number;
  /** How long a box glides from where it was shown to where it was detected (ms). */
  glideMs: number;
}

export const TRACKER_DEFAULTS: TrackerOptions = { minIou: 0.3, maxMisses: 2, glideMs: 150 };

export function iou(a: Box, b: Box): number {
  const x1 = Math.max(a.x, b.x);
  const y1 = Math.max(a.y, b.y);
  const x2 = Math.min(a.x + a.width, b.x + b.width);
  const y2 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

function lerp(a: Box, b: Box, t: number): Box {
  const k = (p: number, q: number) => p + (q - p) * t;
  return { x: k(a.x, b.x), y: k(a.y, b.y), width: k(a.width, b.width), height: k(a.height, b.height) };
}

/** Where the overlay draws a track at `now`: gliding from where it was shown to where it was detected. */
export function displayed(track: Track, now: number, glideMs = TRACKER_DEFAULTS.glideMs): Box {
  const t = glideMs <= 0 ? 1 : Math.min(1, Math.max(0, (now - track.at) / glideMs));
  return t >= 1 ? track.box : lerp(track.from, track.box, t);
}

/** Pairs (track index, detection index), best overlap first, each used once, same label only. */
export function match(tracks: readonly Track[], detections: readonly Detection[], minIou: number): [number, number][] {
  const pairs: { t: number; d: number; iou: number }[] = [];
  for (const [t, track] of tracks.entries()) {
    for (const [d, det] of detections.entries()) {
      if (det.label !== track.label) continue;
      const o = iou(track.box, det.box);
      if (o >= minIou) pairs.push({ t, d, iou: o });
    }
  }
  // Ties: the older track (lower index) and the higher-scored detection first, so the result is stable.
  pairs.sort((a, b) => b.iou - a.iou || a.t - b.t || a.d - b.d);
  const usedT = new Set<number>();
  const usedD = new Set<number>();
  const out: [number, number][] = [];
  for (const p of pairs) {
    if (usedT.has(p.t) || usedD.has(p.d)) continue;
    usedT.add(p.t);
    usedD.add(p.d);
    out.push([p.t, p.d]);
  }
  return out;
}

export class Tracker {
  private tracks: Track[] = [];
  private nextId = 1;
  private readonly opts: TrackerOptions;

  constructor(opts: Partial<TrackerOptions> = {}) {
    this.opts = { ...TRACKER_DEFAULTS, ...opts };
  }

  /** The tracks now (those missing from the latest detection included, until they end). */
  get current(): readonly Track[] {
    return this.tracks;
  }

  /** One frame's detections at `now`: matched tracks move, new objects get new ids, lost ones end. */
  update(detections: readonly Detection[], now: number): readonly Track[] {
    const pairs = match(this.tracks, detections, this.opts.minIou);
    const matchedT = new Map(pairs);
    const matchedD = new Set(pairs.map(([, d]) => d));
    const next: Track[] = [];
    for (const [i, track] of this.tracks.entries()) {
      const d = matchedT.get(i);
      if (d !== undefined) {
        const det = detections[d] as Detection;
        next.push({
          ...track,
          score: det.score,
          from: displayed(track, now, this.opts.glideMs),
          box: det.box,
          at: now,
          hits: track.hits + 1,
          misses: 0,
        });
      } else if (track.misses + 1 < this.opts.maxMisses) {
        next.push({ ...track, from: displayed(track, now, this.opts.glideMs), at: now, misses: track.misses + 1 });
      }
    }
    for (const [d, det] of detections.entries()) {
      if (matchedD.has(d)) continue;
      next.push({
        id: this.nextId++,
        label: det.label,
        class_id: det.class_id,
        score: det.score,
        box: det.box,
        from: det.box,
        at: now,
        hits: 1,
        misses: 0,
      });
    }
    this.tracks = next;
    return next;
  }

  /** Every track ends (the camera stopped): the next object seen gets a new id. */
  clear(): void {
    this.tracks = [];
  }
}

/**
 * "2 person · 1 cup": the count per class of the live tracks, most first. A track the latest detection
 * missed still counts until it ends (a blink of the model must not make the count flicker).
 */
export function countByClass(tracks: readonly Pick<Track, 'label'>[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const t of tracks) counts.set(t.label, (counts.get(t.label) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}
