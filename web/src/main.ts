/**
 * The page: routes each photo to where its result comes sooner — this device, on the backend
 * measured fastest here, or the server queue — keeps every task in the history, and shows
 * results. The model never runs on this thread. The rules are in routing/rules.ts, the
 * measurement in detection/backends.ts.
 */
import './zod-jitless.ts';
import { Workbox } from 'workbox-window';
import type { RouteDecision, Stats, Task, Tiling, User } from '../../shared/contract.ts';
import { modelPasses } from '../../shared/detector/tiling.ts';
import { toCoco } from '../../shared/export/coco.ts';
import { toCsv } from '../../shared/export/csv.ts';
import {
  BACKEND_NAMES,
  type BackendResult,
  candidates,
  describeMeasurement,
  deviceKey,
  loadMeasurement,
  MAX_AGE_MS,
  type Measurement,
  measureRest,
  ranked,
  saveMeasurement,
  winner,
} from './detection/backends.ts';
import { DetectionClient } from './detection/client.ts';
import {
  chosenModel,
  type DeviceModel,
  fetchModels,
  knownModels,
  modelKey,
  rememberModel,
} from './detection/models.ts';
import type { DeviceBackend, GpuProbe } from './detection/protocol.ts';
import { type BatteryState, decideRoute, type RouteInput, splitAlbum } from './routing/rules.ts';
import { ApiError, followTask, getStats, login, logout, me, uploadTaskWithProgress } from './server/api.ts';
import { SYNC_TAG, uploadPending } from './server/pending.ts';
import { enablePush } from './server/push.ts';
import {
  changeEntry,
  clearHistory,
  deleteEntry,
  exportJson,
  getEntry,
  type HistoryEntry,
  later,
  listEntries,
  putEntry,
  updateTask,
} from './store.ts';
import type { ServiceWorkerMessage } from './sw-messages.ts';
import { newTask, openPhoto } from './tasks/image.ts';
import { markRow, renderHistory } from './ui/history-view.ts';
import { describeWhere, drawResult } from './ui/result-view.ts';

type Route = 'auto' | 'device' | 'server';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const el = {
  route: $<HTMLSelectElement>('route'),
  tiling: $<HTMLSelectElement>('tiling'),
  model: $<HTMLSelectElement>('model'),
  where: $('where'),
  account: $('account'),
  drop: $('drop'),
  files: $<HTMLInputElement>('files'),
  camera: $<HTMLInputElement>('camera'),
  history: $<HTMLUListElement>('history'),
  empty: $('history-empty'),
  result: $('result'),
  resultTitle: $('result-title'),
  resultCanvas: $<HTMLCanvasElement>('result-canvas'),
  resultMeta: $('result-meta'),
  resultList: $<HTMLOListElement>('result-list'),
  minScore: $<HTMLInputElement>('min-score'),
  minScoreValue: $<HTMLOutputElement>('min-score-value'),
  login: $<HTMLDialogElement>('login'),
  loginForm: $<HTMLFormElement>('login-form'),
  loginError: $('login-error'),
};

const detection = new DetectionClient();
// The model's weights (~4 MB) on a first visit or after an update: a progress bar; the page stays usable.
const modelProgress = $<HTMLProgressElement>('model-progress');
detection.onProgress = (fraction) => {
  modelProgress.hidden = fraction >= 1;
  modelProgress.value = fraction;
  modelProgress.dataset.last = String(fraction);
  if (fraction < 1) el.where.textContent = `Downloading the model: ${Math.round(fraction * 100)} %`;
};
const progress = new Map<string, number>();
let user: User | null = null;
let probe: GpuProbe = { webgpu: 'none', adapter: null };
let openTaskId: string | null = null;
/**
 * The task whose result the view shows as soon as it is ready: the photo just chosen (the first of an
 * album). Cleared when the user opens another result, so a finishing task never takes the view from it.
 */
