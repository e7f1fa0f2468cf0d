/**
 * The one typed client of the Twinlens API: the CLI, the benchmarks and the web app's server
 * calls use it. Every answer is parsed with the contract's own zod schemas (shared/contract.ts),
 * so a server and a client that disagree fail loudly at the boundary, and every refusal becomes a
 * `TwinlensApiError` carrying the server's machine-readable code and its Retry-After.
 *
 * Plain fetch, no Node APIs: it runs in Node, a browser page and a service worker. In the browser,
 * leave `token` unset and the session cookie is sent (`credentials: 'same-origin'`). Programs
 * should use an API key (`apiKey`: no password, no session that runs out).
 */
import {
  API_KEY_PATTERN,
  type ApiKey,
  type ApiKeyCreate,
  type ApiKeyCreated,
  ApiKeyCreatedSchema,
  ApiKeyListSchema,
  type DetectParams,
  type LoginResponse,
  LoginResponseSchema,
  PushPublicKeySchema,
  type PushSubscription,
  type RouteDecision,
  SessionStateSchema,
  type Stats,
  StatsSchema,
  type Task,
  type TaskList,
  TaskListSchema,
  TaskSchema,
  type User,
  UserSchema,
} from '../contract.ts';
import { isFinalStatus } from '../task-lifecycle.ts';
import { multipartBody } from './multipart-body.ts';

export class TwinlensApiError extends Error {
  constructor(
    /** HTTP status; 0 when the server could not be reached. */
    readonly status: number,
    /** The server's error code (shared/errors.ts), `network`, or `http_error` for a non-JSON answer. */
    readonly code: string,
    message: string,
    /** Seconds, from the Retry-After header of a 429 or 503. */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = 'TwinlensApiError';
  }
}

export interface ClientOptions {
  /** The server's origin, e.g. `http://127.0.0.1:8080`; '' for the page's own origin. */
  baseUrl?: string;
  /** A bearer token (programs); without it the session cookie is used (the web app). */
  token?: string;
  /**
   * An API key (`tlk_…`, POST /api-keys): sent instead of the token. It can do what its scopes
   * allow; routes for people (logins, key management) answer it 403 `insufficient_scope`.
   */
  apiKey?: string;
  fetch?: typeof fetch;
}

export interface UploadOptions {
  /** The client's own id (retries are then safe: the same id answers with the same task). */
  taskId?: string;
  params?: Partial<DetectParams>;
  route?: RouteDecision;
  callbackUrl?: string;
  /** A file name for the multipart part (never used by the server beyond logging). */
  filename?: string;
}

export class TwinlensClient {
  readonly baseUrl: string;
  token: string | undefined;
  readonly apiKey: string | undefined;
  private readonly doFetch: typeof fetch;

  constructor(opts: ClientOptions = {}) {
    this.baseUrl = (opts.baseUrl ?? '').replace(/\/+$/, '');
    this.token = opts.token;
    // Checked here, so that a mistyped key fails before any request (and is never echoed back).
    if (opts.apiKey !== undefined && !API_KEY_PATTERN.test(opts.apiKey)) {
      throw new TwinlensApiError(0, 'invalid_api_key', 'an API key is tlk_ followed by 43 characters');
    }
    this.apiKey = opts.apiKey;
    this.doFetch = opts.fetch ?? ((input, init) => fetch(input, init));
  }

  /** Logs in; the client keeps the token for later calls. */
  async login(username: string, password: string): Promise<LoginResponse> {
    const r = LoginResponseSchema.parse(
      await this.json('POST', '/api/v1/auth/login', {
        body: JSON.stringify({ username, password }),
        headers: { 'content-type': 'application/json' },
      }),
    );
    this.token = r.token;
    return r;
  }

  async logout(): Promise<void> {
    await this.request('POST', '/api/v1/auth/logout');
  }

  /** The logged-in user, or null when not logged in. */
  async me(): Promise<User | null> {
    try {
      return UserSchema.parse(await this.json('GET', '/api/v1/auth/me'));
    } catch (err) {
      if (err instanceof TwinlensApiError && err.status === 401) return null;
      throw err;
    }
  }

