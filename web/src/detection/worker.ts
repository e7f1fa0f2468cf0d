/**
 * The detection Web Worker: owns TensorFlow.js, so inference never runs on the page's thread.
 * It loads and warms the model once (the first task is as fast as the rest), then runs the
 * shared detector on images the page sends as ImageBitmaps (already EXIF-oriented).
 */
/// <reference lib="webworker" />
import * as tf from '@tensorflow/tfjs-core';
import { Detector } from '../../../shared/detector/detector.ts';
import { decodeSizeFor } from '../../../shared/detector/preprocess.ts';
import { decodeSizeForTiling } from '../../../shared/detector/tiling.ts';
import { type DeviceModel, modelKey } from './models.ts';
import type { DeviceBackend, FromWorker, GpuProbe, ToWorker } from './protocol.ts';

declare const self: DedicatedWorkerGlobalScope;

let detector: Detector | undefined;
let loading: Promise<FromWorker & { type: 'loaded' }> | undefined;
let loadingKey = '';

const send = (m: FromWorker, transfer: Transferable[] = []) => self.postMessage(m, transfer);

/** Photos running now, and the models replaced while they ran (disposed once none runs). */
let running = 0;
const retired: Detector[] = [];
function retire(d: Detector): void {
  if (running === 0) d.dispose();
  else retired.push(d);
}

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

async function probe(): Promise<GpuProbe> {
  // adapter.info is newer than the WebGPU typings in node_modules.
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } }).gpu;
  if (!gpu) return { webgpu: 'none', adapter: null };
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (!adapter) return { webgpu: 'none', adapter: null };
  const info = adapter.info ?? {};
  const name = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unknown';
  // A fallback adapter is a software rasteriser (SwiftShader): far slower than the server.
  const software = info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false;
  return { webgpu: software ? 'software' : 'hardware', adapter: name };
}

async function useBackend(name: DeviceBackend): Promise<boolean> {
  try {
    if (name === 'webgpu') await import('@tensorflow/tfjs-backend-webgpu');
    else if (name === 'webgl') await import('@tensorflow/tfjs-backend-webgl');
    else {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      // Versioned like the files the build emits (web/build/assets-plugin.ts).
      wasm.setWasmPaths(`/tfjs/${wasm.version_wasm}/`);
    }
    if (!(await tf.setBackend(name))) return false;
    await tf.ready();
    return tf.getBackend() === name;
  } catch {
    return false;
  }
}

/** Any manifest's model, from our origin (the service worker keeps each model and version for offline use). */
function loadModel(model: DeviceModel, onProgress?: (fraction: number) => void): Promise<Detector> {
  return Detector.load(model.manifest, `${model.url}${model.manifest.model}`, onProgress);
}

async function load(id: number, backends: DeviceBackend[], model: DeviceModel) {
  const started = performance.now();
  let chosen: DeviceBackend | undefined;
  for (const b of backends) {
    if (await useBackend(b)) {
      chosen = b;
      break;
    }
  }
  if (!chosen) throw new Error(`none of these backends works here: ${backends.join(', ')}`);
  const next = await loadModel(model, (fraction) => send({ type: 'progress', id, fraction, model: modelKey(model) }));
  const warmStart = performance.now();
  await next.warmUp();
  const warmUpMs = performance.now() - warmStart;
  const msPerPass = await timePass(next);
  // A photo may still be running on the model this one replaces (another model was chosen): it finishes first.
  if (detector) retire(detector);
  detector = next;
  return { type: 'loaded' as const, id, model: detector.info(), loadMs: warmStart - started, warmUpMs, msPerPass };
}

/**
 * A blank photo after the warm-up, through the same steps as a real one (bitmap → canvas → pixels →
 * model), timed: what a photo costs on this backend; it also readies those steps for the first photo.
 */
async function timePass(d: Detector): Promise<number> {
  const [w, h] = d.manifest.input.size;
  const blank = await createImageBitmap(new ImageData(w, h));
  const t0 = performance.now();
  await detectWith(d, blank, { min_score: 1, max_detections: 1, tiling: 'off' });
  return performance.now() - t0;
}

/** A throwaway worker's job: how fast one backend runs the model here (the page stops it when it is too slow). */
async function measure(id: number, backend: DeviceBackend, model: DeviceModel) {
  const started = performance.now();
  if (!(await useBackend(backend))) throw new Error(`${backend} does not work here`);
  const d = await loadModel(model);
  const warmStart = performance.now();
  await d.warmUp();
  const warmUpMs = performance.now() - warmStart;
  const msPerPass = Math.min(await timePass(d), await timePass(d));
  return { type: 'measured' as const, id, backend, msPerPass, loadMs: warmStart - started, warmUpMs };
}

/** `keepBitmap`: the bitmap is left open, to go back to the page; otherwise it is closed once drawn. */
async function detectWith(
  d: Detector,
  bitmap: ImageBitmap,
  params: Parameters<Detector['detect']>[2],
  keepBitmap = false,
) {
  const original = { width: bitmap.width, height: bitmap.height };
  // One draw: small for the whole pass alone, larger (bounded) when the photo will be tiled.
  const size = decodeSizeForTiling(
    bitmap.width,
    bitmap.height,
    params.tiling,
    decodeSizeFor(d.inputSize, bitmap.width, bitmap.height),
  );
  const canvas = new OffscreenCanvas(size.width, size.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('no 2D canvas in this worker');
  ctx.drawImage(bitmap, 0, 0, size.width, size.height);
  if (!keepBitmap) bitmap.close();
  const { data } = ctx.getImageData(0, 0, size.width, size.height);
  const r = await d.detect({ data, width: size.width, height: size.height, channels: 4 }, original, params);
  return { ...r, ...original };
}

self.onmessage = async (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  try {
    if (msg.type === 'probe') send({ type: 'probed', id: msg.id, probe: await probe() });
    else if (msg.type === 'load') {
      // The same backends again: the model loaded already. Others (a faster backend measured since): load anew.
      const key = `${msg.backends.join(',')} ${modelKey(msg.model)}`;
      if (!loading || loadingKey !== key) {
        loadingKey = key;
        loading = load(msg.id, msg.backends, msg.model);
      }
      send({ ...(await loading), id: msg.id });
    } else if (msg.type === 'measure') {
      send(await measure(msg.id, msg.backend, msg.model));
    } else {
      if (!detector) throw new Error('the model is not loaded');
      running++;
      const r = await detectWith(detector, msg.bitmap, msg.params, msg.keepBitmap).finally(() => {
        if (--running === 0) for (const d of retired.splice(0)) d.dispose();
      });
      const bitmap = msg.keepBitmap ? msg.bitmap : undefined;
      send(
        {
          type: 'detected',
          id: msg.id,
          detections: r.detections,
          inferenceMs: r.inferenceMs,
          width: r.width,
          height: r.height,
          tiles: r.tiles,
          tileMs: r.tileMs,
          bitmap,
        },
        bitmap ? [bitmap] : [],
      );
    }
  } catch (err) {
    if (msg.type === 'load') loading = undefined;
    if (msg.type === 'detect') msg.bitmap.close(); // kept for the page, but there is no answer to send it with
    send({ type: 'error', id: msg.id, message: (err as Error).message ?? String(err) });
  }
};
