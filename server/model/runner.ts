/**
 * The main-thread side of a worker process's models: starts the model thread, waits until it has
 * loaded and warmed the default model, and sends it one detection at a time — for whichever model
 * the job names — with a time limit. A thread that overruns is terminated and replaced, and one
 * that dies (a model that crashed it) is replaced at the next job, so one bad image or one bad
 * model cannot wedge the worker or make it crash in a loop. The calls are typed from the thread's own
 * API (thread.ts, `ModelThreadApi`) through shared/rpc.ts, the same bridge the web app's worker uses.
 */
import type { Worker } from 'node:worker_threads';
import type { Detection, DetectParams, ModelInfo } from '../../shared/contract.ts';
import type { Pixels } from '../../shared/detector/preprocess.ts';
import { TwinlensError } from '../../shared/errors.ts';
import type { ModelManifest } from '../../shared/models/manifest.ts';
import { type Connection, connect } from '../../shared/rpc.ts';
import type { Logger } from '../log.ts';
import type { BackendChoice } from './backend.ts';
import { threadEndpoint } from './endpoint.ts';
import { MODEL_THREAD_METHODS, type ModelRef, type ThreadNote } from './protocol.ts';
import type { ModelThreadApi } from './thread.ts';
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
  private thread: { worker: Worker; conn: Connection<ModelThreadApi> } | undefined;
  private starting: Promise<void> | undefined;
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
  private async spawn(started: Worker | undefined, warm: ModelRef | null): Promise<void> {
    const worker = started ?? spawnModelThread();
    const conn = connect<ModelThreadApi>(threadEndpoint(worker), MODEL_THREAD_METHODS);
    this.thread = { worker, conn };
    const { log } = this.opts;
    conn.on('note', (n) => {
      const { msg, fields } = n as ThreadNote;
      log.info(msg, fields);
    });
    worker.on('error', (err) => conn.close(err));
    worker.on('exit', (code) => {
      // Died under a job (a model that crashed it): its calls fail now, and the next job gets a fresh thread.
      conn.close(new TwinlensError('model_unavailable', `the model thread exited (code ${code}) while running it`));
      if (this.thread?.worker !== worker) return;
      this.thread = undefined;
      if (!this.closed) log.warn('model thread exited; a new one starts with the next job', { code });
    });
    const t0 = performance.now();
    const { backend, blockMs, memoryLimit } = this.opts;
    try {
      const ready = await conn.remote.init({ backend, blockMs, warm, memoryLimit });
      this.backend = ready.backend;
      log.info('model ready', {
        model: ready.warm?.id ?? null,
        backend: ready.backend,
        load_ms: Math.round(performance.now() - t0),
        warm_up_ms: Math.round(ready.warmUpMs),
      });
    } catch (err) {
      throw new Error(`model thread failed to start: ${(err as Error).message}`);
    }
  }

  private async live(): Promise<Connection<ModelThreadApi>> {
    if (!this.thread) this.starting = this.spawn(undefined, null);
    await this.starting;
    if (!this.thread) throw new TwinlensError('model_unavailable', 'the model thread is not running');
    return this.thread.conn;
  }

  async detect(model: ModelRef, pixels: Pixels | null, original: { width: number; height: number }, params: Params) {
    if (!pixels) throw new Error('the model needs pixels');
    const conn = await this.live();
    const overran = new AbortController();
    const timer = setTimeout(() => overran.abort(), this.opts.timeoutMs);
    try {
      // The pixel buffer is moved, not copied, to the thread.
      return await conn
        .with({ transfer: [pixels.data.buffer], signal: overran.signal })
        .detect(model, pixels, original, params);
    } catch (err) {
      if (overran.signal.aborted) {
        this.opts.log.warn('model thread overran; replacing it', { timeout_ms: this.opts.timeoutMs });
        const hung = this.thread;
        this.thread = undefined;
        // The other jobs that thread held get their answer now, not at their own time limit.
        hung?.conn.close(
          new TwinlensError('inference_failed', 'the model thread was replaced after another job overran'),
        );
        await hung?.worker.terminate();
        // The debug block (DEBUG_INFERENCE_BLOCK_MS) stands for one image that hangs inference:
        // the thread that replaces a hung one starts without it, so a test can show the worker
        // going on with its next job on the fresh thread.
        this.opts.blockMs = 0;
        // The fresh thread starts while this job fails: the next job waits for it (`live`), not this answer.
        this.starting = this.spawn(undefined, model);
        this.starting.catch((e: Error) => this.opts.log.error('model thread failed to restart', { error: e.message }));
        throw new TwinlensError('timeout', `inference took longer than ${this.opts.timeoutMs} ms`);
      }
      if (err instanceof TwinlensError) throw err;
      const code = (err as Error).name === 'model_unavailable' ? 'model_unavailable' : 'inference_failed';
      throw new TwinlensError(code, (err as Error).message);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const t = this.thread;
    this.thread = undefined;
    await t?.worker.terminate();
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
