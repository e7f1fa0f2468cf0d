/** Every error response is `{ error: { code, message } }` with the code's HTTP status. */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorResponse } from '../../shared/contract.ts';
import { ERROR_STATUS, type ErrorCode, TwinlensError } from '../../shared/errors.ts';
import type { Logger } from '../log.ts';
import { isRedisUnavailable } from '../redis.ts';

export function errorBody(code: ErrorCode, message: string): ErrorResponse {
  return { error: { code, message } };
}

export function sendError(
  c: Context,
  code: ErrorCode,
  message: string,
  headers?: Record<string, string>,
  status: number = ERROR_STATUS[code],
) {
  return c.json(errorBody(code, message), status as ContentfulStatusCode, headers);
}

/** 503 while Redis cannot be reached: the connection comes back by itself, so try again soon. */
export function redisUnavailable(c: Context) {
  return sendError(c, 'not_ready', 'the database is unavailable; try again shortly', { 'Retry-After': '5' });
}

/** The app's onError: known errors keep their code; anything else is logged and hidden. */
export function errorHandler(log: Logger) {
  return (err: Error, c: Context) => {
    if (err instanceof TwinlensError) return sendError(c, err.code, err.message, err.headers, err.status);
    // Redis went away under a request (the API's connection fails fast instead of queueing).
    if (isRedisUnavailable(err)) {
      return redisUnavailable(c);
    }
    // Hono's own HTTPException (for instance from the body limit) carries a status.
    const status = (err as { status?: number }).status;
    if (status === 413) return sendError(c, 'payload_too_large', 'the request body is too large');
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return sendError(c, 'invalid_request', err.message || 'invalid request');
    }
    log.error('unhandled error', { err, path: c.req.path, method: c.req.method });
    return sendError(c, 'internal', 'internal error; it has been logged');
  };
}
