/**
 * The page: picks where each photo is detected (this device's GPU, or the server queue), keeps
 * every task in the history, and shows results. The model never runs on this thread.
 */
import './zod-jitless.ts';
import { Workbox } from 'workbox-window';
import type { Task, User } from '../../shared/contract.ts';
import { DetectionClient } from './detection/client.ts';
import type { DeviceBackend, GpuProbe } from './detection/protocol.ts';
import { ApiError, followTask, login, logout, me, uploadTaskWithProgress } from './server/api.ts';
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
import { inspect, newTask } from './tasks/image.ts';
import { renderHistory } from './ui/history-view.ts';
import { describeWhere, drawResult } from './ui/result-view.ts';

type Route = 'auto' | 'device' | 'server';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const el = {
  route: $<HTMLSelectElement>('route'),
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
const progress = new Map<string, number>();
let user: User | null = null;
let probe: GpuProbe = { webgpu: 'none', adapter: null };
let openTaskId: string | null = null;

// ---- settings and status -------------------------------------------------------------------

function route(): Route {
  return el.route.value as Route;
}

el.route.value = localStorage.getItem('twinlens.route') ?? 'auto';
el.route.addEventListener('change', () => {
  localStorage.setItem('twinlens.route', route());
  void describeRoute();
});

// Diagnostics and benchmarks: `?backends=wasm` (or webgl, webgpu) narrows "On this device".
const onlyBackends = new URLSearchParams(location.search)
  .get('backends')
  ?.split(',')
  .filter((b): b is DeviceBackend => b === 'webgpu' || b === 'webgl' || b === 'wasm');

function backendsFor(r: Route): DeviceBackend[] | null {
  if (r === 'device') return onlyBackends?.length ? onlyBackends : ['webgpu', 'webgl', 'wasm'];
  if (r === 'auto' && probe.webgpu === 'hardware') return ['webgpu'];
  return null; // the server
}

async function describeRoute(): Promise<void> {
  const backends = backendsFor(route());
  if (!backends) {
    const why =
      route() === 'server'
        ? 'as chosen'
        : probe.webgpu === 'software'
          ? 'this device’s GPU is a software one'
          : 'this device has no WebGPU';
    el.where.textContent = `Photos go to the server (${why}).${user ? '' : ' Log in to use it.'}`;
    el.where.dataset.route = 'server';
    return;
  }
  el.where.textContent = 'Loading the model on this device…';
  el.where.dataset.route = 'device';
  try {
    const loaded = await detection.load(backends);
    el.where.textContent = `Detecting on this device with ${loaded.model.backend}${probe.adapter && loaded.model.backend === 'webgpu' ? ` (${probe.adapter}${probe.webgpu === 'software' ? ', software' : ''})` : ''}; model ready in ${Math.round(loaded.loadMs + loaded.warmUpMs)} ms.`;
    el.where.dataset.backend = loaded.model.backend;
    el.where.dataset.readyMs = String(Math.round(loaded.loadMs + loaded.warmUpMs));
  } catch (err) {
    el.where.textContent = `This device cannot run the model: ${(err as Error).message}`;
    el.where.dataset.backend = 'none';
  }
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
    await describeRoute();
    await sendPending();
  } catch (err) {
    el.loginError.textContent = (err as Error).message;
  }
});
$('login-cancel').addEventListener('click', () => el.login.close());

// ---- history and result ---------------------------------------------------------------------

async function refresh(): Promise<void> {
  const entries = await listEntries();
  el.empty.hidden = entries.length > 0;
  renderHistory(
    el.history,
    entries,
    progress,
    {
      open: (id) => void openResult(id),
      remove: async (id) => {
        await deleteEntry(id);
        if (openTaskId === id) closeResult();
        await refresh();
      },
    },
    Number(el.minScore.value),
  );
  if (openTaskId) await showResult(openTaskId);
}

