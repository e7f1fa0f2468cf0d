/**
 * A query parameter given twice (`?format=csv&format=json`, `?limit=5&limit=100`) is refused for
 * every API route with 400 `duplicate_field` naming it, before anything is read or stored: which
 * of the values the client meant is not guessed (the multipart side: formFields in multipart.ts).
 */
import type { MiddlewareHandler } from 'hono';
import { duplicateField } from './multipart.ts';

export function refuseDuplicateQuery(): MiddlewareHandler {
  return async (c, next) => {
    const url = c.req.url;
    const q = url.indexOf('?');
    if (q >= 0) {
      const seen = new Set<string>();
      for (const key of new URLSearchParams(url.slice(q + 1)).keys()) {
        if (seen.has(key)) throw duplicateField(key, 'query parameter');
        seen.add(key);
      }
    }
    await next();
  };
}