let featured: string | null = null;
/** What the detection worker runs now, and how fast (ms per model pass, measured here). */
let deviceRun: { backend: DeviceBackend; msPerPass: number } | null = null;
let measurement: Measurement | null = null;
/** Photos queued or running on the device; each waits for the one before (one model, one worker). */
let deviceAhead = 0;
let deviceQueue: Promise<unknown> = Promise.resolve();
/** When the device last had a photo to run (performance.now()). */
let deviceBusyAt = Number.NEGATIVE_INFINITY;
/** Background measurement starts a candidate only after this long without a photo on the device. */
const QUIET_MS = 2000;

function deviceQuiet(): Promise<void> {
  return new Promise((resolve) => {
    const check = () =>
      deviceAhead === 0 && performance.now() - deviceBusyAt >= QUIET_MS ? resolve() : setTimeout(check, 250);
    check();
  });
}

// ---- settings and status -------------------------------------------------------------------

function route(): Route {
  return el.route.value as Route;
}

el.route.value = localStorage.getItem('twinlens.route') ?? 'auto';
el.tiling.value = localStorage.getItem('twinlens.tiling') ?? 'auto';
el.tiling.addEventListener('change', () => localStorage.setItem('twinlens.tiling', el.tiling.value));
const tiling = (): Tiling => (el.tiling.value === 'off' ? 'off' : 'auto');
el.route.addEventListener('change', () => {
  localStorage.setItem('twinlens.route', route());
  describeRoute();
});

// ---- the model: chosen beside Tiles, remembered; each is measured, loaded and cached on its own ----

let models = knownModels();
let model: DeviceModel = chosenModel(models);
function showModels(): void {
  el.model.replaceChildren(
    ...models.models.map((m) => {
      const o = document.createElement('option');
      o.value = m.manifest.id;
      o.textContent = m.manifest.title;
      o.title = `${m.manifest.id} ${m.manifest.version} · ${m.manifest.license}`;
      return o;
    }),
  );
  el.model.value = model.manifest.id;
  el.model.dataset.model = modelKey(model);
}
showModels();
// The server's list names the operator's models too (and works logged out); kept for offline visits.
void fetchModels().then((fetched) => {
  if (!fetched) return;
  models = fetched;
  const again = chosenModel(models);
  const changed = modelKey(again) !== modelKey(model);
  model = again;
  showModels();
  if (changed && document.body.dataset.ready === 'true') switchModel();
});
el.model.addEventListener('change', () => {
  rememberModel(el.model.value);
  model = chosenModel(models);
  el.model.dataset.model = modelKey(model);
  switchModel();
});
/** The chosen model on the device: after the photos already on their way (each keeps the model it started with). */
function switchModel(): void {
  const next = deviceQueue.then(() =>
    prepareDevice().catch((err) => {
      el.where.textContent = `This device cannot run ${model.manifest.title}: ${(err as Error).message}`;
    }),
  );
  deviceQueue = next;
}

// Diagnostics and benchmarks: `?backends=wasm` (or webgl, webgpu) narrows "On this device".
const onlyBackends = new URLSearchParams(location.search)
  .get('backends')
  ?.split(',')
  .filter((b): b is DeviceBackend => b === 'webgpu' || b === 'webgl' || b === 'wasm');

/** Loads the backend measured fastest here (or the likely winner on a first visit), then measures the rest. */
async function prepareDevice(): Promise<void> {
  const key = deviceKey(probe, model);
  const offered = candidates(probe, onlyBackends);
  const stored = await loadMeasurement(key);
  const known = stored ? winner(stored) : undefined;
  const order =
    known && offered.includes(known.backend) ? [known.backend, ...offered.filter((b) => b !== known.backend)] : offered;
  el.where.textContent = `Loading ${model.manifest.title} on this device…`;
  el.where.dataset.model = modelKey(model);
  for (const backend of order) {
    try {
      const loaded = await detection.load([backend], model);
      deviceRun = { backend, msPerPass: loaded.msPerPass };
      el.where.dataset.readyMs = String(Math.round(loaded.loadMs + loaded.warmUpMs));
      break;
    } catch {
      // Not here after all: the next one.
    }
  }
  // Which model the device runs now (tests and benches wait for it after choosing one).
  if (deviceRun) el.where.dataset.loaded = modelKey(model);
  const fresh =
    stored &&
    Date.now() - stored.measuredAt < MAX_AGE_MS &&
    offered.every((b) => stored.results.some((r) => r.backend === b));
  if (fresh) {
    measurement = stored;
    el.where.dataset.measured = 'stored';
    describeRoute();
    return;
  }
  const first: BackendResult[] = deviceRun
    ? [{ backend: deviceRun.backend, msPerPass: deviceRun.msPerPass, elapsedMs: 0 }]
    : [];
  measurement = { key, measuredAt: Date.now(), results: first };
  describeRoute();
  void measureOthers(key, offered, first);
}

