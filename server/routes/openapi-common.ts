/** Bits every route description shares: error responses and the security requirement. */
import { type ApiKeyScope, ErrorResponseSchema } from '../../shared/contract.ts';
import { API_KEY_SCHEME } from '../auth/api-key-auth.ts';

export const errorContent = { 'application/json': { schema: ErrorResponseSchema } };

export function errors(...statuses: number[]) {
  const descriptions: Record<number, string> = {
    400: 'Invalid request (`duplicate_field`: a form field or query parameter sent more than once)',
    401: 'Not logged in, or an API key unknown, revoked or expired',
    403: 'An API key without the scope this needs (`insufficient_scope`), or not allowed',
    404: 'No such task (or not yours)',
    409: 'Conflict with the task’s state',
    413: 'Body over the upload limit',
    415: 'Not a JPEG, PNG or WebP image',
    422: 'Image cannot be used (damaged, too large, too small)',
    503: 'Not ready',
  };
  return Object.fromEntries(
    statuses.map((s) => [s, { description: descriptions[s] ?? 'Error', content: errorContent }]),
  );
}

/** For people only: a session (bearer token or cookie). API keys get 403 `insufficient_scope`. */
export const bearer: Record<string, string[]>[] = [{ Bearer: [] }, { Cookie: [] }];

/**
 * A session, or an API key with `scope` (none: any valid key): the one place a route declares what a
 * key needs. The API key middleware (server/auth/api-key-auth.ts) enforces what this says, and the
 * OpenAPI document shows it.
 */
export function scoped(scope?: ApiKeyScope): Record<string, string[]>[] {
  return [...bearer, { [API_KEY_SCHEME]: scope ? [scope] : [] }];
}
