/** The page's handle on the detection worker: promise-based calls, one worker for the page's life. */
import type { Detection, DetectParams, ModelInfo } from '../../../shared/contract.ts';
import { type DeviceModel, modelKey } from './models.ts';
import type { DeviceBackend, FromWorker, GpuProbe, ToWorker } from './protocol.ts';

type Reply<T extends FromWorker['type']> = Extract<FromWorker, { type: T }>;
type Request = ToWorker extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export class DetectionClient {
  private worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'detection' });
  private nextId = 1;
  private pending = new Map<number, (m: FromWorker) => void>();
  private loaded: Promise<Reply<'loaded'>> | undefined;
  private loadedWith: string | undefined;
  /** The model's download, 0–1, while a load fetches it (the page shows a progress bar). */
  onProgress: ((fraction: number) => void) | undefined;

  constructor() {
    this.worker.onmessage = (e: MessageEvent<FromWorker>) => {
      if (e.data.type === 'progress') {
        this.onProgress?.(e.data.fraction);
        return;
      }
      this.pending.get(e.data.id)?.(e.data);
      this.pending.delete(e.data.id);
    };
  }

  private call<T extends FromWorker['type']>(req: Request, transfer: Transferable[] = []): Promise<Reply<T>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (m) => (m.type === 'error' ? reject(new Error(m.message)) : resolve(m as Reply<T>)));
      this.worker.postMessage({ ...req, id }, transfer);
    });
  }

  probe(): Promise<GpuProbe> {
    return this.call<'probed'>({ type: 'probe' }).then((m) => m.probe);
  }

  /** Loads `model` (once) with the first backend of the list that works here. */
  load(backends: DeviceBackend[], model: DeviceModel): Promise<Reply<'loaded'>> {
    const key = `${backends.join(',')} ${modelKey(model)}`;
    if (!this.loaded || this.loadedWith !== key) {
      this.loadedWith = key;
      this.loaded = this.call<'loaded'>({ type: 'load', backends, model });
    }
    return this.loaded;
  }

  /**
   * Measures one backend in a throwaway worker, so the photos keep running on this one meanwhile.
   * Stopped (terminated) after `budgetMs`: a backend that slow has lost already. Null when it
   * failed or was stopped.
   */
  static measure(backend: DeviceBackend, budgetMs: number, model: DeviceModel): Promise<Reply<'measured'> | null> {
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: `measure-${backend}` });
    return new Promise<Reply<'measured'> | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), budgetMs);
      worker.onmessage = (e: MessageEvent<FromWorker>) => {
        clearTimeout(timer);
        resolve(e.data.type === 'measured' ? e.data : null);
      };
      worker.onerror = () => {
        clearTimeout(timer);
        resolve(null);
      };
      worker.postMessage({ type: 'measure', id: 1, backend, model } satisfies ToWorker);
    }).finally(() => worker.terminate());
  }

  /**
   * `image`: the photo, or its bitmap already decoded (EXIF-oriented; transferred to the worker, so
   * the caller no longer has it). `timeoutMs`: no answer by then counts as a failure (the caller falls back).
   */
  async detect(
    image: Blob | ImageBitmap,
    params: DetectParams,
    timeoutMs = Number.POSITIVE_INFINITY,
    keepBitmap = false,
  ): Promise<{
    detections: Detection[];
    inferenceMs: number;
    width: number;
    height: number;
    model: ModelInfo;
    tiles: number;
    tileMs: number | null;
    /** With `keepBitmap`: the photo decoded (EXIF-oriented), back from the worker; the caller closes it. */
    bitmap?: ImageBitmap;
  }> {
    if (!this.loaded) throw new Error('load the model first');
    const { model } = await this.loaded;
    // createImageBitmap applies EXIF orientation, as the server does.
    const bitmap =
      image instanceof ImageBitmap ? image : await createImageBitmap(image, { imageOrientation: 'from-image' });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      if (Number.isFinite(timeoutMs))
        timer = setTimeout(
          () => reject(new Error(`no answer from the model in ${Math.round(timeoutMs)} ms`)),
          timeoutMs,
        );
    });
    const r = await Promise.race([
      this.call<'detected'>({ type: 'detect', bitmap, params, keepBitmap }, [bitmap]),
      late,
    ]).finally(() => clearTimeout(timer));
    return {
      detections: r.detections,
      inferenceMs: r.inferenceMs,
      width: r.width,
      height: r.height,
      model,
      tiles: r.tiles,
      tileMs: r.tileMs,
      bitmap: r.bitmap,
    };
  }
}
