/**
 * The request body as one Buffer: what `uploadLimit` already read (a chunked body), or the body
 * read whole. (On the Node server, `arrayBuffer()` reads the socket directly, without web streams;
 * the Buffer is a view of it, not a copy.)
 */
import type { Context } from 'hono';

/** Set by uploadLimit when it had to read the body itself (no Content-Length). */
export const BUFFERED_BODY = 'bufferedBody';

export async function readBody(c: Context): Promise<Buffer> {
  const buffered = c.get(BUFFERED_BODY as never) as Uint8Array | undefined;
  if (buffered) return Buffer.from(buffered.buffer, buffered.byteOffset, buffered.byteLength);
  return Buffer.from(await c.req.raw.arrayBuffer());
}