/** The other backends in throwaway workers, while photos run on the detection worker; a faster one is used at once. */
async function measureOthers(key: string, offered: DeviceBackend[], first: BackendResult[]): Promise<void> {
  const todo = offered.filter((b) => !first.some((r) => r.backend === b));
  const measuring = model;
  const results = await measureRest(
    todo,
    first,
    (b, budget) => DetectionClient.measure(b, budget, measuring),
    async (rs) => {
      // Another model was chosen meanwhile: this one's results are still kept, for when it is chosen again.
      if (modelKey(model) !== modelKey(measuring)) return;
      measurement = { key, measuredAt: Date.now(), results: rs };
      const best = winner(measurement);
      if (
        best?.msPerPass != null &&
        deviceRun &&
        best.backend !== deviceRun.backend &&
        best.msPerPass < deviceRun.msPerPass
      ) {
        const loaded = await detection.load([best.backend], measuring);
        deviceRun = { backend: best.backend, msPerPass: loaded.msPerPass };
      }
      describeRoute();
    },
    deviceQuiet,
  );
  await saveMeasurement({ key, measuredAt: Date.now(), results });
  if (modelKey(model) === modelKey(measuring)) el.where.dataset.measured = 'now';
}

function describeRoute(): void {
  el.where.dataset.route = route();
  if (route() === 'server') {
    el.where.textContent = `Photos go to the server (as chosen).${user ? '' : ' Log in to use it.'}`;
    return;
  }
  if (!deviceRun) {
    el.where.dataset.backend = 'none';
    el.where.textContent = user
      ? 'This device cannot run the model: photos go to the server.'
      : 'This device cannot run the model: log in to send photos to the server.';
    return;
  }
  el.where.dataset.backend = deviceRun.backend;
  const measured = measurement ? describeMeasurement(measurement) : BACKEND_NAMES[deviceRun.backend];
  const how =
    route() === 'device'
      ? 'On this device'
      : user
        ? 'Auto: each photo goes where its result comes sooner'
        : 'Auto: on this device (log in to let the server share the work)';
  el.where.textContent = `${how} · ${model.manifest.title} · ${measured}.`;
}

// ---- routing inputs: the server's queue, the network, the battery ----------------------------

let stats: { value: Stats | null; at: number } = { value: null, at: 0 };
async function freshStats(): Promise<Stats | null> {
  if (Date.now() - stats.at > 3000) stats = { value: await getStats().catch(() => null), at: Date.now() };
  return stats.value;
}

/** The server's figures for the chosen model (its own queue, workers and inference time), as the router reads them. */
function forModel(s: Stats | null): Stats | null {
  const m = s?.models?.find((x) => x.model === model.manifest.id);
  if (!s || !m) return s;
  return {
    ...s,
    queue: { waiting: m.waiting, active: m.active, delayed: m.delayed },
    workers: m.workers,
    mean_inference_ms: m.mean_inference_ms,
    estimated_wait_ms: m.estimated_wait_ms,
  };
}

/** Upload throughput (bytes/s) measured on this device's earlier uploads, smoothed. */
let uploadBps = Number(localStorage.getItem('twinlens.uploadBps')) || null;
function recordUpload(bytes: number, ms: number): void {
  if (ms <= 0 || bytes < 10_000) return;
  const bps = (bytes / ms) * 1000;
  uploadBps = uploadBps ? 0.7 * uploadBps + 0.3 * bps : bps;
  localStorage.setItem('twinlens.uploadBps', String(Math.round(uploadBps)));
}

