/**
 * This device as a place to run the model: which backend runs (measured, not guessed), the photos
 * waiting for it (one at a time: one model, one worker), and the measuring of the other backends.
 *
 * The user's photos always come first. The other backends are measured only while the device is
 * idle (no photo for QUIET_MS), in throwaway workers; a photo that arrives while one is measured
 * stops it at once (its worker terminated, so it gives the cores back) and it is measured again at
 * the next quiet spell. Everything the page shows of the device is in the state (`state.device`).
 */

import type { DetectParams, ModelInfo } from '../../../shared/contract.ts';
import { type AppState, type Store, withDevice } from '../state.ts';
import {
  type BackendResult,
  candidates,
  deviceKey,
  isSoftware,
  loadMeasurement,
  MAX_AGE_MS,
  type Measurement,
  type MeasureOutcome,
  measureRest,
  ranked,
  saveMeasurement,
  winner,
} from './backends.ts';
import { DetectionBridge } from './bridge.ts';
import { type DeviceModel, defaultDeviceModel, modelKey } from './models.ts';
import type { Detected, DeviceBackend, FrameDetected, FrameParams } from './protocol.ts';

/** Background measurement starts a candidate only after this long without a photo on the device… */
export const QUIET_MS = 2000;
/**
 * …and one on a software rasteriser (isSoftware) only after this long: its first shader takes seconds
 * to compile in the browser's GPU process (7 s for one convolution on SwiftShader's WebGPU, measured on
 * a 2-core machine), and a photo arriving meanwhile would wait for it and find the page's display frozen.
 */
export const SOFTWARE_QUIET_MS = 30_000;

/** A Live view frame without an answer in this many times the measured time is a lost backend… */
export const LIVE_TIMEOUT_FACTOR = 10;
/** …but never sooner than this (a worker started again loads the model before its first frame). */
export const LIVE_MIN_TIMEOUT_MS = 10_000;

/** What a task run on the device needs of it (tasks/device-run.ts; a fake in unit tests). */
export interface DeviceEngine {
  /** The backend running now and its ms per model pass; null when nothing runs the model here. */
  current(): { backend: DeviceBackend; msPerPass: number } | null;
  /** Whether a measured backend other than the current one could take over. */
  hasAlternative(): boolean;
  detect(
    image: Blob | ImageBitmap,
    params: DetectParams,
    opts: { signal?: AbortSignal; keepBitmap?: boolean },
  ): Promise<Detected & { model: ModelInfo }>;
  /** Loads the fastest measured backend not in `tried`; its name, or null when none is left. */
  fallBack(tried: DeviceBackend[]): Promise<DeviceBackend | null>;
  /** Runs `job` after the photos before it (one at a time); counts it in `state.device.ahead`. */
  enqueue<T>(job: () => Promise<T>): Promise<T>;
}

export class Device implements DeviceEngine {
  private readonly bridge: DetectionBridge;
  private queue: Promise<unknown> = Promise.resolve();
  /** Stops the candidate being measured when a photo arrives. */
  private measuring: AbortController | undefined;
  private model: ModelInfo | undefined;

  constructor(
    private readonly store: Store,
    /** `?backends=wasm` (diagnostics, benchmarks) narrows the candidates. */
    private readonly only: DeviceBackend[] | undefined,
    private readonly measure: (
      b: DeviceBackend,
      budgetMs: number,
      layerLimitMs: number | null,
      preempt: AbortSignal,
      model: DeviceModel,
      threads: number | null,
    ) => Promise<MeasureOutcome> = measureInWorker,
    /** `?threads=N` (benchmarks, diagnostics): the threads `wasm-threads` asks for instead of wasmThreadsFor(cores). */
    private readonly threads: number | null = null,
  ) {
    this.bridge = new DetectionBridge(
      'detection',
      (fraction) => this.store.update((s) => withDevice(s, { download: fraction < 1 ? fraction : null })),
      threads,
    );
    // The page's first seconds count as busy: a newcomer's first photo comes soon, and measuring waits for quiet.
    store.update((s) => withDevice(s, { busyAt: performance.now() }));
  }

  private get state(): AppState['device'] {
    return this.store.get().device;
  }

  /** The model chosen (settings); each model is loaded, measured and cached on its own. */
  private get chosen(): DeviceModel {
    return this.store.get().settings.model ?? defaultDeviceModel();
  }

