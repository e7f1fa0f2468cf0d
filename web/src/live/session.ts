/**
 * One Live view run: a source (a camera, or a video file played through the same pipeline), the frame
 * pump to the detection worker (pump.ts), the tracker (tracker.ts), the overlay drawn at display rate
 * (overlay.ts) and the power policy (power.ts). The one owner of the camera while it runs: `stop()`
 * releases everything it took — the camera's tracks ended, the video emptied, every loop and listener
 * gone — whether the user stopped, left the view, or an error ended it.
 *
 * What the view shows of it goes through the store (`state.live`: phase, rate and why, error); the
 * per-frame boxes go straight to the overlay canvas, and each answer is also announced as a
 * `live:result` event on that canvas (the e2e test and `npm run bench:live` listen to it).
 */
import type { Detection } from '../../../shared/contract.ts';
import type { FrameDetected, FrameParams } from '../detection/protocol.ts';
import { type AppState, type Store, withLive } from '../state.ts';
import { type CameraChoice, cameraError, openCamera, releaseStream, rememberCamera } from './camera.ts';
import { drawOverlay } from './overlay.ts';
import { describeRate, MOTION_H, MOTION_W, type RatePolicy, ratePolicy, StillnessMeter, toGrey } from './power.ts';
import { FramePump } from './pump.ts';
import { countByClass, Tracker } from './tracker.ts';

export interface LiveDeps {
  store: Store;
  detectFrame(frame: VideoFrame | ImageBitmap, params: FrameParams): Promise<FrameDetected>;
  video: HTMLVideoElement;
  overlay: HTMLCanvasElement;
  /** "2 person · 1 cup" */
  counts: HTMLElement;
}

/** What `live:result` carries (one answer of the worker). */
export interface LiveResultDetail {
  /** From the frame's presentation to its boxes (ms). */
  latencyMs: number;
  drawMs: number;
  inferenceMs: number;
  /** The ids of the tracks in this answer, and their labels, in id order. */
  tracks: { id: number; label: string }[];
  /** The frames in flight when it was sent (one at most: the pump's rule). */
  maxInFlight: number;
  /** The rate policy's reason when it came (moving, static, battery). */
  reason: string;
  /** How long the scene had been still (ms). */
  stillForMs: number;
}

/** A frame kept by Snapshot: the photo (JPEG) and the boxes of the latest detection, in its pixels. */
export interface LiveSnapshot {
  file: File;
  detections: Detection[];
  width: number;
  height: number;
}

/** Detections per second are counted over this window. */
const RATE_WINDOW_MS = 2000;
/** The scene's motion is sampled at most this often (a 32×24 copy: well under a millisecond). */
const MOTION_EVERY_MS = 100;
const MAX_DETECTIONS = 20;

export class LiveSession {
  private stream: MediaStream | null = null;
  private fileUrl: string | null = null;
  private pump: FramePump | null = null;
  private readonly tracker = new Tracker();
  private readonly meter = new StillnessMeter();
  private stillForMs = 0;
  private lastMotion = Number.NEGATIVE_INFINITY;
  private motion: CanvasRenderingContext2D | null = null;
  private frame = { width: 0, height: 0 };
  /** The worker's ms per frame (drawing + model), smoothed: what the device's full rate is. */
  private frameMs: number | null = null;
  private answers: number[] = [];
  /** Animation frames the overlay followed, and those it had to redraw (a box moved): the last second's. */
  private overlayFrames: number[] = [];
  private overlayDraws: number[] = [];
  private raf: number | null = null;
  private ticker: ReturnType<typeof setInterval> | null = null;
  private readonly stops: (() => void)[] = [];
  /** Bumped by every start and stop: a start overtaken by another gives up what it opened. */
  private run = 0;

  constructor(private readonly deps: LiveDeps) {}

  get running(): boolean {
    return this.pump !== null;
  }

  /** Opens the camera and starts detecting; an error is shown (state.live.error) with nothing left running. */
  async startCamera(choice: CameraChoice): Promise<void> {
    const run = this.begin('camera');
    if (run === null) return;
    let stream: MediaStream;
    try {
      stream = await openCamera(choice);
    } catch (err) {
      if (run === this.run) this.fail(cameraError(err).code, cameraError(err).message);
      return;
    }
    if (run !== this.run) return releaseStream(stream); // stopped or restarted while the camera opened
    this.stream = stream;
    const track = stream.getVideoTracks()[0];
    const settings = track?.getSettings();
    if (settings?.deviceId) rememberCamera({ deviceId: settings.deviceId });
    // The camera unplugged, or taken by the system: the run ends and says so.
    const ended = () => {
      if (run === this.run) this.fail('camera_lost', 'The camera stopped (unplugged, or taken by another app).');
    };
    track?.addEventListener('ended', ended);
    this.stops.push(() => track?.removeEventListener('ended', ended));
    const { video } = this.deps;
    video.srcObject = stream;
    await this.play(run);
  }

