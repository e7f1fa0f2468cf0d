/**
 * The main-thread side of a worker process's model: starts the model thread, waits until the
 * model is loaded and warmed, and sends it one detection at a time with a time limit. A thread
 * that overruns is terminated and replaced, so one bad image cannot wedge the worker.
 */
import type { Worker } from 'node:worker_threads';
import type { Detection, DetectParams, ModelInfo } from '../../shared/contract.ts';
import type { Pixels } from '../../shared/detector/preprocess.ts';
import { TwinlensError } from '../../shared/errors.ts';
import type { Logger } from '../log.ts';
import type { BackendChoice } from './backend.ts';
import type { FromThread, ToThread } from './protocol.ts';
import { spawnModelThread } from './thread-spawn.ts';

/** Detections, and what they cost: all passes together, and the tiles' share (tiling.ts). */
export interface ModelResult {
  detections: Detection[];
  inferenceMs: number;
  tiles: number;
  tileMs: number | null;
}

export interface ModelRunner {
  readonly info: ModelInfo;
  /** Whether `detect` needs decoded pixels (the null model does not). */
  readonly needsPixels: boolean;
  detect(
    pixels: Pixels | null,
    original: { width: number; height: number },
    params: DetectParams,
  ): Promise<ModelResult>;
  close(): Promise<void>;
}

/** No inference at all: for measuring the serving machinery alone. */
export class NullModelRunner implements ModelRunner {
  readonly info: ModelInfo = { name: 'null', version: '0', backend: 'none' };
  readonly needsPixels = false;
  async detect() {
    return { detections: [], inferenceMs: 0, tiles: 0, tileMs: null };
  }
  async close() {}
}

export class ThreadModelRunner implements ModelRunner {
  readonly needsPixels = true;
  private thread!: Worker;
  private nextId = 1;
  private pending = new Map<number, { resolve: (m: FromThread) => void; reject: (e: Error) => void }>();
  info!: ModelInfo;

  private constructor(
    private readonly backend: BackendChoice,
    private blockMs: number,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  static async start(opts: {
    backend: BackendChoice;
    blockMs: number;
    timeoutMs: number;
    log: Logger;
    /** A thread started already by spawnModelThread (server/worker.ts starts it first thing). */
    thread?: Worker | undefined;
  }): Promise<ThreadModelRunner> {
    const runner = new ThreadModelRunner(opts.backend, opts.blockMs, opts.timeoutMs, opts.log);
    await runner.spawn(opts.thread);
    return runner;
  }

  /** Starts a model thread (or takes one started already) and loads the model in it. */
  private spawn(started?: Worker): Promise<void> {
    const thread = started ?? spawnModelThread();
    this.thread = thread;
    return new Promise((resolve, reject) => {
      const started = performance.now();
      thread.on('message', (m: FromThread) => {
        if (m.type === 'ready') {
          this.info = m.info;
          this.log.info('model ready', {
            model: m.info.name,
            backend: m.info.backend,
            load_ms: Math.round(performance.now() - started),
            warm_up_ms: Math.round(m.warmUpMs),
          });
          resolve();
        } else if (m.type === 'init-failed') {
          reject(new Error(`model failed to load: ${m.message}`));
        } else {
          const p = this.pending.get(m.id);
          if (p) {
            this.pending.delete(m.id);
            p.resolve(m);
          }
        }
      });
      thread.on('error', (err) => {
        reject(err);
        this.failAll(err);
      });
      thread.on('exit', (code) => {
        if (this.thread === thread) this.failAll(new Error(`model thread exited with code ${code}`));
      });
      const init: ToThread = { type: 'init', backend: this.backend, blockMs: this.blockMs };
      thread.postMessage(init);
    });
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  async detect(pixels: Pixels | null, original: { width: number; height: number }, params: DetectParams) {
    if (!pixels) throw new Error('the model needs pixels');
    const id = this.nextId++;
    const msg: ToThread = { type: 'detect', id, pixels, original, params };
    const reply = new Promise<FromThread>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    // The pixel buffer is moved, not copied, to the thread.
    this.thread.postMessage(msg, [pixels.data.buffer as ArrayBuffer]);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new TwinlensError('timeout', `inference took longer than ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    });
    try {
      const m = await Promise.race([reply, timeout]);
      if (m.type === 'result')
        return { detections: m.detections, inferenceMs: m.inferenceMs, tiles: m.tiles, tileMs: m.tileMs };
      throw new TwinlensError('inference_failed', m.type === 'failed' ? m.message : 'unexpected reply');
    } catch (err) {
      if (err instanceof TwinlensError && err.code === 'timeout') {
        this.pending.delete(id);
        this.log.warn('model thread overran; replacing it', { timeout_ms: this.timeoutMs });
        await this.thread.terminate();
        // The debug block (DEBUG_INFERENCE_BLOCK_MS) stands for one image that hangs inference:
        // the thread that replaces a hung one starts without it, so a test can show the worker
        // going on with its next job on the fresh thread.
        this.blockMs = 0;
        await this.spawn();
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    const t = this.thread;
    this.thread = undefined as unknown as Worker;
    await t?.terminate();
  }
}

/**
 * The model runner the configuration asks for, starting to load at once (in `thread` when one was
 * started already; it is stopped when the configuration wants no model).
 */
export function startModelRunner(
  config: {
    MODEL: 'centernet' | 'null';
    MODEL_BACKEND: BackendChoice;
    DEBUG_INFERENCE_BLOCK_MS: number;
    JOB_TIMEOUT_MS: number;
  },
  log: Logger,
  thread?: Worker,
): Promise<ModelRunner> {
  if (config.MODEL === 'null') {
    void thread?.terminate();
    return Promise.resolve(new NullModelRunner());
  }
  return ThreadModelRunner.start({
    backend: config.MODEL_BACKEND,
    blockMs: config.DEBUG_INFERENCE_BLOCK_MS,
    timeoutMs: config.JOB_TIMEOUT_MS,
    log,
    thread,
  });
}
