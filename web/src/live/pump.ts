/**
 * Frames from a playing <video> to the detection worker: taken as they are presented
 * (`requestVideoFrameCallback`; an animation-frame loop watching `currentTime` where a browser lacks
 * it), sent as a transferable VideoFrame (or ImageBitmap), with **one frame in flight**: a frame
 * presented while the worker is busy is dropped, never queued, so the boxes are always of the newest
 * frame the worker could take and latency cannot build up. The rate policy (power.ts) may ask for a
 * gap between detections on top of that.
 *
 * After `stop()` nothing more is sent, and an answer still on its way is dropped (`generation`).
 */
import type { FrameDetected } from '../detection/protocol.ts';
import type { RatePolicy } from './power.ts';

export interface PumpDeps {
  video: HTMLVideoElement;
  detect(frame: VideoFrame | ImageBitmap): Promise<FrameDetected>;
  policy(): RatePolicy;
  /** Every frame presented (the session samples motion here), before it is sent or dropped. */
  onPresented?(now: number): void;
  /** An answer for a frame; `latencyMs`: from the frame's presentation to its boxes. */
  onResult(r: FrameDetected, latencyMs: number): void;
  onError(err: Error): void;
}

export interface PumpStats {
  presented: number;
  sent: number;
  answered: number;
  /** Presented while one was in flight: dropped, not queued. */
  dropped: number;
  inFlight: number;
  maxInFlight: number;
}

export class FramePump {
  private generation = 0;
  private running = false;
  private lastStart = Number.NEGATIVE_INFINITY;
  private rvfc: number | null = null;
  private raf: number | null = null;
  private lastTime = -1;
  readonly stats: PumpStats = { presented: 0, sent: 0, answered: 0, dropped: 0, inFlight: 0, maxInFlight: 0 };

  constructor(private readonly deps: PumpDeps) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.generation++;
    this.next();
  }

  stop(): void {
    this.running = false;
    this.generation++;
    const { video } = this.deps;
    if (this.rvfc !== null) video.cancelVideoFrameCallback(this.rvfc);
    if (this.raf !== null) cancelAnimationFrame(this.raf);
    this.rvfc = null;
    this.raf = null;
  }

  private next(): void {
    if (!this.running) return;
    const video: HTMLVideoElement = this.deps.video;
    if (typeof video.requestVideoFrameCallback === 'function') {
      this.rvfc = video.requestVideoFrameCallback((now, meta) => {
        this.rvfc = null;
        this.next();
        this.presented(now, meta.presentationTime);
      });
    } else {
      this.raf = requestAnimationFrame((now) => {
        this.raf = null;
        this.next();
        // Without rVFC: a new frame is one whose media time moved.
        if (video.currentTime !== this.lastTime) {
          this.lastTime = video.currentTime;
          this.presented(now, now);
        }
      });
    }
  }

  private presented(now: number, presentedAt: number): void {
    const { deps, stats } = this;
    stats.presented++;
    deps.onPresented?.(now);
    if (stats.inFlight > 0) {
      stats.dropped++;
      return;
    }
    if (now - this.lastStart < deps.policy().minIntervalMs) return;
    const video = deps.video;
    if (video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA || video.videoWidth === 0) return;
    let frame: VideoFrame | ImageBitmap;
    try {
      // A VideoFrame is a reference to the decoder's buffer (no copy here); closed by the worker once drawn.
      frame = new VideoFrame(video, { timestamp: Math.round(presentedAt * 1000) });
    } catch {
      void this.sendBitmap(presentedAt);
      return;
    }
    this.send(frame, presentedAt);
  }

  /** Where VideoFrame is missing (older Safari): an ImageBitmap of the frame, one copy. */
  private async sendBitmap(presentedAt: number): Promise<void> {
    const generation = this.generation;
    this.stats.inFlight++; // held while the bitmap is made, so no other frame starts meanwhile
    try {
      const bitmap = await createImageBitmap(this.deps.video);
      this.stats.inFlight--;
      if (generation !== this.generation) bitmap.close();
      else this.send(bitmap, presentedAt);
    } catch (err) {
      this.stats.inFlight--;
      if (generation === this.generation) this.deps.onError(err as Error);
    }
  }

  private send(frame: VideoFrame | ImageBitmap, presentedAt: number): void {
    const { stats, deps } = this;
    const generation = this.generation;
    this.lastStart = performance.now();
    stats.sent++;
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    deps.detect(frame).then(
      (r) => {
        stats.inFlight--;
        if (generation !== this.generation) return; // stopped meanwhile: not shown, not counted
        stats.answered++;
        deps.onResult(r, performance.now() - presentedAt);
      },
      (err: Error) => {
        stats.inFlight--;
        if (generation === this.generation) deps.onError(err);
      },
    );
  }
}
