/**
 * The main-thread side of a worker process's models: starts the model thread, waits until it has
 * loaded and warmed the default model, and sends it one detection at a time — for whichever model
 * the job names — with a time limit. A thread that overruns is terminated and replaced, and one
 * that dies (a model that crashed it) is replaced at the next job, so one bad image or one bad
 * model cannot wedge the worker or make it crash in a loop.
 */
import type { Worker } from 'node:worker_threads';
import type { Detection, DetectParams, ModelInfo } from '../../shared/contract.ts';
import type { Pixels } from '../../shared/detector/preprocess.ts';
import { TwinlensError } from '../../shared/errors.ts';
import type { ModelManifest } from '../../shared/models/manifest.ts';
import type { Logger } from '../log.ts';
import type { BackendChoice } from './backend.ts';
import type { FromThread, ModelRef, ToThread } from './protocol.ts';
import { spawnModelThread } from './thread-spawn.ts';

export type { ModelRef } from './protocol.ts';

/** Detections, and what they cost: all passes together, and the tiles' share (tiling.ts). */
export interface ModelResult {
  detections: Detection[];
  inferenceMs: number;
  tiles: number;
  tileMs: number | null;
  /** The model that ran, as the Task records it. */
  info: ModelInfo;
}

type Params = Pick<DetectParams, 'min_score' | 'max_detections' | 'tiling'>;

export interface ModelRunner {
  /** The TF.js backend the models run on ('none': the null model). */
  readonly backend: string;
  /** Whether `detect` needs decoded pixels (the null model does not). */
  readonly needsPixels: boolean;
  /** What a Task will record for this model (before it has run it). */
  info(manifest: ModelManifest): ModelInfo;
  detect(
    model: ModelRef,
    pixels: Pixels | null,
    original: { width: number; height: number },
    params: Params,
  ): Promise<ModelResult>;
  close(): Promise<void>;
}

/** No inference at all: for measuring the serving machinery alone. */
export class NullModelRunner implements ModelRunner {
  readonly backend = 'none';
  readonly needsPixels = false;
  info(manifest: ModelManifest): ModelInfo {
    return { id: manifest.id, name: 'null', version: '0', backend: 'none' };
  }
  async detect(model: ModelRef) {
    return { detections: [], inferenceMs: 0, tiles: 0, tileMs: null, info: this.info(model.manifest) };
  }
  async close() {}
}

export interface ThreadOptions {
  backend: BackendChoice;
  blockMs: number;
  timeoutMs: number;
  memoryLimit: number;
  log: Logger;
  /** Loaded and warmed at start (the default model). */
  warm: ModelRef | null;
  /** A thread started already by spawnModelThread (server/worker.ts starts it first thing). */
  thread?: Worker | undefined;
}

export class ThreadModelRunner implements ModelRunner {
  readonly needsPixels = true;
  backend = 'unknown';
  private thread: Worker | undefined;
  private starting: Promise<void> | undefined;
  private nextId = 1;
  private pending = new Map<number, { resolve: (m: FromThread) => void; reject: (e: Error) => void }>();
  private closed = false;

  private constructor(private readonly opts: ThreadOptions) {}

  static async start(opts: ThreadOptions): Promise<ThreadModelRunner> {
    const runner = new ThreadModelRunner(opts);
    runner.starting = runner.spawn(opts.thread, opts.warm);
    await runner.starting;
    return runner;
  }

  info(manifest: ModelManifest): ModelInfo {
    return { id: manifest.id, name: manifest.name, version: manifest.version, backend: this.backend };
  }

