/**
 * Which TensorFlow.js backend runs the model fastest on this device, measured with the model itself
 * (never guessed from "has a GPU": a software WebGPU or WebGL adapter is 50–80× slower than
 * WebAssembly on the same CPU), and remembered per device, browser and model version in IndexedDB
 * so that a later visit loads only the winner.
 *
 * First visit: the likely winner (WebGPU on a hardware adapter, else WebAssembly) is loaded in the
 * detection worker and timed there, so the first photo runs at once; the other candidates are then
 * measured one by one in throwaway workers, each stopped as soon as it has taken longer than
 * STOP_FACTOR × the best time so far (it has lost whatever it would measure).
 */
import { type DBSchema, openDB } from 'idb';
import { type DeviceModel, modelKey } from './models.ts';
import { type DeviceBackend, type GpuProbe, wasmThreadsFor } from './protocol.ts';

export interface BackendResult {
  backend: DeviceBackend;
  /** ms per model pass after warm-up; null when it failed or was stopped. */
  msPerPass: number | null;
  /** 'stopped': slower than the best by far, measuring ended early; 'failed': it does not run here. */
  note?: 'stopped' | 'failed';
  /** How long measuring it took (to the stop, for a stopped one). */
  elapsedMs: number;
  /** One layer of the model's kind, run on it (ms, compiled): the cheap first round (see LAYER_STOP_FACTOR). */
  layerMs?: number;
  /** WebAssembly: the threads it ran with (tf.wasm.getThreadsCount()). */
  threads?: number | null;
}

export interface Measurement {
  key: string;
  measuredAt: number;
  results: BackendResult[];
}

/** A record older than this is used at once, then measured again in the background. */
export const MAX_AGE_MS = 7 * 24 * 3600 * 1000;
/** A candidate still loading or warming up after this many times the best per-pass time is stopped. */
export const STOP_FACTOR = 10;
/** …but never before this (loading the model and compiling kernels takes a moment on any backend). */
export const MIN_BUDGET_MS = 3000;
/**
 * A candidate first runs one layer like the model's (one conv2d, compiled, timed); if that takes more
 * than this many times what it takes on the best backend so far, it is stopped there: it cannot win.
 * Why a first round: a software GPU adapter (SwiftShader, where there is no GPU) compiles the whole
 * model's shaders in the browser's GPU process, tens of seconds that terminating the worker does not
 * stop and that freeze the page's display meanwhile; one layer is one shader.
 */
export const LAYER_STOP_FACTOR = 3;

export const BACKEND_NAMES: Record<DeviceBackend, string> = {
  wasm: 'WebAssembly',
  'wasm-threads': 'WebAssembly',
  webgl: 'WebGL',
  webgpu: 'WebGPU',
};

interface DeviceDb extends DBSchema {
  measurements: { key: string; value: Measurement };
}

const db = () =>
  openDB<DeviceDb>('twinlens-device', 1, {
    upgrade(d) {
      d.createObjectStore('measurements', { keyPath: 'key' });
    },
  });

/** What identifies a measurement: this browser on this device (GPU adapter) and the model's version. */
export function deviceKey(probe: GpuProbe, model: Pick<DeviceModel, 'manifest'>): string {
  return [navigator.userAgent, probe.adapter ?? 'no-webgpu', probe.renderer ?? 'no-webgl', modelKey(model)].join(' | ');
}

/**
 * Whether a backend runs on a software rasteriser here (a WebGPU fallback adapter, a WebGL renderer
 * such as SwiftShader or llvmpipe): the CPU pretending to be a GPU. Still measured, but only after a
 * long idle spell (see SOFTWARE_QUIET_MS): its shaders compile in the browser's GPU process, work
 * that stopping the measuring worker does not stop.
 */
export function isSoftware(probe: GpuProbe, backend: DeviceBackend): boolean {
  return (backend === 'webgpu' && probe.webgpu === 'software') || (backend === 'webgl' && probe.webgl === 'software');
}

export async function loadMeasurement(key: string): Promise<Measurement | undefined> {
  return (await db()).get('measurements', key).catch(() => undefined);
}

export async function saveMeasurement(m: Measurement): Promise<void> {
  await (await db()).put('measurements', m);
}

/**
 * The backends this browser offers, the likely winner first and software rasterisers last. WebAssembly
 * on threads (`wasm-threads`) only where the page is cross-origin isolated and has a second core; it
 * comes after one thread (the known quantity, loaded first) and wins only if measured faster.
 */
export function candidates(probe: GpuProbe, only?: DeviceBackend[]): DeviceBackend[] {
  const offered: DeviceBackend[] = probe.webgpu === 'hardware' ? ['webgpu', 'wasm'] : ['wasm'];
  if (probe.isolated && wasmThreadsFor(probe.cores) !== null) offered.push('wasm-threads');
  if (probe.webgl === 'hardware') offered.push('webgl');
  if (probe.webgpu === 'software') offered.push('webgpu');
  if (probe.webgl === 'software') offered.push('webgl');
  return only?.length ? offered.filter((b) => only.includes(b)) : offered;
}

