/**
 * Machine-readable error codes shared by the API, the workers and the web app.
 * Every error a client sees is `{ error: { code, message } }` with one of these codes.
 */
export const ERROR_STATUS = {
  // request shape
  invalid_request: 400,
  missing_image: 400,
  empty_body: 400,
  // a form field or query parameter sent more than once (which one would count is not guessed)
  duplicate_field: 400,
  // a model id this deployment does not serve (GET /models lists those it does)
  unknown_model: 400,
  // a callback URL that may not be used (scheme, credentials, an address inside the server's network)
  callback_url_refused: 400,
  // auth
  unauthorized: 401,
  invalid_credentials: 401,
  forbidden: 403,
  // an API key without the scope the route needs, or a route for sessions only (issue 23)
  insufficient_scope: 403,
  // resources
  not_found: 404,
  task_not_found: 404,
  conflict: 409,
  task_not_finished: 409,
  // album jobs: an unknown (or another user's) batch; a canceled one takes no photos; one at its cap
  batch_not_found: 404,
  batch_closed: 409,
  batch_full: 409,
  // input limits and formats
  payload_too_large: 413,
  unsupported_media_type: 415,
  image_undecodable: 422,
  image_too_large: 422,
  image_too_small: 422,
  // a request body that arrives too slowly
  request_timeout: 408,
  // backpressure (both come with Retry-After)
  rate_limited: 429,
  queue_full: 503,
  // server side
  internal: 500,
  not_ready: 503,
  // storage: full (507) or failing (503), on upload with Retry-After, and inside a failed Task
  storage_full: 507,
  storage_failed: 503,
  // a task's creation not confirmed on the replicas in time (with Retry-After: send it again, same task_id)
  not_replicated: 503,
  // task failures (reported inside a failed Task, not as HTTP statuses)
  inference_failed: 500,
  // the task's model cannot be loaded (missing or corrupt files, or it does not fit its manifest)
  model_unavailable: 503,
  timeout: 504,
  // found by the reconciliation: the task's record and its upload were lost (a Redis failover), or its
  // job was given up by the queue without an outcome (its workers kept dying)
  task_lost: 500,
  worker_lost: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

export interface TwinlensErrorOptions {
  cause?: unknown;
  /** Response headers, e.g. `Retry-After`. */
  headers?: Record<string, string>;
  /** When the answer's status is not the code's usual one (readiness answers 503 whatever the cause). */
  status?: number;
}

/** An error that carries its code; the API turns it into a response, a worker into a failed Task. */
export class TwinlensError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly headers: Record<string, string> | undefined;
  constructor(code: ErrorCode, message: string, options?: TwinlensErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TwinlensError';
    this.code = code;
    this.status = options?.status ?? ERROR_STATUS[code];
    this.headers = options?.headers;
  }
}