interface NetworkInformationLike {
  downlink?: number;
  rtt?: number;
  saveData?: boolean;
  effectiveType?: string;
}
let battery: BatteryState | null = null;
void (navigator as Navigator & { getBattery?: () => Promise<BatteryState & EventTarget> })
  .getBattery?.()
  .then((b) => {
    const read = () => (battery = { level: b.level, charging: b.charging });
    read();
    b.addEventListener('levelchange', read);
    b.addEventListener('chargingchange', read);
  })
  .catch(() => undefined);

/** `passes`: model passes the photo needs (1, or 1 + its tiles): the device and the server both pay them. */
async function routeInput(bytes: number, passes = 1): Promise<RouteInput> {
  const conn = (navigator as Navigator & { connection?: NetworkInformationLike }).connection;
  // The browser's downlink estimate (Mbit/s) as the first guess for the uplink, until an upload is
  // measured (then the measurement, which learns a fast link at the first upload).
  const guess = conn?.downlink ? (conn.downlink * 1e6) / 8 : null;
  return {
    mode: route(),
    loggedIn: user !== null,
    bytes,
    passes,
    device: { msPerPass: deviceRun?.msPerPass ?? null, backend: deviceRun?.backend ?? null, ahead: deviceAhead },
    stats: user && route() === 'auto' ? forModel(await freshStats()) : null,
    network: {
      uploadBytesPerSec: uploadBps ?? guess,
      rttMs: conn?.rtt ?? 50,
      saveData: conn?.saveData ?? false,
      effectiveType: conn?.effectiveType ?? null,
    },
    battery,
  };
}

async function refreshAccount(): Promise<void> {
  user = await me().catch(() => user);
  el.account.replaceChildren();
  const button = document.createElement('button');
  button.className = 'button';
  button.type = 'button';
  if (user) {
    el.account.append(`${user.username} `);
    if ('Notification' in window && Notification.permission !== 'denied') {
      const notify = document.createElement('button');
      notify.className = 'button';
      notify.type = 'button';
      notify.textContent = 'Notify me';
      notify.title = 'Get a notification when a server task finishes, even with this page closed';
      notify.onclick = async () => {
        el.where.textContent = await enablePush();
      };
      el.account.append(notify);
    }
    button.textContent = 'Log out';
    button.onclick = async () => {
      await logout();
      user = null;
      await refreshAccount();
    };
  } else {
    button.textContent = 'Log in';
    button.onclick = () => el.login.showModal();
  }
  el.account.append(button);
}

el.loginForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const data = new FormData(el.loginForm);
  try {
    user = await login(String(data.get('username')), String(data.get('password')));
    el.loginError.textContent = '';
    el.login.close();
    await refreshAccount();
    describeRoute();
    await sendPending();
  } catch (err) {
    el.loginError.textContent = (err as Error).message;
  }
});
$('login-cancel').addEventListener('click', () => el.login.close());

// ---- history and result ---------------------------------------------------------------------

const rowActions = {
  open: (id: string) => {
    featured = null;
    void openResult(id);
  },
  remove: async (id: string) => {
    await deleteEntry(id);
    // A photo deleted while the model runs on it: its result does not take the view when it comes.
    if (featured === id) featured = null;
    if (openTaskId === id) closeResult();
    await refresh();
  },
};

/**
 * Re-renders the history, and the open result when `changed` is its task (or undefined: any task may
 * have changed); `null`: the list only.
 */
async function refresh(changed?: string | null): Promise<void> {
  const entries = await listEntries();
  el.empty.hidden = entries.length > 0;
  renderHistory(el.history, entries, progress, rowActions, Number(el.minScore.value));
  if (openTaskId && (changed === undefined || changed === openTaskId)) await showResult(openTaskId);
}

