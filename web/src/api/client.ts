/**
 * The server path from the browser: login (the session cookie), upload with progress, and the
 * task's progress by Server-Sent Events, with long polling when events are not available.
 * Works in the page and in the service worker (no DOM needed except XHR for upload progress).
 * Every path is the typed client's (shared/client): none is written here.
 */

import { TwinlensApiError as ApiError, TwinlensClient } from '../../../shared/client/twinlens-client.ts';
import {
  type ApiKeyCreate,
  type DetectParams,
  type RouteDecision,
  type Stats,
  type Task,
  TaskSchema,
  type User,
} from '../../../shared/contract.ts';
import { stripMetadata } from '../../../shared/strip-metadata.ts';
import { isFinalStatus } from '../../../shared/task-lifecycle.ts';

export { ApiError };

/** The typed client on the page's own origin, with the session cookie. */
const client = new TwinlensClient();

/** The user's API keys; make one (its secret in the answer only); revoke one. */
export const apiKeys = () => client.apiKeys();
export const createApiKey = (req: ApiKeyCreate) => client.createApiKey(req);
export const revokeApiKey = (id: string) => client.revokeApiKey(id);

/** Who is logged in (null: nobody; not an error, so an anonymous visit logs none). */
export function session(): Promise<User | null> {
  return client.session();
}

export async function login(username: string, password: string): Promise<User> {
  return (await client.login(username, password)).user;
}

export async function logout(): Promise<void> {
  await client.logout().catch(() => undefined);
}

/**
 * The upload form. The photo leaves without its location and other personal metadata (orientation
 * kept: shared/strip-metadata.ts); `route`: where and why the page sent it (kept in the Task).
 */
async function formFor(
  taskId: string,
  image: Blob,
  params: DetectParams,
  route?: RouteDecision,
  fileName?: string,
): Promise<FormData> {
  const clean = stripMetadata(new Uint8Array(await image.arrayBuffer()));
  return client.uploadForm(new Blob([clean as Uint8Array<ArrayBuffer>], { type: image.type }), {
    taskId,
    params,
    route,
    ...(fileName ? { filename: fileName } : {}),
  });
}

/** Upload with fetch (service worker, background sync). The task id is ours: retrying is safe. */
export async function uploadTask(
  taskId: string,
  image: Blob,
  params: DetectParams,
  route?: RouteDecision,
  /** The photo's file name (the task's `file_name`), kept with the server's task and in its exports. */
  fileName?: string,
): Promise<Task> {
  const form = await formFor(taskId, image, params, route, fileName);
  return TaskSchema.parse(await (await client.request('POST', '/api/v1/tasks', { body: form })).json());
}

/** Upload with XMLHttpRequest, for its upload progress events (the page). */
export function uploadTaskWithProgress(
  taskId: string,
  image: Blob,
  params: DetectParams,
  onProgress: (fraction: number) => void,
  route?: RouteDecision,
  fileName?: string,
): Promise<Task> {
  return formFor(taskId, image, params, route, fileName).then((form) => sendWithProgress(form, onProgress));
}

function sendWithProgress(form: FormData, onProgress: (fraction: number) => void): Promise<Task> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', client.tasksUrl());
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
    xhr.send(form);
  });
}

/** The queue's figures for routing (GET /api/v1/stats); null when the server does not answer. */
export function getStats(): Promise<Stats | null> {
  return client.stats().catch(() => null);
}

export function getTask(taskId: string, waitSeconds = 0): Promise<Task> {
  return client.task(taskId, waitSeconds);
}

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
      if (isFinalStatus(t.status)) {
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
    source = new EventSource(client.taskEventsUrl(taskId), { withCredentials: true });
    source.addEventListener('task', (e) => {
      done(TaskSchema.parse(JSON.parse((e as MessageEvent<string>).data)));
    });
    source.onerror = () => {
      // Closed after the final event, or never opened (old proxy, no route): fall back to polling.
      source?.close();
      if (!last || !isFinalStatus(last.status)) void poll();
    };
  });
}

/** The typed client itself, for the few calls that need nothing more (push registration). */
export { client };
