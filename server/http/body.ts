/**
 * The request body as one Buffer, read with one copy: straight from Node's request into a buffer
 * of its Content-Length (the adapter's own reader gathers chunks, joins them, then copies the lot
 * once more into an ArrayBuffer: two copies of every photo). Or what `uploadLimit` already read (a
 * chunked body); or, without a Node request (in-process tests), from the Request.
 */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { TwinlensError } from '../../shared/errors.ts';

/** Set by uploadLimit when it had to read the body itself (no Content-Length). */
export const BUFFERED_BODY = 'bufferedBody';

export async function readBody(c: Context): Promise<Buffer> {
  const buffered = c.get(BUFFERED_BODY as never) as Uint8Array | undefined;
  if (buffered) return Buffer.from(buffered.buffer, buffered.byteOffset, buffered.byteLength);
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  const declared = Number(c.req.header('content-length'));
  if (incoming && Number.isSafeInteger(declared) && !incoming.readableDidRead && !c.req.raw.bodyUsed) {
    return readIncoming(incoming, declared);
  }
  return Buffer.from(await c.req.raw.arrayBuffer());
}

function readIncoming(incoming: IncomingMessage, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const body = Buffer.allocUnsafe(length);
    let offset = 0;
    const onData = (chunk: Buffer) => {
      if (offset + chunk.length > length) {
        cleanup();
        reject(new TwinlensError('invalid_request', 'the body is longer than its Content-Length'));
        return;
      }
      chunk.copy(body, offset);
      offset += chunk.length;
    };
    const onEnd = () => {
      cleanup();
      if (offset === length) resolve(body);
      else reject(new TwinlensError('invalid_request', 'the body is shorter than its Content-Length'));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('aborted', onError);
    };
    incoming.on('data', onData);
    incoming.once('end', onEnd);
    incoming.once('error', onError);
    incoming.once('aborted', () => onError(new TwinlensError('invalid_request', 'the client went away')));
  });
}
