/**
 * Request body limit, enforced while the body streams in (hono's bodyLimit, plus a lingering
 * close). A body declared too large by Content-Length is refused before it is read. A chunked
 * body that runs over is refused as soon as it does, and the rest is read and thrown away (up to
 * a cap) after answering: closing a socket with unread data makes the kernel send a reset, which
 * can destroy the 413 before the client reads it.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { BUFFERED_BODY } from './body.ts';
import { sendError } from './errors.ts';

export interface UploadLimitOptions {
  maxBytes: number;
  /** How much of an over-limit body is read and discarded before the connection is closed. */
  discardBytes?: number;
  discardMs?: number;
}

export function uploadLimit(opts: UploadLimitOptions): MiddlewareHandler {
  const discardBytes = opts.discardBytes ?? 64 * 1024 * 1024;
  const discardMs = opts.discardMs ?? 5000;
  const refuse = (c: Context) =>
    sendError(c, 'payload_too_large', `the request body is over the limit of ${opts.maxBytes} bytes`);

  return async (c, next) => {
    const declared = c.req.header('content-length');
    if (declared !== undefined && !c.req.header('transfer-encoding')) {
      // Not read here: the route reads it when it needs it (readBody), after admission.
      // The adapter drains an unread body after the answer, so the connection stays usable.
      return Number(declared) > opts.maxBytes ? refuse(c) : next();
    }
    const body = c.req.raw.body;
    if (!body) return next();
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > opts.maxBytes) {
        // Answer now and keep reading in the background: the client sees the 413 at once, and
        // the socket is not closed with unread data in it (unless the client goes on past the cap).
        void discardRest(reader, discardBytes, discardMs);
        return refuse(c);
      }
      chunks.push(value);
    }
    const buffer = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      buffer.set(chunk, offset);
      offset += chunk.length;
    }
    // Kept for readBody, and as the Request's body for anything else that reads it.
    c.set(BUFFERED_BODY as never, buffer as never);
    c.req.raw = new Request(c.req.raw, { body: buffer });
    return next();
  };
}

async function discardRest(reader: ReadableStreamDefaultReader<Uint8Array>, maxBytes: number, maxMs: number) {
  const deadline = Date.now() + maxMs;
  let read = 0;
  while (read < maxBytes && Date.now() < deadline) {
    const timeout = new Promise<'timeout'>((r) =>
      setTimeout(() => r('timeout'), Math.max(1, deadline - Date.now())).unref(),
    );
    const next = await Promise.race([reader.read(), timeout]);
    if (next === 'timeout' || next.done) break;
    read += next.value.length;
  }
  reader.cancel().catch(() => {});
}