  /** The logged-in user, or null: one 200 either way (no 401 to log when nobody is logged in). */
  async session(): Promise<User | null> {
    return SessionStateSchema.parse(await this.json('GET', '/api/v1/auth/session')).user;
  }

  /** The server's VAPID public key, for `pushManager.subscribe`. */
  async pushPublicKey(): Promise<string> {
    return PushPublicKeySchema.parse(await this.json('GET', '/api/v1/push/public-key')).public_key;
  }

  /** Registers a browser's push subscription (`PushSubscription.toJSON()`) for this user's finished tasks. */
  async addPushSubscription(subscription: PushSubscription): Promise<void> {
    await this.request('POST', '/api/v1/push/subscriptions', {
      body: JSON.stringify(subscription),
      headers: { 'content-type': 'application/json' },
    });
  }

  /** Where POST /tasks goes (for a caller that sends the form itself, e.g. with XHR for upload progress). */
  tasksUrl(): string {
    return `${this.baseUrl}/api/v1/tasks`;
  }

  /** A task's Server-Sent Events stream (`event: task`), for an EventSource. */
  taskEventsUrl(id: string): string {
    return `${this.baseUrl}/api/v1/tasks/${encodeURIComponent(id)}/events`;
  }

  /** The upload form (also for callers that send it themselves, e.g. with upload progress). */
  uploadForm(image: Blob, opts: UploadOptions = {}): FormData {
    const form = new FormData();
    for (const [name, value] of uploadFields(opts)) form.set(name, value);
    form.set('image', image, opts.filename ?? 'image');
    return form;
  }

  /**
   * POST /tasks: the task at once (202), queued. Bytes go as one multipart body built here (see
   * multipart-body.ts); a Blob (a browser's File) as a FormData.
   */
  async upload(image: Blob | Uint8Array, opts: UploadOptions = {}): Promise<Task> {
    if (image instanceof Blob) {
      return TaskSchema.parse(await this.json('POST', '/api/v1/tasks', { body: this.uploadForm(image, opts) }));
    }
    const form = multipartBody(uploadFields(opts), {
      field: 'image',
      filename: opts.filename ?? 'image',
      bytes: image,
    });
    return TaskSchema.parse(
      await this.json('POST', '/api/v1/tasks', { body: form.body, headers: { 'content-type': form.contentType } }),
    );
  }

  /**
   * One task; `waitSeconds` > 0: a long poll, answered when its status changes (or then), or with
   * `until: 'final'` only once it is final.
   */
  async task(id: string, waitSeconds = 0, until: 'change' | 'final' = 'change'): Promise<Task> {
    const q = waitSeconds > 0 ? `?wait=${waitSeconds}${until === 'final' ? '&until=final' : ''}` : '';
    return TaskSchema.parse(await this.json('GET', `/api/v1/tasks/${encodeURIComponent(id)}${q}`));
  }

  /**
   * Follows a task by long polls until it is final; `onChange` sees each status on the way (one
   * request per change). Without `onChange`, one request waits for the end (each up to 30 s).
   */
  async waitForTask(id: string, opts: { timeoutMs?: number; onChange?: (t: Task) => void } = {}): Promise<Task> {
    const deadline = Date.now() + (opts.timeoutMs ?? 10 * 60_000);
    const until = opts.onChange ? 'change' : 'final';
    let t: Task | undefined;
    if (opts.onChange) {
      t = await this.task(id);
      opts.onChange(t);
    }
    while (!t || !isFinalStatus(t.status)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new TwinlensApiError(0, 'timeout', `task ${id} is still ${t?.status ?? 'not final'}`);
      const next = await this.task(id, Math.max(1, Math.min(30, Math.ceil(left / 1000))), until);
      if (next.status !== t?.status) opts.onChange?.(next);
      t = next;
    }
    return t;
  }

  async list(opts: { limit?: number; cursor?: string } = {}): Promise<TaskList> {
    const q = new URLSearchParams();
    if (opts.limit) q.set('limit', String(opts.limit));
    if (opts.cursor) q.set('cursor', opts.cursor);
    const qs = q.size ? `?${q}` : '';
    return TaskListSchema.parse(await this.json('GET', `/api/v1/tasks${qs}`));
  }