/** `task` and `image`: what the caller has in hand already (no IndexedDB read, no second decode). */
async function showResult(id: string, shown?: { task: Task; image: Blob | ImageBitmap }): Promise<void> {
  const entry = shown ?? (await getEntry(id));
  if (!entry) return closeResult();
  const t = entry.task;
  const min = Number(el.minScore.value);
  const found = t.detections.filter((d) => d.score >= min);
  el.result.hidden = false;
  el.result.dataset.taskId = id;
  el.result.dataset.status = t.status;
  el.resultTitle.textContent =
    t.status === 'succeeded' ? `${found.length} object${found.length === 1 ? '' : 's'} found` : `Task ${t.status}`;
  el.resultMeta.textContent = `${describeWhere(t)} · ${t.image.width}×${t.image.height}`;
  el.resultList.replaceChildren(
    ...found.map((d) => {
      const li = document.createElement('li');
      li.textContent = `${d.label} — ${(d.score * 100).toFixed(0)}%`;
      return li;
    }),
  );
  await drawResult(el.resultCanvas, entry.image, found);
  el.result.dataset.shown = id;
}

async function openResult(id: string, shown?: { task: Task; image: Blob | ImageBitmap }): Promise<void> {
  openTaskId = id;
  await showResult(id, shown);
  el.result.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
}

/** A task reached its end: its result takes the view when it is the one the user waits for. */
async function finished(id: string, shown?: { task: Task; image: Blob | ImageBitmap }): Promise<void> {
  if (featured === id || openTaskId === id) {
    featured = null;
    await openResult(id, shown);
  } else if (shown?.image instanceof ImageBitmap) shown.image.close();
}

function closeResult(): void {
  openTaskId = null;
  el.result.hidden = true;
}

$('result-close').addEventListener('click', closeResult);
el.minScore.addEventListener('input', () => {
  el.minScoreValue.value = Number(el.minScore.value).toFixed(2);
  if (openTaskId) void showResult(openTaskId);
});
function download(text: string, type: string, name: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = `twinlens-${name}-${new Date().toISOString().slice(0, 10)}`;
  a.click();
  URL.revokeObjectURL(a.href);
}
$('export').addEventListener('click', async () => download(await exportJson(), 'application/json', 'history.json'));
// The same formats as the API's exports and the CLI (shared/export): for COCO tools and spreadsheets.
$('export-coco').addEventListener('click', async () => {
  const tasks = (await listEntries()).map((e) => e.task);
  download(JSON.stringify(toCoco(tasks), null, 1), 'application/json', 'coco.json');
});
$('export-csv').addEventListener('click', async () => {
  const tasks = (await listEntries()).map((e) => e.task);
  download(toCsv(tasks), 'text/csv', 'detections.csv');
});
$('clear').addEventListener('click', async () => {
  if (!confirm('Delete the whole history on this device?')) return;
  await clearHistory();
  closeResult();
  await refresh();
});

// ---- running tasks --------------------------------------------------------------------------

async function submit(files: Iterable<File>): Promise<void> {
  const list = [...files];
  // An album: split between the device and the server so that the whole batch ends soonest.
  let split: ('device' | 'server')[] | null = null;
  if (list.length > 1 && route() === 'auto' && user && deviceRun) {
    const { mode: _mode, bytes: _bytes, ...base } = await routeInput(0);
    split = splitAlbum(
      list.map((f) => ({ bytes: f.size })),
      base,
    );
  }
  for (const [i, file] of list.entries()) {
    try {
      await submitOne(file, i === 0, split?.[i]);
    } catch (err) {
      el.where.textContent = `${file.name || 'That file'}: ${(err as Error).message}`;
    }
  }
}