  /** Starts a model thread (or takes one started already) and waits until it is ready. */
  private spawn(started: Worker | undefined, warm: ModelRef | null): Promise<void> {
    const thread = started ?? spawnModelThread();
    this.thread = thread;
    const { log } = this.opts;
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      thread.on('message', (m: FromThread) => {
        if (m.type === 'ready') {
          this.backend = m.backend;
          log.info('model ready', {
            model: m.warm?.id ?? null,
            backend: m.backend,
            load_ms: Math.round(performance.now() - t0),
            warm_up_ms: Math.round(m.warmUpMs),
          });
          resolve();
        } else if (m.type === 'init-failed') {
          reject(new Error(`model thread failed to start: ${m.message}`));
        } else if (m.type === 'note') {
          log.info(m.msg, m.fields);
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
        if (this.thread !== thread) return;
        // Died under a job (a model that crashed it): the next job gets a fresh thread.
        this.thread = undefined;
        this.failAll(new TwinlensError('model_unavailable', `the model thread exited (code ${code}) while running it`));
        if (!this.closed) log.warn('model thread exited; a new one starts with the next job', { code });
      });
      const init: ToThread = {
        type: 'init',
        backend: this.opts.backend,
        blockMs: this.opts.blockMs,
        warm,
        memoryLimit: this.opts.memoryLimit,
      };
      thread.postMessage(init);
    });
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private async live(): Promise<Worker> {
    if (!this.thread) this.starting = this.spawn(undefined, null);
    await this.starting;
    if (!this.thread) throw new TwinlensError('model_unavailable', 'the model thread is not running');
    return this.thread;
  }

  async detect(model: ModelRef, pixels: Pixels | null, original: { width: number; height: number }, params: Params) {
    if (!pixels) throw new Error('the model needs pixels');
    const thread = await this.live();
    const id = this.nextId++;
    const msg: ToThread = { type: 'detect', id, model, pixels, original, params };
    const reply = new Promise<FromThread>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    // The pixel buffer is moved, not copied, to the thread.
    thread.postMessage(msg, [pixels.data.buffer as ArrayBuffer]);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new TwinlensError('timeout', `inference took longer than ${this.opts.timeoutMs} ms`)),
        this.opts.timeoutMs,
      );
    });
    try {
      const m = await Promise.race([reply, timeout]);
      if (m.type === 'result') {
        return { detections: m.detections, inferenceMs: m.inferenceMs, tiles: m.tiles, tileMs: m.tileMs, info: m.info };
      }
      if (m.type === 'failed') throw new TwinlensError(m.code, m.message);
      throw new TwinlensError('inference_failed', 'unexpected reply');
    } catch (err) {
      if (err instanceof TwinlensError && err.code === 'timeout') {
        this.pending.delete(id);
        this.opts.log.warn('model thread overran; replacing it', { timeout_ms: this.opts.timeoutMs });
        this.thread = undefined;
        await thread.terminate();
        // The other jobs that thread held get their answer now, not at their own time limit.
        this.failAll(new TwinlensError('inference_failed', 'the model thread was replaced after another job overran'));
        // The debug block (DEBUG_INFERENCE_BLOCK_MS) stands for one image that hangs inference:
        // the thread that replaces a hung one starts without it, so a test can show the worker
        // going on with its next job on the fresh thread.
        this.opts.blockMs = 0;
        this.starting = this.spawn(undefined, model);
        await this.starting;
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const t = this.thread;
    this.thread = undefined;
    await t?.terminate();
  }
}

/**
 * The model runner the configuration asks for, starting to load at once (in `thread` when one was
 * started already; it is stopped when the configuration wants no model).
 */
export function startModelRunner(
  config: {
    MODEL: string;
    MODEL_BACKEND: BackendChoice;
    DEBUG_INFERENCE_BLOCK_MS: number;
    JOB_TIMEOUT_MS: number;
    MODEL_MEMORY_LIMIT: number;
  },
  log: Logger,
  warm: Promise<ModelRef | null>,
  thread?: Worker,
): Promise<ModelRunner> {
  if (config.MODEL === 'null') {
    void thread?.terminate();
    return Promise.resolve(new NullModelRunner());
  }
  return warm.then((w) =>
    ThreadModelRunner.start({
      backend: config.MODEL_BACKEND,
      blockMs: config.DEBUG_INFERENCE_BLOCK_MS,
      timeoutMs: config.JOB_TIMEOUT_MS,
      memoryLimit: config.MODEL_MEMORY_LIMIT,
      log,
      warm: w,
      thread,
    }),
  );
}