/** Fastest first; those that did not finish last. */
export function ranked(results: BackendResult[]): BackendResult[] {
  return [...results].sort(
    (a, b) => (a.msPerPass ?? Number.POSITIVE_INFINITY) - (b.msPerPass ?? Number.POSITIVE_INFINITY),
  );
}

export function winner(m: Pick<Measurement, 'results'>): BackendResult | undefined {
  const best = ranked(m.results)[0];
  return best?.msPerPass != null ? best : undefined;
}

const fmt = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

/** " on 2 threads" for WebAssembly when the measurement has both kinds (one thread and threads), else "". */
function threadsNote(r: BackendResult, both: boolean): string {
  if (r.backend === 'wasm-threads') return r.threads ? ` on ${r.threads} threads` : ' on threads';
  return r.backend === 'wasm' && both ? ' on 1 thread' : '';
}

/**
 * "WebAssembly, 118 ms per photo; WebGPU stopped after 3.0 s; WebGL 2.8 s", or with threads:
 * "WebAssembly, 92 ms per photo on 2 threads; WebAssembly 170 ms on 1 thread; …"
 */
export function describeMeasurement(m: Pick<Measurement, 'results'>): string {
  const both = m.results.some((r) => r.backend === 'wasm-threads');
  return ranked(m.results)
    .map((r, i) => {
      const name = BACKEND_NAMES[r.backend];
      const threads = threadsNote(r, both);
      if (r.msPerPass !== null)
        return i === 0 ? `${name}, ${fmt(r.msPerPass)} per photo${threads}` : `${name} ${fmt(r.msPerPass)}${threads}`;
      if (r.backend === 'wasm-threads') {
        return r.note === 'stopped'
          ? `${name}${threads} stopped after ${fmt(r.elapsedMs)} (slower)`
          : `${name} on threads does not run here`;
      }
      return r.note === 'stopped' ? `${name} stopped after ${fmt(r.elapsedMs)} (slower)` : `${name} does not run here`;
    })
    .join('; ');
}

/** How measuring one candidate ended: its time, or why there is none. */
export type MeasureOutcome =
  | { msPerPass: number; layerMs?: number; threads?: number | null }
  /** Its one layer was far slower than on the best backend: stopped after that first round. */
  | { slowerLayerMs: number }
  /** It ran out of its budget (slower than the best by far): recorded as such. */
  | 'stopped'
  /** It does not run here. */
  | 'failed'
  /** A photo arrived and took the device: not recorded; measured again once the device is quiet. */
  | 'preempted';

/**
 * Measures the backends not measured yet, one at a time, each with a budget set by the best so
 * far; calls `onResult` after each (so a faster backend is used as soon as it is known).
 * `quiet`: resolves when the device has no photo to run; each candidate waits for it, since
 * measuring one takes seconds of CPU that the user's photos would otherwise share. A candidate
 * preempted by a photo is measured again after the next quiet spell (at most `MAX_PREEMPTIONS` times).
 */
export async function measureRest(
  todo: DeviceBackend[],
  known: BackendResult[],
  measure: (b: DeviceBackend, budgetMs: number, layerLimitMs: number | null) => Promise<MeasureOutcome>,
  onResult: (results: BackendResult[]) => Promise<void> | void,
  quiet: (b: DeviceBackend) => Promise<void> = async () => undefined,
): Promise<BackendResult[]> {
  const results = [...known];
  for (const backend of todo) {
    for (let attempt = 0; ; attempt++) {
      await quiet(backend);
      const best = winner({ results });
      const budget = best ? Math.max(MIN_BUDGET_MS, STOP_FACTOR * best.msPerPass!) : 120_000;
      const layerLimit = best?.layerMs != null ? LAYER_STOP_FACTOR * best.layerMs : null;
      const started = performance.now();
      const r = await measure(backend, budget, layerLimit);
      const elapsedMs = performance.now() - started;
      if (r === 'preempted' && attempt < MAX_PREEMPTIONS) continue;
      results.push(
        typeof r !== 'object'
          ? { backend, msPerPass: null, note: r === 'failed' ? 'failed' : 'stopped', elapsedMs }
          : 'slowerLayerMs' in r
            ? { backend, msPerPass: null, note: 'stopped', elapsedMs, layerMs: r.slowerLayerMs }
            : {
                backend,
                msPerPass: r.msPerPass,
                elapsedMs,
                ...(r.layerMs === undefined ? {} : { layerMs: r.layerMs }),
                ...(r.threads == null ? {} : { threads: r.threads }),
              },
      );
      await onResult(results);
      break;
    }
  }
  return results;
}

/** A candidate preempted this often is recorded as stopped: a device this busy keeps the backend it has. */
export const MAX_PREEMPTIONS = 20;