/** `feature`: the view shows this photo's result when it is ready (the photo chosen, or an album's first). */
async function submitOne(file: File, feature: boolean, albumSide?: 'device' | 'server'): Promise<void> {
  const photo = await openPhoto(file);
  const { image } = photo;
  let decision = decideRoute(await routeInput(file.size, modelPasses(image.width, image.height, tiling())));
  if (albumSide && albumSide !== decision.chosen) {
    decision = {
      ...decision,
      chosen: albumSide,
      reason: `album split between this device and the server (${decision.reason})`,
    };
  }
  const task: Task = { ...newTask(decision.chosen, image, tiling(), model.manifest.id), route: decision };
  if (feature) featured = task.task_id;
  if (decision.chosen === 'device') {
    // With the device free, the model starts at once on the bitmap decoded above, and the history
    // entry is written while it runs (the result waits for it, not the model). Otherwise the photo
    // waits its turn as a file: an album's bitmaps are not all held in memory.
    const now = deviceAhead === 0;
    const first: Task = now ? { ...task, status: 'running', started_at: new Date().toISOString() } : task;
    if (!now) photo.bitmap.close();
    const stored = photo.thumbnail
      .then((thumbnail) => putEntry({ task: first, image: file, thumbnail, updated_at: Date.now() }))
      .then(() => refresh(task.task_id));
    stored.catch((err: Error) => {
      el.where.textContent = `${file.name || 'That photo'} could not be kept in the history: ${err.message}`;
    });
    void runOnDevice(first, file, { stored, bitmap: now ? photo.bitmap : undefined });
  } else {
    photo.bitmap.close();
    await putEntry({
      task,
      image: file,
      thumbnail: await photo.thumbnail,
      pending: { params: task.params, attempts: 0 },
      updated_at: Date.now(),
    });
    await refresh(task.task_id);
    void sendToServer(task.task_id);
  }
}

interface DeviceRunOptions {
  /** The task's history entry being written: its result is written after it. */
  stored?: Promise<unknown>;
  /** The photo decoded already (taken by the model's first try). */
  bitmap?: ImageBitmap;
}

/** One photo on the device, after those before it; a failure moves it on (next backend, or the server). */
function runOnDevice(task: Task, file: Blob, opts: DeviceRunOptions = {}): Promise<void> {
  deviceAhead++;
  deviceBusyAt = performance.now();
  const run = deviceQueue
    .then(() => detectOnDevice(task, file, opts))
    .finally(() => {
      deviceAhead--;
      deviceBusyAt = performance.now();
    });
  deviceQueue = run.catch(() => undefined);
  return run;
}