  /** Cancels a task that is not final, deletes a final one. */
  async delete(id: string): Promise<void> {
    await this.request('DELETE', `/api/v1/tasks/${encodeURIComponent(id)}`);
  }

  async stats(): Promise<Stats> {
    return StatsSchema.parse(await this.json('GET', '/api/v1/stats'));
  }

  /** The JPEG with the boxes drawn (drawn by the server when first asked for). */
  async annotated(id: string): Promise<Uint8Array> {
    const res = await this.request('GET', `/api/v1/tasks/${encodeURIComponent(id)}/annotated`);
    return new Uint8Array(await res.arrayBuffer());
  }

  /** Makes an API key (with a session): the answer holds its secret, this once. */
  async createApiKey(req: ApiKeyCreate): Promise<ApiKeyCreated> {
    return ApiKeyCreatedSchema.parse(
      await this.json('POST', '/api/v1/api-keys', {
        body: JSON.stringify(req),
        headers: { 'content-type': 'application/json' },
      }),
    );
  }

  /** The user's own API keys (never their secrets); `all`: every user's (admins). */
  async apiKeys(opts: { all?: boolean } = {}): Promise<ApiKey[]> {
    return ApiKeyListSchema.parse(await this.json('GET', opts.all ? '/api/v1/admin/api-keys' : '/api/v1/api-keys'))
      .items;
  }

  /** Revokes one of the user's keys at once; `any`: any user's (admins). */
  async revokeApiKey(id: string, opts: { any?: boolean } = {}): Promise<void> {
    const base = opts.any ? '/api/v1/admin/api-keys' : '/api/v1/api-keys';
    await this.request('DELETE', `${base}/${encodeURIComponent(id)}`);
  }

  /** A request with the API key, the token, or the cookie; a non-2xx answer throws its error. */
  async request(
    method: string,
    path: string,
    init: { body?: RequestInit['body']; headers?: Record<string, string> } = {},
  ) {
    const headers: Record<string, string> = { ...init.headers };
    const credential = this.apiKey ?? this.token;
    if (credential) headers.authorization = `Bearer ${credential}`;
    let res: Response;
    try {
      res = await this.doFetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: init.body,
        credentials: credential ? 'omit' : 'same-origin',
      });
    } catch (err) {
      throw new TwinlensApiError(0, 'network', `the server cannot be reached: ${(err as Error).message}`);
    }
    if (!res.ok) throw await errorOf(res);
    return res;
  }

  private async json(
    method: string,
    path: string,
    init?: { body?: RequestInit['body']; headers?: Record<string, string> },
  ) {
    const res = await this.request(method, path, init);
    return (await res.json()) as unknown;
  }
}

/** The upload form's text fields, in the order a form sends them. */
function uploadFields(opts: UploadOptions): [string, string][] {
  const fields: [string, string][] = [];
  if (opts.taskId) fields.push(['task_id', opts.taskId]);
  if (opts.params?.min_score !== undefined) fields.push(['min_score', String(opts.params.min_score)]);
  if (opts.params?.max_detections !== undefined) fields.push(['max_detections', String(opts.params.max_detections)]);
  if (opts.params?.tiling !== undefined) fields.push(['tiling', opts.params.tiling]);
  if (opts.params?.model !== undefined) fields.push(['model', opts.params.model]);
  if (opts.route) fields.push(['route', JSON.stringify(opts.route)]);
  if (opts.callbackUrl) fields.push(['callback_url', opts.callbackUrl]);
  return fields;
}

/** The server's error body ({error: {code, message}}) as a TwinlensApiError. */
export async function errorOf(res: Response): Promise<TwinlensApiError> {
  const retry = Number(res.headers.get('retry-after'));
  const retryAfter = Number.isFinite(retry) && retry > 0 ? retry : null;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    return new TwinlensApiError(
      res.status,
      body.error?.code ?? 'http_error',
      body.error?.message ?? `HTTP ${res.status}`,
      retryAfter,
    );
  } catch {
    return new TwinlensApiError(res.status, 'http_error', `HTTP ${res.status}`, retryAfter);
  }
}
