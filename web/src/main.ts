/**
 * The page's boot: makes the state, the device, the history and the dispatcher, points the views at
 * them, and starts. Nothing is decided here — where photos go is tasks/dispatch.ts (with the rules
 * in routing/rules.ts), what the device runs is detection/device.ts, what the page shows is ui/
 * following state.ts. The model never runs on this thread (detection/worker.ts).
 */
import './zod-jitless.ts';
import {
  apiKeys,
  createApiKey,
  followTask,
  getStats,
  login,
  logout,
  revokeApiKey,
  session,
  uploadTaskWithProgress,
} from './api/client.ts';
import { enablePush } from './api/push.ts';
import { Device } from './detection/device.ts';
import { fetchModels, modelKey } from './detection/models.ts';
import type { DeviceBackend } from './detection/protocol.ts';
import * as db from './history/db.ts';
import { History } from './history/history.ts';
import { LiveSession } from './live/session.ts';
import { RouteInputs } from './routing/inputs.ts';
import { createStore, initialState, withNotice } from './state.ts';
import { registerServiceWorker, requestSync } from './sw/bridge.ts';
import { Dispatcher } from './tasks/dispatch.ts';
import { openPhoto } from './tasks/photo.ts';
import type { ServerApi } from './tasks/server-run.ts';
import { accountView } from './ui/account-view.ts';
import { apiKeysView } from './ui/api-keys-view.ts';
import { exportView } from './ui/export-view.ts';
import { historyView } from './ui/history-view.ts';
import { inputView } from './ui/input-view.ts';
import { liveView } from './ui/live-view.ts';
import { resultView } from './ui/result-view.ts';
import { savedSettings, settingsView, showServerModels } from './ui/settings-view.ts';
import { statusView } from './ui/status-view.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const minScore = $<HTMLInputElement>('min-score');

const store = createStore(initialState(savedSettings(Number(minScore.value))));
const history = new History(store, db, (err) =>
  store.update((s) => withNotice(s, `A photo could not be kept in the history: ${err.message}`)),
);

// Diagnostics and benchmarks: `?backends=wasm` (or wasm-threads, webgl, webgpu) narrows "On this device";
// `?threads=N`: the threads wasm-threads runs (default: all cores but one, at least 2).
const query = new URLSearchParams(location.search);
const onlyBackends = query
  .get('backends')
  ?.split(',')
  .filter((b): b is DeviceBackend => b === 'webgpu' || b === 'webgl' || b === 'wasm' || b === 'wasm-threads');
const threadsAsked = Number(query.get('threads') ?? Number.NaN);
const device = new Device(store, onlyBackends, undefined, Number.isInteger(threadsAsked) ? threadsAsked : null);
const routing = new RouteInputs(store, getStats);

const server: ServerApi = {
  online: () => navigator.onLine,
  loggedIn: () => store.get().user !== null,
  upload: (row, onProgress) =>
    uploadTaskWithProgress(
      row.task.task_id,
      row.image,
      row.pending?.params ?? row.task.params,
      onProgress,
      row.task.route,
      row.task.file_name,
    ),
  follow: followTask,
  loggedOut: () => store.update((s) => ({ ...s, user: null })),
};

const dispatcher = new Dispatcher({
  store,
  history,
  device,
  server,
  openPhoto,
  routeInput: (bytes, passes) => routing.input(bytes, passes),
  scheduleSync: requestSync,
  uploaded: (bytes, ms) => routing.recordUpload(bytes, ms),
});

// ---- views ----------------------------------------------------------------------------------