async function detectOnDevice(task: Task, file: Blob, opts: DeviceRunOptions): Promise<void> {
  const created = Date.parse(task.created_at);
  // Whether the history entry was written (the result is written after it, and only if it was).
  const kept = (opts.stored ?? Promise.resolve()).then(
    () => true,
    () => false,
  );
  let current: Task =
    task.status === 'running' ? task : { ...task, status: 'running', started_at: new Date().toISOString() };
  // Shown as running beside the model's work: a status only moves forward (store.ts `later`), so this
  // write cannot undo the result if it lands after it.
  if (task.status !== 'running') void updateTask(current).then(() => refresh(task.task_id));
  // The result view's copy of the photo: the bitmap the model ran on, back from the worker.
  let display: ImageBitmap | undefined;
  let source: Blob | ImageBitmap = opts.bitmap ?? file;
  const tried: DeviceBackend[] = [];
  for (;;) {
    if (!deviceRun) break;
    tried.push(deviceRun.backend);
    try {
      // No answer in 10× the measured time (all of the photo's passes: tiles too) counts as a failure
      // (a lost device, a hung driver).
      // With nowhere to fall back to (no other backend, no login), a slow answer still beats none: wait.
      const passes = modelPasses(task.image.width, task.image.height, task.params.tiling);
      const running = deviceRun.backend;
      const elsewhere =
        user !== null || measurement?.results.some((m) => m.msPerPass !== null && m.backend !== running);
      const limit = elsewhere ? Math.max(2000, 10 * deviceRun.msPerPass * passes) : Number.POSITIVE_INFINITY;
      const input = source;
      // A retry (another backend) decodes the file again: the bitmap went to the worker.
      source = file;
      const r = await detection.detect(input, task.params, limit, featured === task.task_id);
      display = r.bitmap;
      const finished = new Date();
      current = {
        ...current,
        status: 'succeeded',
        finished_at: finished.toISOString(),
        model: r.model,
        detections: r.detections,
        timings: {
          queue_ms: Date.parse(current.started_at ?? task.created_at) - created,
          inference_ms: Math.round(r.inferenceMs * 10) / 10,
          total_ms: finished.getTime() - created,
          tiles: r.tiles,
          tile_ms: r.tileMs === null ? null : Math.round(r.tileMs * 10) / 10,
        },
      };
      break;
    } catch (err) {
      const why = `${BACKEND_NAMES[deviceRun.backend]} failed (${(err as Error).message})`;
      const next = measurement
        ? ranked(measurement.results).find((r) => r.msPerPass !== null && !tried.includes(r.backend))
        : undefined;
      if (next?.msPerPass != null) {
        try {
          const loaded = await detection.load([next.backend], model);
          deviceRun = { backend: next.backend, msPerPass: loaded.msPerPass };
          current = {
            ...current,
            route: withReason(current.route, 'device', `${why}; ${BACKEND_NAMES[next.backend]} next`),
          };
          describeRoute();
          continue;
        } catch {
          // Neither: on to the server, or a failure.
        }
      }
      if (user) {
        // The same task, now the server's: it keeps its id and says why it moved.
        if (!(await kept)) return;
        await changeEntry(task.task_id, (e) => ({
          ...e,
          task: {
            ...current,
            status: 'queued',
            source: 'server',
            started_at: null,
            route: withReason(current.route, 'server', `${why}; sent to the server`),
          },
          pending: { params: task.params, attempts: 0 },
        }));
        await refresh();
        await sendToServer(task.task_id);
        return;
      }
      current = {
        ...current,
        status: 'failed',
        finished_at: new Date().toISOString(),
        error: { code: 'inference_failed', message: (err as Error).message },
      };
      break;
    }
  }
  if (current.status === 'running') {
    current = {
      ...current,
      status: 'failed',
      finished_at: new Date().toISOString(),
      error: { code: 'inference_failed', message: 'this device cannot run the model' },
    };
  }
  // Shown first (the result view and the row, from what is in hand), then kept.
  if (await kept) {
    markRow(el.history, current, progress, rowActions, Number(el.minScore.value));
    const shown = finished(task.task_id, { task: current, image: display ?? file });
    await updateTask(current);
    await Promise.all([shown, refresh(null)]);
  } else display?.close();
}

function withReason(r: RouteDecision | undefined, chosen: 'device' | 'server', reason: string): RouteDecision {
  return { device_estimate_ms: null, server_estimate_ms: null, ...r, chosen, reason };
}

/** Uploads one waiting server-route task (with progress), then follows it to the end. */
async function sendToServer(taskId: string): Promise<void> {
  const entry = await getEntry(taskId);
  if (!entry?.pending) return;
  // Offline, a refusal, no login: Auto detects here instead (the same task), "Server" waits.
  const toDevice = async (reason: string) => {
    if (route() === 'server' || !deviceRun) return false;
    await changeEntry(taskId, (e) => ({
      ...e,
      pending: undefined,
      task: { ...e.task, source: 'device', route: withReason(e.task.route, 'device', reason) },
    }));
    await runOnDevice(
      { ...entry.task, source: 'device', route: withReason(entry.task.route, 'device', reason) },
      entry.image,
    );
    return true;
  };
  if (!navigator.onLine) {
    if (await toDevice('offline: detected on this device')) return;
    return scheduleSync();
  }
  if (!user) {
    if (await toDevice('not logged in: detected on this device')) return;
    el.login.showModal();
    return;
  }
  try {
    progress.set(taskId, 0);
    const started = performance.now();
    const task = await uploadTaskWithProgress(
      taskId,
      entry.image,
      entry.pending.params,
      (p) => {
        progress.set(taskId, p);
        void refresh();
      },
      entry.task.route,
    );
    recordUpload(entry.image.size, performance.now() - started);
    progress.delete(taskId);
    await changeEntry(taskId, (current) => ({ ...current, task: later(current.task, task), pending: undefined }));
    await refresh();
    await follow(taskId);
  } catch (err) {
    progress.delete(taskId);
    if (err instanceof ApiError && (err.status === 0 || err.status === 503 || err.status === 429)) {
      const what = err.status === 0 ? 'the server cannot be reached' : `the server answered ${err.status} ${err.code}`;
      if (await toDevice(`${what}: detected on this device`)) return;
      if (err.status === 0) return scheduleSync();
    }
    if (err instanceof ApiError && err.status === 401) {
      user = null;
      await refreshAccount();
      if (await toDevice('logged out: detected on this device')) return;
      el.login.showModal();
      return;
    }
    await changeEntry(taskId, (current) =>
      current.pending
        ? {
            ...current,
            pending: undefined,
            task: {
              ...current.task,
              status: 'failed',
              error: { code: 'invalid_request', message: (err as Error).message },
            },
          }
        : undefined,
    );
    await refresh();
  }
}