  /** Another model was chosen: after the photos already on the device, it is loaded (and measured) in its place. */
  switchModel(): Promise<void> {
    return this.enqueue(async () => {
      this.measuring?.abort('another model was chosen');
      this.store.update((s) =>
        withDevice(s, { run: null, measurement: null, measured: null, readyMs: null, loaded: null, failure: null }),
      );
      await this.prepare();
    });
  }

  current() {
    return this.state.run;
  }

  /** The model loaded now (id, version, backend), once loaded: what a Live view snapshot says ran. */
  get loadedModel(): ModelInfo | undefined {
    return this.model;
  }

  hasAlternative(): boolean {
    const run = this.state.run;
    return this.state.measurement?.results.some((m) => m.msPerPass !== null && m.backend !== run?.backend) ?? false;
  }

  /** Loads the backend measured fastest here (or the likely winner on a first visit), then measures the rest. */
  async prepare(): Promise<void> {
    const probe = await this.bridge.probe();
    this.store.update((s) => withDevice(s, { probe }));
    const model = this.chosen;
    const key = deviceKey(probe, model);
    const offered = candidates(probe, this.only);
    const stored = await loadMeasurement(key);
    const known = stored ? winner(stored) : undefined;
    const order =
      known && offered.includes(known.backend)
        ? [known.backend, ...offered.filter((b) => b !== known.backend)]
        : offered;
    for (const backend of order) {
      try {
        const loaded = await this.bridge.load([backend], model);
        this.model = loaded.model;
        this.store.update((s) =>
          withDevice(s, {
            run: { backend, msPerPass: loaded.msPerPass, threads: loaded.threads },
            loaded: modelKey(model),
            readyMs: Math.round(loaded.loadMs + loaded.warmUpMs),
            download: null,
          }),
        );
        break;
      } catch {
        // Not here after all: the next one.
      }
    }
    const run = this.state.run;
    if (!run) {
      this.store.update((s) => withDevice(s, { failure: 'none of its backends runs the model', download: null }));
      return;
    }
    const fresh =
      stored &&
      Date.now() - stored.measuredAt < MAX_AGE_MS &&
      offered.every((b) => stored.results.some((r) => r.backend === b));
    if (fresh) {
      this.store.update((s) => withDevice(s, { measurement: stored, measured: 'stored' }));
      return;
    }
    const first: BackendResult[] = [
      {
        backend: run.backend,
        msPerPass: run.msPerPass,
        elapsedMs: 0,
        ...(run.threads ? { threads: run.threads } : {}),
      },
    ];
    this.store.update((s) => withDevice(s, { measurement: { key, measuredAt: Date.now(), results: first } }));
    void this.measureOthers(key, offered, first);
  }

  /** The other backends in throwaway workers, while the device is idle; a faster one is used at once. */
  private async measureOthers(key: string, offered: DeviceBackend[], known: BackendResult[]): Promise<void> {
    const { probe } = this.state;
    const todo = offered.filter((b) => !known.some((r) => r.backend === b));
    if (todo.length === 0) return this.saveMeasurement(key, known);
    // The loaded backend's one layer, the first round the others are held to: timed while the device is idle.
    await this.quiet(QUIET_MS);
    const layerMs = await this.bridge.layer().catch(() => undefined);
    const first = known.map((r) => (r.backend === this.state.run?.backend && layerMs ? { ...r, layerMs } : r));
    const results = await measureRest(
      todo,
      first,
      (backend, budget, layerLimit) => {
        this.measuring = new AbortController();
        return this.measure(backend, budget, layerLimit, this.measuring.signal, this.chosen, this.threads).finally(
          () => {
            this.measuring = undefined;
          },
        );
      },
      async (rs) => {
        const measurement: Measurement = { key, measuredAt: Date.now(), results: rs };
        this.store.update((s) => withDevice(s, { measurement }));
        const best = winner(measurement);
        const run = this.state.run;
        if (best?.msPerPass != null && run && best.backend !== run.backend && best.msPerPass < run.msPerPass) {
          await this.use(best.backend);
        }
      },
      (backend) => this.quiet(probe && isSoftware(probe, backend) ? SOFTWARE_QUIET_MS : QUIET_MS),
    );
    await this.saveMeasurement(key, results);
  }

  private async saveMeasurement(key: string, results: BackendResult[]): Promise<void> {
    await saveMeasurement({ key, measuredAt: Date.now(), results });
    this.store.update((s) => withDevice(s, { measured: 'now' }));
  }

