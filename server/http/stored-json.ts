/**
 * A JSON answer already serialized — a document as Redis keeps it — sent as it is, without parsing
 * and serializing it again (a poll of a task, thousands a second under load). Typed as what the
 * document holds, so routes keep their OpenAPI response types; the one cast is here.
 */
import type { Context, TypedResponse } from 'hono';

export function storedJson<T>(c: Context, raw: string): TypedResponse<T, 200, 'json'> {
  return c.body(raw, 200, { 'Content-Type': 'application/json' }) as unknown as TypedResponse<T, 200, 'json'>;
}