async function follow(taskId: string): Promise<void> {
  const final = await followTask(taskId, (t) => {
    void updateTask(t).then(() => refresh(taskId));
  });
  await updateTask(final);
  await refresh(null);
  await finished(taskId);
}

/** Offline: Background Sync where the browser has it; the `online` event everywhere. */
async function scheduleSync(): Promise<void> {
  const reg = await navigator.serviceWorker?.ready.catch(() => undefined);
  const sync = (reg as (ServiceWorkerRegistration & { sync?: { register(tag: string): Promise<void> } }) | undefined)
    ?.sync;
  await sync?.register(SYNC_TAG).catch(() => undefined);
  await refresh();
}

async function sendPending(): Promise<void> {
  if (!user || !navigator.onLine) return;
  const sent = await uploadPending();
  await refresh();
  for (const t of sent) void follow(t.task_id);
}

window.addEventListener('online', () => void sendPending());

// ---- input: picker, camera, drag and drop, paste -------------------------------------------

for (const input of [el.files, el.camera]) {
  input.addEventListener('change', () => {
    const files = [...(input.files ?? [])];
    // Cleared so that choosing the same photo again fires `change` again.
    input.value = '';
    void submit(files);
  });
}
el.drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  el.drop.classList.add('over');
});
el.drop.addEventListener('dragleave', () => el.drop.classList.remove('over'));
el.drop.addEventListener('drop', (e) => {
  e.preventDefault();
  el.drop.classList.remove('over');
  if (e.dataTransfer?.files) void submit(e.dataTransfer.files);
});
window.addEventListener('paste', (e) => {
  const files = [...(e.clipboardData?.files ?? [])];
  if (files.length) void submit(files);
});

// ---- service worker -------------------------------------------------------------------------

if ('serviceWorker' in navigator) {
  const wb = new Workbox('/sw.js', { type: 'module' });
  wb.addEventListener('message', (e) => {
    const m = e.data as ServiceWorkerMessage;
    if (m.type === 'task-updated' || m.type === 'pending-sent') void refresh();
    if (m.type === 'pending-sent') void resumeFollowing();
    if (m.type === 'open-task' && m.task_id) void openResult(m.task_id);
  });
  void wb.register();
}

/** Server tasks that are not final when the page opens are followed again. */
async function resumeFollowing(): Promise<void> {
  if (!user) return;
  const entries: HistoryEntry[] = await listEntries();
  for (const e of entries) {
    if (e.task.source === 'server' && !e.pending && (e.task.status === 'queued' || e.task.status === 'running'))
      void follow(e.task.task_id);
  }
}

// ---- start ----------------------------------------------------------------------------------

async function start(): Promise<void> {
  await refresh();
  probe = await detection.probe();
  await refreshAccount();
  await prepareDevice().catch((err) => {
    el.where.textContent = `This device cannot run the model: ${(err as Error).message}`;
  });
  await sendPending();
  await resumeFollowing();
  const wanted = new URLSearchParams(location.search).get('task');
  if (wanted) await openResult(wanted);
  document.body.dataset.ready = 'true';
}

void start();
