/**
 * One task on this device: the backend measured fastest here, then the next fastest if it fails
 * or does not answer in time. Ends with the result, or refused (no backend left) for the
 * dispatcher to send on. Imports no DOM and no other runner: the device is an interface.
 */
import type { Task } from '../../../shared/contract.ts';
import { modelPasses } from '../../../shared/detector/tiling.ts';
import { rerouted, succeedTask } from '../../../shared/task-lifecycle.ts';
import { BACKEND_NAMES } from '../detection/backends.ts';
import type { DeviceEngine } from '../detection/device.ts';
import type { DeviceBackend } from '../detection/protocol.ts';
import type { RunOutcome } from './outcome.ts';

export interface DeviceRunOptions {
  engine: DeviceEngine;
  /** Whether the task could go elsewhere if the device fails (the server, when logged in). */
  serverAvailable: boolean;
  /** The result view waits for this task: the decoded photo comes back with the answer. */
  keepBitmap: boolean;
}

/** No answer in this many times the measured time counts as a failure (a lost device, a hung driver)… */
export const TIMEOUT_FACTOR = 10;
/** …but never sooner than this. */
export const MIN_TIMEOUT_MS = 2000;

/** `task`: running on the device. `photo`: the file, and its decode when in hand (the first try takes it). */
export async function runOnDevice(
  task: Task,
  photo: { file: Blob; bitmap?: ImageBitmap | undefined },
  opts: DeviceRunOptions,
): Promise<RunOutcome> {
  const { engine } = opts;
  let current = task;
  let source: Blob | ImageBitmap = photo.bitmap ?? photo.file;
  const tried: DeviceBackend[] = [];
  for (;;) {
    const run = engine.current();
    if (!run) {
      (source as Partial<ImageBitmap>).close?.();
      return { kind: 'refused', task: current, reason: 'this device cannot run the model', code: 'inference_failed' };
    }
    tried.push(run.backend);
    // With nowhere to fall back to (no other backend, no server), a slow answer still beats none: wait.
    const passes = modelPasses(task.image.width, task.image.height, task.params.tiling);
    const limit =
      opts.serverAvailable || engine.hasAlternative()
        ? Math.max(MIN_TIMEOUT_MS, TIMEOUT_FACTOR * run.msPerPass * passes)
        : null;
    const timer = limit === null ? null : deadline(limit);
    const input = source;
    // A retry (another backend) decodes the file again: the bitmap went to the worker.
    source = photo.file;
    try {
      const r = await engine.detect(input, task.params, { signal: timer?.signal, keepBitmap: opts.keepBitmap });
      return { kind: 'done', task: succeedTask(current, r), display: r.bitmap };
    } catch (err) {
      const why = `${BACKEND_NAMES[run.backend]} failed (${timer?.signal.aborted ? timer.signal.reason.message : (err as Error).message})`;
      const next = await engine.fallBack(tried);
      if (!next) return { kind: 'refused', task: current, reason: why, code: 'inference_failed' };
      current = { ...current, route: rerouted(current.route, 'device', `${why}; ${BACKEND_NAMES[next]} next`) };
    } finally {
      timer?.clear();
    }
  }
}

/** An abort signal that fires after `ms`, saying so. */
function deadline(ms: number): { signal: AbortSignal; clear(): void } {
  const c = new AbortController();
  const t = setTimeout(() => c.abort(new Error(`no answer from the model in ${Math.round(ms)} ms`)), ms);
  return { signal: c.signal, clear: () => clearTimeout(t) };
}