async function showResult(id: string): Promise<void> {
  const entry = await getEntry(id);
  if (!entry) return closeResult();
  const t = entry.task;
  const min = Number(el.minScore.value);
  const shown = t.detections.filter((d) => d.score >= min);
  el.result.hidden = false;
  el.result.dataset.taskId = id;
  el.result.dataset.status = t.status;
  el.resultTitle.textContent =
    t.status === 'succeeded' ? `${shown.length} object${shown.length === 1 ? '' : 's'} found` : `Task ${t.status}`;
  el.resultMeta.textContent = `${describeWhere(t)} · ${t.image.width}×${t.image.height}`;
  el.resultList.replaceChildren(
    ...shown.map((d) => {
      const li = document.createElement('li');
      li.textContent = `${d.label} — ${(d.score * 100).toFixed(0)}%`;
      return li;
    }),
  );
  await drawResult(el.resultCanvas, entry.image, shown);
}

async function openResult(id: string): Promise<void> {
  openTaskId = id;
  await showResult(id);
  el.result.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
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
$('export').addEventListener('click', async () => {
  const blob = new Blob([await exportJson()], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = `twinlens-history-${new Date().toISOString().slice(0, 10)}.json`;
  a.click();
  URL.revokeObjectURL(a.href);
});
$('clear').addEventListener('click', async () => {
  if (!confirm('Delete the whole history on this device?')) return;
  await clearHistory();
  closeResult();
  await refresh();
});

// ---- running tasks --------------------------------------------------------------------------

async function submit(files: Iterable<File>): Promise<void> {
  for (const file of files) {
    try {
      await submitOne(file);
    } catch (err) {
      el.where.textContent = `${file.name || 'That file'}: ${(err as Error).message}`;
    }
  }
}

async function submitOne(file: File): Promise<void> {
  const { image, thumbnail } = await inspect(file);
  const backends = backendsFor(route());
  const task = newTask(backends ? 'device' : 'server', image);
  if (backends) {
    await putEntry({ task, image: file, thumbnail, updated_at: Date.now() });
    await refresh();
    void runOnDevice(task, file, backends);
  } else {
    await putEntry({
      task,
      image: file,
      thumbnail,
      pending: { params: task.params, attempts: 0 },
      updated_at: Date.now(),
    });
    await refresh();
    void sendToServer(task.task_id);
  }
}

async function runOnDevice(task: Task, file: Blob, backends: DeviceBackend[]): Promise<void> {
  const created = Date.parse(task.created_at);
  let current: Task = { ...task, status: 'running', started_at: new Date().toISOString() };
  await updateTask(current);
  await refresh();
  try {
    await detection.load(backends);
    const r = await detection.detect(file, task.params);
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
      },
    };
  } catch (err) {
    current = {
      ...current,
      status: 'failed',
      finished_at: new Date().toISOString(),
      error: { code: 'inference_failed', message: (err as Error).message },
    };
  }
  await updateTask(current);
  await refresh();
  if (!openTaskId || openTaskId === task.task_id) await openResult(task.task_id);
}

/** Uploads one waiting server-route task (with progress), then follows it to the end. */
async function sendToServer(taskId: string): Promise<void> {
  const entry = await getEntry(taskId);
  if (!entry?.pending) return;
  if (!navigator.onLine) return scheduleSync();
  if (!user) {
    el.login.showModal();
    return;
  }
  try {
    progress.set(taskId, 0);
    const task = await uploadTaskWithProgress(taskId, entry.image, entry.pending.params, (p) => {
      progress.set(taskId, p);
      void refresh();
    });
    progress.delete(taskId);
    await changeEntry(taskId, (current) => ({ ...current, task: later(current.task, task), pending: undefined }));
    await refresh();
    await follow(taskId);
  } catch (err) {
    progress.delete(taskId);
    if (err instanceof ApiError && err.status === 0) return scheduleSync();
    if (err instanceof ApiError && err.status === 401) {
      user = null;
      await refreshAccount();
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
    void updateTask(t).then(refresh);
  });
  await updateTask(final);
  await refresh();
  if (!openTaskId || openTaskId === taskId) await openResult(taskId);
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
    const m = e.data as { type: string; task?: Task; task_id?: string };
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
  await describeRoute();
  await sendPending();
  await resumeFollowing();
  const wanted = new URLSearchParams(location.search).get('task');
  if (wanted) await openResult(wanted);
  document.body.dataset.ready = 'true';
}

void start();
