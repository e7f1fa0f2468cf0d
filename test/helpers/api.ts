/** A tiny HTTP client for the tests: what any API user would do with fetch. */
import fs from 'node:fs';
import path from 'node:path';
import { type Task, TaskSchema } from '../../shared/contract.ts';

export const FIXTURES = path.resolve(import.meta.dirname, '..', 'fixtures');

export function fixture(name: string): Buffer {
  return fs.readFileSync(path.join(FIXTURES, name));
}

export async function login(baseUrl: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

export function auth(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

export async function upload(
  baseUrl: string,
  token: string,
  bytes: Uint8Array,
  opts: { filename?: string; type?: string; fields?: Record<string, string> } = {},
): Promise<Response> {
  const form = new FormData();
  form.set(
    'image',
    new Blob([new Uint8Array(bytes)], { type: opts.type ?? 'application/octet-stream' }),
    opts.filename ?? 'photo',
  );
  for (const [k, v] of Object.entries(opts.fields ?? {})) form.set(k, v);
  return fetch(`${baseUrl}/api/v1/tasks`, { method: 'POST', headers: auth(token), body: form });
}

export async function getTask(baseUrl: string, token: string, id: string): Promise<Task> {
  const res = await fetch(`${baseUrl}/api/v1/tasks/${id}`, { headers: auth(token) });
  if (res.status !== 200) throw new Error(`GET task ${id}: ${res.status} ${await res.text()}`);
  return TaskSchema.parse(await res.json());
}

/** Polls until the task reaches one of `statuses` (final ones by default). */
export async function waitForTask(
  baseUrl: string,
  token: string,
  id: string,
  statuses: Task['status'][] = ['succeeded', 'failed', 'canceled'],
  timeoutMs = 60_000,
): Promise<Task> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const task = await getTask(baseUrl, token, id);
    if (statuses.includes(task.status)) return task;
    if (Date.now() > deadline) throw new Error(`task ${id} still ${task.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function submit(baseUrl: string, token: string, bytes: Uint8Array): Promise<Task> {
  const res = await upload(baseUrl, token, bytes);
  if (res.status !== 202) throw new Error(`upload: ${res.status} ${await res.text()}`);
  return TaskSchema.parse(await res.json());
}