statusView($('where'), $<HTMLProgressElement>('model-progress'), store);
settingsView(
  {
    route: $<HTMLSelectElement>('route'),
    tiling: $<HTMLSelectElement>('tiling'),
    model: $<HTMLSelectElement>('model'),
    minScore,
    minScoreValue: $<HTMLOutputElement>('min-score-value'),
  },
  store,
);
// Another model chosen (or the server's list changed it): the device loads it after its photos in hand.
store.subscribe((s, prev) => {
  const now = s.settings.model;
  const was = prev.settings.model;
  if (now && was && modelKey(now) !== modelKey(was) && s.ready) void device.switchModel();
});
void fetchModels().then((known) => known && showServerModels(known));
const keysDialog = apiKeysView(
  {
    dialog: $<HTMLDialogElement>('api-keys'),
    list: $<HTMLUListElement>('api-key-list'),
    empty: $('api-key-empty'),
    form: $<HTMLFormElement>('api-key-form'),
    close: $('api-keys-close'),
    created: $('api-key-new'),
    secret: $<HTMLOutputElement>('api-key-secret'),
    error: $('api-key-error'),
  },
  { list: apiKeys, create: createApiKey, revoke: revokeApiKey },
);
accountView(
  {
    account: $('account'),
    dialog: $<HTMLDialogElement>('login'),
    form: $<HTMLFormElement>('login-form'),
    error: $('login-error'),
    cancel: $('login-cancel'),
  },
  store,
  {
    logIn: async (username, password) => {
      const user = await login(username, password);
      store.update((s) => ({ ...s, user, loginWanted: false }));
      await dispatcher.sendPending();
    },
    logOut: async () => {
      await logout();
      store.update((s) => ({ ...s, user: null }));
    },
    notify: enablePush,
    apiKeys: () => void keysDialog.open(),
  },
);
historyView($<HTMLUListElement>('history'), $('history-empty'), store, {
  // The user opened another result: a finishing task no longer takes the view from it.
  open: (id) => store.update((s) => ({ ...s, featured: null, open: { taskId: id } })),
  remove: (id) => void history.remove(id),
});
resultView(
  {
    section: $('result'),
    title: $('result-title'),
    canvas: $<HTMLCanvasElement>('result-canvas'),
    meta: $('result-meta'),
    list: $<HTMLOListElement>('result-list'),
    close: $('result-close'),
  },
  store,
  () => store.update((s) => ({ ...s, open: null })),
);
exportView({ json: $('export'), coco: $('export-coco'), csv: $('export-csv'), clear: $('clear') }, store, () =>
  history.clear(),
);
inputView({ drop: $('drop'), inputs: [$<HTMLInputElement>('files'), $<HTMLInputElement>('camera')] }, (files) => {
  void dispatcher.submit(files);
});

// The Live view: frames to the device's detection worker (the backend and model the photos use).
const live = new LiveSession({
  store,
  detectFrame: (frame, params) => device.detectFrame(frame, params),
  video: $<HTMLVideoElement>('live-video'),
  overlay: $<HTMLCanvasElement>('live-overlay'),
  counts: $('live-counts'),
});
liveView(
  {
    open: $<HTMLButtonElement>('live-open'),
    section: $('live'),
    close: $<HTMLButtonElement>('live-close'),
    camera: $<HTMLSelectElement>('live-camera'),
    start: $<HTMLButtonElement>('live-start'),
    stop: $<HTMLButtonElement>('live-stop'),
    file: $<HTMLInputElement>('live-file'),
    snapshot: $<HTMLButtonElement>('live-snapshot'),
    send: $<HTMLButtonElement>('live-send'),
    status: $('live-status'),
    error: $('live-error'),
  },
  store,
  live,
  async (to) => {
    try {
      const snap = await live.snapshot();
      if (!snap) return;
      const model = device.loadedModel;
      const inferenceMs = store.get().device.run?.msPerPass ?? 0;
      await dispatcher.keepSnapshot(snap.file, { detections: snap.detections, inferenceMs, model }, to);
    } catch (err) {
      store.update((s) => withNotice(s, `The snapshot could not be kept: ${(err as Error).message}`));
    }
  },
);

// ---- the service worker, the network --------------------------------------------------------

registerServiceWorker({
  taskUpdated: ({ task }) => history.heard(task),
  pendingSent: ({ tasks }) => {
    for (const task of tasks) {
      history.mirror(task.task_id, (row) => ({ ...row, pending: undefined }));
      history.heard(task);
      void dispatcher.follow(task.task_id);
    }
  },
  openTask: ({ task_id }) => {
    if (task_id) store.update((s) => ({ ...s, featured: null, open: { taskId: task_id } }));
  },
});
window.addEventListener('online', () => void dispatcher.sendPending());

// ---- start ----------------------------------------------------------------------------------

async function start(): Promise<void> {
  await history.load();
  routing.watchBattery();
  const user = await session().catch(() => null);
  store.update((s) => ({ ...s, user }));
  await device.prepare().catch((err: Error) => {
    store.update((s) =>
      withNotice(
        { ...s, device: { ...s.device, failure: err.message } },
        `This device cannot run the model: ${err.message}`,
      ),
    );
  });
  await dispatcher.sendPending();
  dispatcher.resume();
  const wanted = new URLSearchParams(location.search).get('task');
  if (wanted) store.update((s) => ({ ...s, open: { taskId: wanted } }));
  store.update((s) => ({ ...s, ready: true }));
  document.body.dataset.ready = 'true';
}

void start();
