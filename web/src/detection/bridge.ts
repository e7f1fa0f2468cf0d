/**
 * The page's handle on the detection worker (after Squoosh's worker bridge): calls typed from the
 * worker's own API (`DetectionApi`), transferables for bitmaps, and an abort that ends the worker.
 *
 * The worker starts on first use. A call that is aborted — a timeout, a photo deleted, a measurement
 * preempted by the user's photo — terminates the worker at once (a model pass cannot be stopped any
 * other way), settles every call waiting on it, and the next call starts a fresh worker, loading the
 * model again with the backends it was last loaded with.
 */

import type { DetectParams } from '../../../shared/contract.ts';
import { CallAbortedError, type Connection, connect } from '../../../shared/rpc.ts';
import { messageEndpoint } from './endpoint.ts';
import { type DeviceModel, modelKey } from './models.ts';
import {
  DETECTION_METHODS,
  type Detected,
  type DeviceBackend,
  type FrameDetected,
  type FrameParams,
  type GpuProbe,
  type Loaded,
} from './protocol.ts';
import type { DetectionApi } from './worker.ts';

export interface DetectOptions {
  /** Aborting ends the worker (and this call); the next call starts a new one. */
  signal?: AbortSignal | undefined;
  /** The photo's bitmap comes back with the answer (the page shows it: no second decode). */
  keepBitmap?: boolean;
}

export class DetectionBridge {
  private worker: Worker | undefined;
  private conn: Connection<DetectionApi> | undefined;
  /** The backends the model was last loaded with (a new worker loads them again before its first photo). */
  private wanted: { backends: DeviceBackend[]; model: DeviceModel } | undefined;
  private loaded: { worker: Worker; key: string; done: Promise<Loaded> } | undefined;

  constructor(
    /** The worker's name in the browser's task manager and traces. */
    private readonly name = 'detection',
    /** The model's download (0–1) while a load fetches it (the page shows a progress bar). */
    private readonly onProgress: (fraction: number) => void = () => undefined,
    /** `?threads=N` (benchmarks): the threads the `wasm-threads` candidate asks for in each worker. */
    private readonly threads: number | null = null,
  ) {}

  /** Whether a worker is running now (tests, diagnostics). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  probe(): Promise<GpuProbe> {
    return this.connection().remote.probe();
  }

  /** Loads the model with the first backend of the list that works here (once per list and worker). */
  load(backends: DeviceBackend[], model: DeviceModel, signal?: AbortSignal): Promise<Loaded> {
    this.wanted = { backends, model };
    const conn = this.connection();
    const key = `${backends.join(',')} ${modelKey(model)}`;
    const worker = this.worker as Worker;
    if (this.loaded?.worker !== worker || this.loaded.key !== key) {
      const done = this.abortable(conn.remote.load(backends, model), signal);
      this.loaded = { worker, key, done };
      done.catch(() => {
        if (this.loaded?.done === done) this.loaded = undefined;
      });
    }
    return this.abortable(this.loaded.done, signal);
  }

  /** `image`: decoded already (EXIF-oriented); it is transferred to the worker, so the caller no longer has it. */
  async detect(bitmap: ImageBitmap, params: DetectParams, opts: DetectOptions = {}): Promise<Detected> {
    try {
      if (!this.wanted) throw new Error('load the model first');
      await this.load(this.wanted.backends, this.wanted.model, opts.signal);
      const conn = this.connection();
      return await this.abortable(
        conn.with({ transfer: [bitmap] }).detect(bitmap, params, opts.keepBitmap ?? false),
        opts.signal,
      );
    } catch (err) {
      bitmap.close(); // not transferred (the call failed before), or ours again: nobody else will close it
      throw err;
    }
  }

  /**
   * One Live view frame through the loaded model. The frame (a VideoFrame or an ImageBitmap) is
   * transferred, so the caller no longer has it; on a failure before that it is closed here.
   */
  async detectFrame(
    frame: ImageBitmap | VideoFrame,
    params: FrameParams,
    signal?: AbortSignal,
  ): Promise<FrameDetected> {
    try {
      if (!this.wanted) throw new Error('load the model first');
      await this.load(this.wanted.backends, this.wanted.model, signal);
      return await this.abortable(
        this.connection()
          .with({ transfer: [frame] })
          .detectFrame(frame, params),
        signal,
      );
    } catch (err) {
      try {
        frame.close();
      } catch {
        // transferred already (detached): nothing to close
      }
      throw err;
    }
  }

  /** One layer like the model's on the loaded backend (ms): what other candidates are first held to. */
  layer(): Promise<number> {
    return this.connection().remote.layer();
  }

  /** Measures one backend in this bridge's worker (a throwaway one: detection/device.ts). */
  measure(backend: DeviceBackend, layerLimitMs: number | null, model: DeviceModel, signal?: AbortSignal) {
    return this.abortable(this.connection().remote.measure(backend, layerLimitMs, model), signal);
  }

  /** Ends the worker now; calls waiting on it reject with `reason`. */
  terminate(reason: Error = new CallAbortedError('the detection worker was stopped')): void {
    this.conn?.close(reason);
    this.worker?.terminate();
    this.worker = undefined;
    this.conn = undefined;
    this.loaded = undefined;
  }

  private connection(): Connection<DetectionApi> {
    if (this.conn) return this.conn;
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: this.name });
    const conn = connect<DetectionApi>(messageEndpoint(worker), DETECTION_METHODS);
    conn.on('progress', (f) => this.onProgress(f as number));
    // Before anything else it is asked (messages arrive in order).
    if (this.threads !== null) void conn.remote.setThreads(this.threads).catch(() => undefined);
    // A worker that fails to start or crashes: its calls fail now rather than wait for ever.
    worker.addEventListener('error', (e) => {
      e.preventDefault();
      if (this.worker === worker) this.terminate(new Error(`the detection worker failed: ${e.message || 'crashed'}`));
    });
    this.worker = worker;
    this.conn = conn;
    return conn;
  }

  /** The call, unless `signal` aborts first: then the worker ends (stopping what it runs) and the call rejects. */
  private abortable<T>(call: Promise<T>, signal?: AbortSignal): Promise<T> {
    if (!signal) return call;
    if (signal.aborted) {
      this.terminate(new CallAbortedError(String(signal.reason)));
      return Promise.reject(new CallAbortedError(String(signal.reason)));
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        const reason = new CallAbortedError(String(signal.reason ?? 'aborted'));
        this.terminate(reason);
        reject(reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      call.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }
}
