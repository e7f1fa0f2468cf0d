/**
 * Machine-readable error codes shared by the API, the workers and the web app.
 * Every error a client sees is `{ error: { code, message } }` with one of these codes.
 */
export const ERROR_STATUS = {
  // request shape
  invalid_request: 400,
  missing_image: 400,
  empty_body: 400,
  // auth
  unauthorized: 401,
  invalid_credentials: 401,
  forbidden: 403,
  // resources
  not_found: 404,
  task_not_found: 404,
  conflict: 409,
  task_not_finished: 409,
  // input limits and formats
  payload_too_large: 413,
  unsupported_media_type: 415,
  image_undecodable: 422,
  image_too_large: 422,
  image_too_small: 422,
  // backpressure (both come with Retry-After)
  rate_limited: 429,
  queue_full: 503,
  // server side
  internal: 500,
  not_ready: 503,
  // task failures (reported inside a failed Task, not as HTTP statuses)
  inference_failed: 500,
  storage_failed: 500,
  timeout: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

/** An error that carries its code; the API turns it into a response, a worker into a failed Task. */
export class TwinlensError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TwinlensError';
    this.code = code;
    this.status = ERROR_STATUS[code];
  }
}
