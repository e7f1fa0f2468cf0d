/**
 * The server path from the browser: login (the session cookie), upload with progress, and the
 * task's progress by Server-Sent Events, with long polling when events are not available.
 * Works in the page and in the service worker (no DOM needed except XHR for upload progress).
 */
import { type Task, TaskSchema, type User, UserSchema } from '../../../shared/contract.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function errorOf(res: Response): Promise<ApiError> {
  const body = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
  return new ApiError(res.status, body?.error?.code ?? 'http_error', body?.error?.message ?? `HTTP ${res.status}`);
}

export async function me(): Promise<User | null> {
  const res = await fetch('/api/v1/auth/me', { credentials: 'same-origin' });
  if (res.status === 401) return null;
  if (!res.ok) throw await errorOf(res);
  return UserSchema.parse(await res.json());
}

export async function login(username: string, password: string): Promise<User> {
  const res = await fetch('/api/v1/auth/login', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw await errorOf(res);
  return UserSchema.parse(((await res.json()) as { user: unknown }).user);
}

export async function logout(): Promise<void> {
  await fetch('/api/v1/auth/logout', { method: 'POST', credentials: 'same-origin' });
}

function formFor(taskId: string, image: Blob, params: { min_score: number; max_detections: number }): FormData {
  const form = new FormData();
  form.set('task_id', taskId);
  form.set('min_score', String(params.min_score));
  form.set('max_detections', String(params.max_detections));
  form.set('image', image, 'image');
  return form;
}

/** Upload with fetch (service worker, background sync). The task id is ours: retrying is safe. */
export async function uploadTask(
  taskId: string,
  image: Blob,
  params: { min_score: number; max_detections: number },
): Promise<Task> {
  const res = await fetch('/api/v1/tasks', {
    method: 'POST',
    credentials: 'same-origin',
    body: formFor(taskId, image, params),
  });
  if (!res.ok) throw await errorOf(res);
  return TaskSchema.parse(await res.json());
}

/** Upload with XMLHttpRequest, for its upload progress events (the page). */
export function uploadTaskWithProgress(
  taskId: string,
  image: Blob,
  params: { min_score: number; max_detections: number },
  onProgress: (fraction: number) => void,
): Promise<Task> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/v1/tasks');
    xhr.withCredentials = true;
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onerror = () => reject(new ApiError(0, 'network', 'the network is unavailable'));
    xhr.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {}
      if (xhr.status >= 200 && xhr.status < 300) resolve(TaskSchema.parse(body));
      else {
        const e = (body as { error?: { code: string; message: string } } | null)?.error;
        reject(new ApiError(xhr.status, e?.code ?? 'http_error', e?.message ?? `HTTP ${xhr.status}`));
      }
    };
    xhr.send(formFor(taskId, image, params));
  });
}

export async function getTask(taskId: string, waitSeconds = 0): Promise<Task> {
  const res = await fetch(`/api/v1/tasks/${taskId}${waitSeconds ? `?wait=${waitSeconds}` : ''}`, {
    credentials: 'same-origin',
  }).catch(() => {
    throw new ApiError(0, 'network', 'the network is unavailable');
  });
  if (!res.ok) throw await errorOf(res);
  return TaskSchema.parse(await res.json());
}

const FINAL = new Set(['succeeded', 'failed', 'canceled']);

/**
 * Follows a server task until it is final: Server-Sent Events first; if the stream cannot be
 * opened or breaks, long polls. Calls `onTask` with each new state; resolves with the last.
 */
export function followTask(taskId: string, onTask: (t: Task) => void): Promise<Task> {
  return new Promise((resolve, reject) => {
    let last: Task | undefined;
    const done = (t: Task) => {
      last = t;
      onTask(t);
      if (FINAL.has(t.status)) {
        source?.close();
        resolve(t);
        return true;
      }
      return false;
    };
    const poll = async () => {
      for (;;) {
        try {
          if (done(await getTask(taskId, 25))) return;
        } catch (err) {
          // The server busy or its database away (503), or the network gone for a moment: try again.
          if (!(err instanceof ApiError) || (err.status !== 503 && err.status !== 0)) return reject(err);
          await new Promise((r) => setTimeout(r, 2000));
        }
      }
    };
    let source: EventSource | undefined;
    if (typeof EventSource === 'undefined') {
      void poll();
      return;
    }
    source = new EventSource(`/api/v1/tasks/${taskId}/events`, { withCredentials: true });
    source.addEventListener('task', (e) => {
      done(TaskSchema.parse(JSON.parse((e as MessageEvent<string>).data)));
    });
    source.onerror = () => {
      // Closed after the final event, or never opened (old proxy, no route): fall back to polling.
      source?.close();
      if (!last || !FINAL.has(last.status)) void poll();
    };
  });
}
