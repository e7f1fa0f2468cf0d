/**
 * The model thread: owns TensorFlow.js, loads and warms the model once, then runs one
 * detection at a time. Inference is CPU-bound and synchronous in the wasm backend; keeping it
 * off the main thread lets BullMQ renew its job lock while a long inference runs.
 */
import { parentPort } from 'node:worker_threads';
import { Detector } from '../../shared/detector/detector.ts';
import { initBackend } from './backend.ts';
import { fileModelHandler } from './files.ts';
import type { FromThread, ToThread } from './protocol.ts';

const port = parentPort;
if (!port) throw new Error('thread.ts must run in a worker thread');

let detector: Detector | undefined;
let blockMs = 0;
const send = (m: FromThread) => port.postMessage(m);

port.on('message', async (msg: ToThread) => {
  if (msg.type === 'init') {
    try {
      blockMs = msg.blockMs;
      await initBackend(msg.backend);
      detector = await Detector.load(fileModelHandler());
      const t0 = performance.now();
      await detector.warmUp();
      send({ type: 'ready', info: detector.info(), warmUpMs: performance.now() - t0 });
    } catch (err) {
      send({ type: 'init-failed', message: String((err as Error).stack ?? err) });
    }
    return;
  }
  if (!detector) {
    send({ type: 'failed', id: msg.id, message: 'model not loaded' });
    return;
  }
  try {
    if (blockMs > 0) busyWait(blockMs);
    const r = await detector.detect(msg.pixels, msg.original, msg.params);
    send({
      type: 'result',
      id: msg.id,
      detections: r.detections,
      inferenceMs: r.inferenceMs + blockMs,
      tiles: r.tiles,
      tileMs: r.tileMs,
    });
  } catch (err) {
    send({ type: 'failed', id: msg.id, message: String((err as Error).message ?? err) });
  }
});

/** Holds the thread like a slow CPU-bound model would (diagnostics and tests only). */
function busyWait(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // spin
  }
}
