/**
 * The page's state: everything the views show and the decisions read, in one immutable value with
 * one way to change it (`update`) and one way to follow it (`subscribe`). Nothing else in the page
 * keeps mutable state of its own: the tasks, the device, the routing inputs and the service-worker
 * bridge update this; the views (ui/) follow it and never write anything but user intents back.
 *
 * Changes replace what they change and keep the rest (the same object where nothing changed), so a
 * view compares identities to find what to redraw: a progress tick on one photo replaces that
 * photo's row and nothing else.
 */

import type { Stats, Task, Tiling, User } from '../../shared/contract.ts';
import type { Measurement } from './detection/backends.ts';
import type { DeviceModel } from './detection/models.ts';
import type { DeviceBackend, GpuProbe } from './detection/protocol.ts';
import type { HistoryEntry } from './history/db.ts';
import type { BatteryState, RouteMode } from './routing/rules.ts';

/**
 * A history row: the stored entry (its thumbnail once encoded: the row shows before it), and the
 * upload's progress while it is sent (0–1).
 */
export interface Row extends Omit<HistoryEntry, 'thumbnail'> {
  thumbnail?: Blob;
  progress?: number | undefined;
}

export interface DeviceState {
  /** What the GPU adapter is (null until asked). */
  probe: GpuProbe | null;
  /** The backend the detection worker runs now, its measured ms per model pass, and its threads (WebAssembly). */
  run: { backend: DeviceBackend; msPerPass: number; threads?: number | null } | null;
  /** Every backend measured so far (this visit, or stored from an earlier one). */
  measurement: Measurement | null;
  /** `stored`: the measurement was read from an earlier visit; `now`: measured on this visit. */
  measured: 'stored' | 'now' | null;
  /** Photos queued or running on the device. */
  ahead: number;
  /** When the device last had a photo (performance.now()): measuring waits for a quiet device. */
  busyAt: number;
  /** Load + warm-up of the model on this visit (ms). */
  readyMs: number | null;
  /** The model's download (0–1) while it is fetched; null when not downloading. */
  download: number | null;
  /** Why the device cannot run the model, when it cannot (null while it can, or is still loading). */
  failure: string | null;
  /** The model the device runs now (`id@version`), once loaded. */
  loaded?: string | null;
}

export interface RoutingState {
  /** The server's /stats and when it was read (the router wants it at most 3 s old). */
  stats: { value: Stats | null; at: number };
  /** Upload throughput measured on this device's earlier uploads (bytes/s), smoothed. */
  uploadBps: number | null;
  battery: BatteryState | null;
}

/** The Live view (web/src/live/): what its controls and status line show. Per-frame boxes are not here. */
export interface LiveState {
  phase: 'off' | 'starting' | 'running' | 'error';
  source: 'camera' | 'file' | null;
  /** The rate now and why (power.ts), once it runs. */
  rate: { text: string; reason: 'moving' | 'static' | 'battery' | 'hidden'; perSecond: number } | null;
  /** What stopped it or kept it from starting (no camera, permission denied, camera busy, backend lost). */
  error: { code: string; message: string } | null;
}

export interface Settings {
  route: RouteMode;
  tiling: Tiling;
  /** The model chosen in #model (remembered); absent: the default built-in. */
  model?: DeviceModel;
  minScore: number;
}

export interface AppState {
  /** True once the page has started (history read, device prepared): tests wait for it. */
  ready: boolean;
  user: User | null;
  settings: Settings;
  device: DeviceState;
  routing: RoutingState;
  live: LiveState;
  /** The history, by task id (views order it by creation, newest first). */
  rows: ReadonlyMap<string, Row>;
  /**
   * The result shown, and the decoded photo in hand for it when there is one (the bitmap the model
   * ran on, back from the worker: shown without a second decode).
   */
  open: { taskId: string; bitmap?: ImageBitmap } | null;
  /**
   * The task whose result takes the view as soon as it is ready: the photo just chosen (an album's
   * first). Cleared when the user opens another, so a task finishing never takes the view from it.
   */
  featured: string | null;
  /**
   * A message for the status line (an error, what "Notify me" did). Shown while what the status line
   * otherwise describes is as it was when the message came (`context`, see statusContext).
   */
  notice: { text: string; context: string } | null;
  /** The login dialog is wanted (a server task needs a login). */
  loginWanted: boolean;
}

export type Listener = (state: AppState, previous: AppState) => void;

export interface Store {
  get(): AppState;
  /** Applies a change; listeners run once, after it, with the new and the previous state. */
  update(change: (state: AppState) => AppState): void;
  subscribe(listener: Listener): () => void;
}

export function initialState(settings: Settings): AppState {
  return {
    ready: false,
    user: null,
    settings,
    device: {
      probe: null,
      run: null,
      measurement: null,
      measured: null,
      ahead: 0,
      busyAt: Number.NEGATIVE_INFINITY,
      readyMs: null,
      download: null,
      failure: null,
    },
    routing: { stats: { value: null, at: 0 }, uploadBps: null, battery: null },
    live: { phase: 'off', source: null, rate: null, error: null },
    rows: new Map(),
    open: null,
    featured: null,
    notice: null,
    loginWanted: false,
  };
}

export function createStore(initial: AppState): Store {
  let state = initial;
  const listeners = new Set<Listener>();
  return {
    get: () => state,
    update(change) {
      const previous = state;
      const next = change(state);
      if (next === previous) return;
      state = next;
      for (const l of listeners) l(state, previous);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

// ---- changes: pure functions of the state, composed by the modules that own each concept ----

export function withDevice(s: AppState, change: Partial<DeviceState>): AppState {
  return { ...s, device: { ...s.device, ...change } };
}

export function withLive(s: AppState, change: Partial<LiveState>): AppState {
  return { ...s, live: { ...s.live, ...change } };
}

export function withRouting(s: AppState, change: Partial<RoutingState>): AppState {
  return { ...s, routing: { ...s.routing, ...change } };
}

/**
 * What the status line describes (the mode, the login, the device's backend and measurement): a
 * notice given in one context gives way to the description once this changes.
 */
export function statusContext(s: AppState): string {
  const d = s.device;
  return [s.settings.route, s.user?.id ?? '', d.run?.backend ?? '', d.measurement?.results.length ?? 0, d.failure].join(
    '|',
  );
}

export function withNotice(s: AppState, text: string): AppState {
  return { ...s, notice: { text, context: statusContext(s) } };
}

/** Sets (or with `undefined`, removes) one row, keeping every other row object as it was. */
export function withRow(s: AppState, id: string, row: Row | undefined): AppState {
  const rows = new Map(s.rows);
  if (row) rows.set(id, row);
  else rows.delete(id);
  const gone = !row;
  return {
    ...s,
    rows,
    open: gone && s.open?.taskId === id ? null : s.open,
    featured: gone && s.featured === id ? null : s.featured,
  };
}

/** Changes one row if it exists. */
export function changeRow(s: AppState, id: string, change: (row: Row) => Row): AppState {
  const row = s.rows.get(id);
  return row ? withRow(s, id, change(row)) : s;
}

export function withTask(s: AppState, task: Task): AppState {
  return changeRow(s, task.task_id, (row) => ({ ...row, task }));
}

/** The history rows, newest first. */
export function rowsNewestFirst(rows: ReadonlyMap<string, Row>): Row[] {
  return [...rows.values()].sort((a, b) => compareNewestFirst(a.task, b.task));
}

export function compareNewestFirst(a: Task, b: Task): number {
  return a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : a.task_id < b.task_id ? 1 : -1;
}
