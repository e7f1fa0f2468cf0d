/**
 * One task on the server: its upload (with progress), then following it to the end. Ends with the
 * final task, or refused with the reason (offline, not logged in, the queue full, the server out
 * of reach) for the dispatcher to decide: the device, or waiting. Imports no DOM and no other
 * runner: the API is an interface (api/client.ts in the page, a fake in unit tests).
 */
import { ErrorCodeSchema, type Task } from '../../../shared/contract.ts';
import { failTask, laterTask } from '../../../shared/task-lifecycle.ts';
import type { Row } from '../state.ts';
import type { RunOutcome } from './outcome.ts';

/** The upload was refused or failed: the HTTP status (0: not reached), the server's code, its words. */
export interface ServerFailure {
  status: number;
  code: string;
  message: string;
}

/** What sending needs of the API (the page's, with progress; the service worker's, with fetch). */
export interface ServerUploader {
  online(): boolean;
  loggedIn(): boolean;
  /** POST /tasks with the client's task id (a retry makes no second task); rejects with a ServerFailure. */
  upload(row: Pick<Row, 'task' | 'image' | 'pending'>, onProgress: (fraction: number) => void): Promise<Task>;
  /** The session ended under us (401): the page forgets the user. */
  loggedOut(): void;
}

/** The page's API: sending, and following a task until it is final (events, else long polls). */
export interface ServerApi extends ServerUploader {
  follow(taskId: string, onTask: (t: Task) => void): Promise<Task>;
}

export interface ServerRunHooks {
  progress(fraction: number | undefined): void;
  /** The upload reached the server: its bytes and how long it took (the router learns the throughput). */
  uploaded(task: Task, bytes: number, ms: number): void;
}

/** `sent`: the server has it (queued there); then `follow` it. */
export type SendOutcome = { kind: 'sent'; task: Task } | RunOutcome;

/** Sends a waiting task (its row's `pending`) and returns when the server has it, or why not. */
export async function sendToServer(
  row: Pick<Row, 'task' | 'image' | 'pending'>,
  api: ServerUploader,
  hooks: ServerRunHooks,
): Promise<SendOutcome> {
  const task = row.task;
  if (!api.online()) return { kind: 'refused', task, reason: 'offline', code: 'not_ready', retry: 'network' };
  if (!api.loggedIn()) return { kind: 'refused', task, reason: 'not logged in', code: 'unauthorized', retry: 'login' };
  const started = performance.now();
  try {
    hooks.progress(0);
    const accepted = await api.upload(row, hooks.progress);
    hooks.uploaded(accepted, row.image.size, performance.now() - started);
    return { kind: 'sent', task: laterTask(task, accepted) };
  } catch (err) {
    const f = asFailure(err);
    const known = ErrorCodeSchema.safeParse(f.code);
    const code = known.success ? known.data : 'invalid_request';
    if (f.status === 0 || f.status === 408) {
      const reason = f.status === 0 ? 'the server cannot be reached' : 'the upload was too slow for the server';
      return { kind: 'refused', task, reason, code: 'not_ready', retry: 'network' };
    }
    if (f.status === 401) {
      api.loggedOut();
      return { kind: 'refused', task, reason: 'logged out', code: 'unauthorized', retry: 'login' };
    }
    if (f.status === 503 || f.status === 429) {
      return { kind: 'refused', task, reason: `the server answered ${f.status} ${f.code}`, code };
    }
    // The server refused the photo itself: sending it again would not help.
    return { kind: 'done', task: failTask(task, { code, message: f.message }) };
  } finally {
    hooks.progress(undefined);
  }
}

function asFailure(err: unknown): ServerFailure {
  const e = err as Partial<ServerFailure> & Error;
  return typeof e?.status === 'number'
    ? { status: e.status, code: e.code ?? 'http_error', message: e.message }
    : { status: 0, code: 'network', message: String(e?.message ?? err) };
}