  /** Plays a video file (looped) through the same pipeline as the camera. */
  async startFile(file: File): Promise<void> {
    const run = this.begin('file');
    if (run === null) return;
    const { video } = this.deps;
    this.fileUrl = URL.createObjectURL(file);
    video.srcObject = null;
    video.src = this.fileUrl;
    video.loop = true;
    await this.play(run);
  }

  /** Ends the run: nothing detected after this, the camera released. `error`: why, when it was not the user. */
  stop(error: { code: string; message: string } | null = null): void {
    this.run++;
    this.pump?.stop();
    this.pump = null;
    if (this.raf !== null) cancelAnimationFrame(this.raf);
    this.raf = null;
    if (this.ticker !== null) clearInterval(this.ticker);
    this.ticker = null;
    for (const f of this.stops.splice(0)) f();
    releaseStream(this.stream);
    this.stream = null;
    const { video, overlay, counts } = this.deps;
    video.pause();
    video.srcObject = null;
    if (video.hasAttribute('src')) {
      video.removeAttribute('src');
      video.load(); // drops the decoder and the file's buffers
    }
    if (this.fileUrl) URL.revokeObjectURL(this.fileUrl);
    this.fileUrl = null;
    this.tracker.clear();
    this.meter.reset();
    this.stillForMs = 0;
    this.frameMs = null;
    this.answers = [];
    overlay.getContext('2d')?.clearRect(0, 0, overlay.width, overlay.height);
    delete overlay.dataset.trackIds;
    counts.textContent = '';
    this.update({ phase: error ? 'error' : 'off', source: null, rate: null, error });
  }

