/**
 * The model thread: owns TensorFlow.js, and the models it has loaded. It loads and warms the
 * default model at start; any other loads on its first job (then stays, while the loaded models'
 * weights fit MODEL_MEMORY_LIMIT: the least recently used goes first). One detection at a time:
 * inference is CPU-bound and synchronous in the wasm backend, and keeping it off the main thread
 * lets BullMQ renew its job lock while a long inference runs.
 *
 * A model that cannot be loaded (a file missing or corrupt, outputs that do not fit its manifest)
 * fails its job with `model_unavailable`; the thread and the other models carry on. The failure is
 * remembered for a few seconds, so a queue of its jobs does not reload it for each.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { DetectParams } from '../../shared/contract.ts';
import { Detector } from '../../shared/detector/detector.ts';
import type { Pixels } from '../../shared/detector/preprocess.ts';
import { expose } from '../../shared/rpc.ts';
import { initBackend } from './backend.ts';
import { threadEndpoint } from './endpoint.ts';
import { fileModelHandler } from './files.ts';
import type {
  MODEL_THREAD_METHODS,
  ModelRef,
  ThreadFailure,
  ThreadInit,
  ThreadNote,
  ThreadReady,
  ThreadResult,
} from './protocol.ts';

const port = parentPort;
if (!port) throw new Error('thread.ts must run in a worker thread');

/** A model that failed to load is tried again after this long. */
const RETRY_FAILED_MS = 10_000;

interface Loaded {
  detector: Detector;
  bytes: number;
  usedAt: number;
}

const loaded = new Map<string, Loaded>();
const failed = new Map<string, { message: string; at: number }>();
const loading = new Map<string, Promise<Loaded>>();
let ready: Promise<ThreadReady> | undefined;
let blockMs = 0;
let memoryLimit = Number.POSITIVE_INFINITY;
const keyOf = (m: ModelRef) => `${m.manifest.id}@${m.manifest.version}@${m.dir}`;
const note = (n: ThreadNote) => events.emit('note', n);

/** A failure the runner turns into the task's error code (the error's name crosses the boundary). */
class Failure extends Error {
  constructor(code: ThreadFailure, message: string) {
    super(message);
    this.name = code;
  }
}

async function load(ref: ModelRef): Promise<Loaded> {
  const key = keyOf(ref);
  const have = loaded.get(key);
  if (have) return have;
  const fail = failed.get(key);
  if (fail && Date.now() - fail.at < RETRY_FAILED_MS) throw new Failure('model_unavailable', fail.message);
  let p = loading.get(key);
  if (!p) {
    p = (async () => {
      const before = tf.memory().numBytes;
      const started = performance.now();
      let detector: Detector | undefined;
      try {
        detector = await Detector.load(ref.manifest, fileModelHandler(ref.dir, ref.manifest));
        await detector.warmUp();
      } catch (err) {
        detector?.dispose();
        const message = `model ${ref.manifest.id} (${ref.manifest.version}) cannot be loaded: ${(err as Error).message ?? err}`;
        failed.set(key, { message, at: Date.now() });
        throw new Failure('model_unavailable', message);
      }
      failed.delete(key);
      const entry = { detector, bytes: Math.max(0, tf.memory().numBytes - before), usedAt: Date.now() };
      loaded.set(key, entry);
      note({
        msg: 'model loaded',
        fields: {
          model: ref.manifest.id,
          version: ref.manifest.version,
          load_ms: Math.round(performance.now() - started),
          bytes: entry.bytes,
        },
      });
      evict(key);
      return entry;
    })().finally(() => loading.delete(key));
    loading.set(key, p);
  }
  return p;
}

/** Least recently used first, until the loaded models fit the limit (the one just used stays). */
function evict(keep: string): void {
  let total = [...loaded.values()].reduce((a, m) => a + m.bytes, 0);
  for (const [key, m] of [...loaded.entries()].sort((a, b) => a[1].usedAt - b[1].usedAt)) {
    if (total <= memoryLimit) break;
    if (key === keep) continue;
    m.detector.dispose();
    loaded.delete(key);
    total -= m.bytes;
    note({
      msg: 'model unloaded (memory limit)',
      fields: { model: key, bytes: m.bytes, limit: memoryLimit },
    });
  }
}

const api = {
  /** Starts TF.js and loads the default model; resolves when the thread is ready for jobs. */
  init(opts: ThreadInit): Promise<ThreadReady> {
    blockMs = opts.blockMs;
    memoryLimit = opts.memoryLimit;
    ready = (async () => {
      const backend = await initBackend(opts.backend);
      const t0 = performance.now();
      let warm = null;
      if (opts.warm) {
        try {
          warm = (await load(opts.warm)).detector.info();
        } catch (err) {
          // The default model is broken: say so, and serve the others.
          note({ msg: 'default model unavailable', fields: { error: (err as Error).message } });
        }
      }
      return { backend, warm, warmUpMs: performance.now() - t0 };
    })();
    return ready;
  },

  /** One detection with `model` (loaded now if it is not); fails with a ThreadFailure's name. */
  async detect(
    model: ModelRef,
    pixels: Pixels,
    original: { width: number; height: number },
    params: Pick<DetectParams, 'min_score' | 'max_detections' | 'tiling'>,
  ): Promise<ThreadResult> {
    if (!(await ready?.then(() => true).catch(() => false))) {
      throw new Failure('inference_failed', 'the model thread did not start');
    }
    const loadedModel = await load(model);
    try {
      loadedModel.usedAt = Date.now();
      if (blockMs > 0) busyWait(blockMs);
      const r = await loadedModel.detector.detect(pixels, original, params);
      return {
        info: loadedModel.detector.info(),
        detections: r.detections,
        inferenceMs: r.inferenceMs + blockMs,
        tiles: r.tiles,
        tileMs: r.tileMs,
      };
    } catch (err) {
      throw new Failure('inference_failed', String((err as Error).message ?? err));
    }
  },
};

export type ModelThreadApi = typeof api;
// The runner names the methods (protocol.ts): the compiler checks that it names exactly these.
api satisfies Record<(typeof MODEL_THREAD_METHODS)[number], unknown>;

const events = expose(api, threadEndpoint(port));

/** Holds the thread like a slow CPU-bound model would (diagnostics and tests only). */
function busyWait(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // spin
  }
}
