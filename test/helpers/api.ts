/** A tiny HTTP client for the tests: what any API user would do with fetch. */

import fs from 'node:fs';
import http from 'node:http';
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

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** `wait` > 0: a long poll (the server answers when the status changes). */
export async function getTask(baseUrl: string, token: string, id: string, wait = 0): Promise<Task> {
  const res = await fetch(`${baseUrl}/api/v1/tasks/${id}${wait > 0 ? `?wait=${wait}` : ''}`, { headers: auth(token) });
  if (res.status !== 200) throw new HttpError(res.status, `GET task ${id}: ${res.status} ${await res.text()}`);
  return TaskSchema.parse(await res.json());
}

/** Polls until the task reaches one of `statuses` (final ones by default); a negative
 * `intervalMs` long-polls instead. A 503 (the server's Redis away) is tried again, as clients should. */
export async function waitForTask(
  baseUrl: string,
  token: string,
  id: string,
  statuses: Task['status'][] = ['succeeded', 'failed', 'canceled'],
  timeoutMs = 60_000,
  intervalMs = 100,
): Promise<Task> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let task: Task;
    try {
      task = await getTask(
        baseUrl,
        token,
        id,
        intervalMs < 0 ? Math.min(30, Math.ceil((deadline - Date.now()) / 1000)) : 0,
      );
    } catch (err) {
      // 503 while the server's Redis is away: a client tries again (sooner than Retry-After, in a test).
      if (!(err instanceof HttpError && err.status === 503) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    if (statuses.includes(task.status)) return task;
    if (Date.now() > deadline) throw new Error(`task ${id} still ${task.status} after ${timeoutMs} ms`);
    if (intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function submit(baseUrl: string, token: string, bytes: Uint8Array): Promise<Task> {
  const res = await upload(baseUrl, token, bytes);
  if (res.status !== 202) throw new Error(`upload: ${res.status} ${await res.text()}`);
  return TaskSchema.parse(await res.json());
}

/**
 * POST on a connection of its own (no keep-alive pool), for bodies the server refuses part-way:
 * the server answers early and may close the socket while we are still writing, so write
 * errors after the answer are expected and ignored.
 */
export function postOnOwnConnection(
  url: string,
  headers: Record<string, string>,
  body: Buffer | (() => AsyncGenerator<Buffer>),
): Promise<{ status: number; json: unknown; bytesSent: number }> {
  return new Promise((resolve, reject) => {
    let bytesSent = 0;
    let answered = false;
    const req = http.request(url, { method: 'POST', headers, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : null, bytesSent });
        req.destroy();
      });
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    (async () => {
      if (Buffer.isBuffer(body)) {
        bytesSent = body.length;
        req.end(body);
        return;
      }
      for await (const chunk of body()) {
        if (answered || req.destroyed) return;
        bytesSent += chunk.length;
        if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
      }
      req.end();
    })().catch(() => {});
  });
}