  /** The frame shown now and the boxes of the latest detection, as a photo; null when nothing plays. */
  async snapshot(): Promise<LiveSnapshot | null> {
    const { video } = this.deps;
    if (!this.running || video.videoWidth === 0) return null;
    const width = video.videoWidth;
    const height = video.videoHeight;
    const canvas = new OffscreenCanvas(width, height);
    canvas.getContext('2d')?.drawImage(video, 0, 0, width, height);
    const sx = this.frame.width ? width / this.frame.width : 1;
    const sy = this.frame.height ? height / this.frame.height : 1;
    const detections = this.tracker.current
      .filter((t) => t.misses === 0)
      .map((t) => ({
        label: t.label,
        class_id: t.class_id,
        score: t.score,
        box: { x: t.box.x * sx, y: t.box.y * sy, width: t.box.width * sx, height: t.box.height * sy },
      }));
    const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.9 });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    return { file: new File([blob], `live-${stamp}.jpg`, { type: 'image/jpeg' }), detections, width, height };
  }

  // ---- inside -------------------------------------------------------------------------------

  /** A new run (the one before it stopped); null when the device cannot run the model. */
  private begin(source: 'camera' | 'file'): number | null {
    if (this.running || this.stream || this.fileUrl) this.stop();
    const run = ++this.run;
    if (!this.deps.store.get().device.run) {
      this.fail('no_model', 'The model is not running on this device yet (see the line above); try again once it is.');
      return null;
    }
    this.update({ phase: 'starting', source, rate: null, error: null });
    return run;
  }

  private fail(code: string, message: string): void {
    this.stop({ code, message });
  }

  private async play(run: number): Promise<void> {
    const { video } = this.deps;
    video.muted = true;
    video.playsInline = true;
    try {
      await video.play();
    } catch (err) {
      if (run === this.run) this.fail('playback_failed', `The video could not be played: ${(err as Error).message}`);
      return;
    }
    if (run !== this.run) return;
    this.pump = new FramePump({
      video,
      detect: (frame) => this.deps.detectFrame(frame, { min_score: this.minScore(), max_detections: MAX_DETECTIONS }),
      policy: () => this.policy(),
      onPresented: (now) => this.sampleMotion(now),
      onResult: (r, latencyMs) => this.answered(r, latencyMs),
      onError: (err) =>
        this.fail(
          'backend_lost',
          `The detector stopped (${err.message}). The Live view stopped with it; press Start to try again.`,
        ),
    });
    this.pump.start();
    let drawn = '';
    const draw = (now: number) => {
      this.raf = requestAnimationFrame(draw);
      const next = drawOverlay(this.deps.overlay, this.tracker.current, this.frame, now, drawn);
      this.overlayFrames.push(now);
      if (next !== drawn) this.overlayDraws.push(now);
      drawn = next;
    };
    this.raf = requestAnimationFrame(draw);
    this.ticker = setInterval(() => this.tick(), 500);
    const onVisibility = () => this.tick();
    document.addEventListener('visibilitychange', onVisibility);
    this.stops.push(() => document.removeEventListener('visibilitychange', onVisibility));
    this.update({ phase: 'running' });
    this.tick();
  }

  private minScore(): number {
    return Math.max(0.25, this.deps.store.get().settings.minScore);
  }

  private policy(): RatePolicy {
    // The worker's time per frame as measured on this stream; before the first answer, the photo measurement.
    const msPerPass = this.frameMs ?? this.deps.store.get().device.run?.msPerPass;
    return ratePolicy({
      hidden: document.visibilityState === 'hidden',
      stillForMs: this.stillForMs,
      battery: this.deps.store.get().routing.battery,
      fullRate: msPerPass ? 1000 / msPerPass : null,
    });
  }

  /** The frame difference on a 32×24 grey copy: how long the scene has been still. */
  private sampleMotion(now: number): void {
    if (now - this.lastMotion < MOTION_EVERY_MS || document.visibilityState === 'hidden') return;
    this.lastMotion = now;
    if (!this.motion) {
      const c = document.createElement('canvas');
      c.width = MOTION_W;
      c.height = MOTION_H;
      this.motion = c.getContext('2d', { willReadFrequently: true });
    }
    const ctx = this.motion;
    if (!ctx) return;
    ctx.drawImage(this.deps.video, 0, 0, MOTION_W, MOTION_H);
    this.stillForMs = this.meter.observe(toGrey(ctx.getImageData(0, 0, MOTION_W, MOTION_H).data), now);
  }

  private answered(r: FrameDetected, latencyMs: number): void {
    const now = performance.now();
    this.frame = { width: r.width, height: r.height };
    const ms = r.drawMs + r.inferenceMs;
    this.frameMs = this.frameMs === null ? ms : 0.8 * this.frameMs + 0.2 * ms;
    const tracks = this.tracker.update(r.detections, now);
    this.answers.push(now);
    const seen = tracks.filter((t) => t.misses === 0).sort((a, b) => a.id - b.id);
    const { overlay, counts } = this.deps;
    overlay.dataset.trackIds = seen.map((t) => t.id).join(',');
    const text = countByClass(tracks)
      .map(([label, n]) => `${n} ${label}`)
      .join(' · ');
    if (counts.textContent !== text) counts.textContent = text;
    const detail: LiveResultDetail = {
      latencyMs,
      drawMs: r.drawMs,
      inferenceMs: r.inferenceMs,
      tracks: seen.map((t) => ({ id: t.id, label: t.label })),
      maxInFlight: this.pump?.stats.maxInFlight ?? 0,
      reason: this.policy().reason,
      stillForMs: this.stillForMs,
    };
    overlay.dispatchEvent(new CustomEvent('live:result', { detail }));
  }

  /** Twice a second: the rate and why, for the status line; the overlay's frames per second. */
  private tick(): void {
    const now = performance.now();
    this.answers = this.answers.filter((t) => now - t <= RATE_WINDOW_MS);
    this.overlayFrames = this.overlayFrames.filter((t) => now - t <= 1000);
    this.overlayDraws = this.overlayDraws.filter((t) => now - t <= 1000);
    this.deps.overlay.dataset.overlayFps = String(this.overlayFrames.length);
    this.deps.overlay.dataset.overlayDraws = String(this.overlayDraws.length);
    const policy = this.policy();
    const perSecond = policy.reason === 'hidden' ? 0 : this.answers.length / (RATE_WINDOW_MS / 1000);
    const rate = { text: describeRate(perSecond, policy), reason: policy.reason, perSecond };
    const was = this.deps.store.get().live.rate;
    if (was?.text !== rate.text || was.reason !== rate.reason) this.update({ rate });
  }

  private update(change: Partial<AppState['live']>): void {
    this.deps.store.update((s) => withLive(s, change));
  }
}
