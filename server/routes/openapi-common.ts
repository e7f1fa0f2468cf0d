/** Bits every route description shares: error responses and the security requirement. */
import { ErrorResponseSchema } from '../../shared/contract.ts';

export const errorContent = { 'application/json': { schema: ErrorResponseSchema } };

export function errors(...statuses: number[]) {
  const descriptions: Record<number, string> = {
    400: 'Invalid request (`duplicate_field`: a form field or query parameter sent more than once)',
    401: 'Not logged in',
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

export const bearer: Record<string, string[]>[] = [{ Bearer: [] }, { Cookie: [] }];