  /** Resolves once no photo has been on the device for `quietMs`. */
  private quiet(quietMs: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const check = () => {
        clearTimeout(timer);
        const { ahead, busyAt } = this.state;
        if (ahead > 0) return; // the store tells us when it changes
        const wait = busyAt + quietMs - performance.now();
        if (wait <= 0) {
          stop();
          resolve();
        } else timer = setTimeout(check, wait);
      };
      const stop = this.store.subscribe((s, prev) => {
        if (s.device.ahead !== prev.device.ahead || s.device.busyAt !== prev.device.busyAt) check();
      });
      check();
    });
  }

  private async use(backend: DeviceBackend): Promise<void> {
    const loaded = await this.bridge.load([backend], this.chosen);
    this.model = loaded.model;
    this.store.update((s) => withDevice(s, { run: { backend, msPerPass: loaded.msPerPass, threads: loaded.threads } }));
  }

  async fallBack(tried: DeviceBackend[]): Promise<DeviceBackend | null> {
    const next = ranked(this.state.measurement?.results ?? []).find(
      (r) => r.msPerPass !== null && !tried.includes(r.backend),
    );
    if (!next) return null;
    try {
      await this.use(next.backend);
      return next.backend;
    } catch {
      return null;
    }
  }

  async detect(image: Blob | ImageBitmap, params: DetectParams, opts: { signal?: AbortSignal; keepBitmap?: boolean }) {
    // createImageBitmap applies EXIF orientation, as the server does.
    const bitmap =
      image instanceof ImageBitmap ? image : await createImageBitmap(image, { imageOrientation: 'from-image' });
    const r = await this.bridge.detect(bitmap, params, opts);
    if (!this.model) throw new Error('the model is not loaded');
    return { ...r, model: this.model };
  }

  /**
   * One Live view frame, on the backend and model the photos use (the fastest measured here). Frames do
   * not wait in the photo queue (the Live view keeps one in flight itself), but they count as the device
   * being busy: measuring another backend waits until the stream stops, and one being measured stops.
   */
  async detectFrame(frame: ImageBitmap | VideoFrame, params: FrameParams): Promise<FrameDetected> {
    this.measuring?.abort('the Live view is running');
    this.store.update((s) => withDevice(s, { busyAt: performance.now() }));
    // A worker that dies without a word (a crash, the browser reclaiming memory) would hold the one frame in
    // flight for ever: no answer in this long counts as the backend lost (the worker is ended with it).
    const limitMs = Math.max(LIVE_MIN_TIMEOUT_MS, LIVE_TIMEOUT_FACTOR * (this.state.run?.msPerPass ?? 1000));
    const signal = AbortSignal.timeout(limitMs);
    try {
      return await this.bridge.detectFrame(frame, params, signal);
    } catch (err) {
      if (signal.aborted) throw new Error(`no answer from the model in ${Math.round(limitMs / 1000)} s`);
      throw err;
    }
  }

  enqueue<T>(job: () => Promise<T>): Promise<T> {
    // A photo takes the device: a candidate being measured stops at once (measured again later).
    this.measuring?.abort('a photo arrived');
    this.store.update((s) => withDevice(s, { ahead: s.device.ahead + 1, busyAt: performance.now() }));
    const run = this.queue.then(job).finally(() => {
      this.store.update((s) => withDevice(s, { ahead: s.device.ahead - 1, busyAt: performance.now() }));
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** Measures one backend in a throwaway worker (see DetectionBridge), within `budgetMs`, unless preempted. */
async function measureInWorker(
  backend: DeviceBackend,
  budgetMs: number,
  layerLimitMs: number | null,
  preempt: AbortSignal,
  model: DeviceModel,
  threads: number | null,
): Promise<MeasureOutcome> {
  const bridge = new DetectionBridge(`measure-${backend}`, undefined, threads);
  const budget = AbortSignal.timeout(budgetMs);
  try {
    const m = await bridge.measure(backend, layerLimitMs, model, AbortSignal.any([preempt, budget]));
    return m.msPerPass === null
      ? { slowerLayerMs: m.layerMs }
      : { msPerPass: m.msPerPass, layerMs: m.layerMs, threads: m.threads };
  } catch {
    return preempt.aborted ? 'preempted' : budget.aborted ? 'stopped' : 'failed';
  } finally {
    bridge.terminate();
  }
}
