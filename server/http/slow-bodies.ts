/**
 * Slow request bodies: a client sending a few bytes a second holds a socket (and a request's
 * memory) as long as it likes, so a handful of them could hold the API. Node's own timeouts
 * bound the headers (`headersTimeout`) and the whole request (`requestTimeout`); this adds a
 * floor on the rate: once `graceMs` have passed, a body that arrived slower than
 * `minBytesPerSecond` over the last `graceMs` is cut off with 408 `request_timeout` and the
 * socket closed. Time the server itself does not read (the socket paused because a handler has
 * not consumed the body yet) is not held against the client.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from '../log.ts';
import { errorBody } from './errors.ts';

export interface SlowBodyOptions {
  minBytesPerSecond: number;
  graceMs: number;
  log: Logger;
  /** How often the rate is looked at. */
  tickMs?: number;
}

export function guardSlowBodies(server: Server, opts: SlowBodyOptions): void {
  if (opts.minBytesPerSecond <= 0) return;
  const tickMs = opts.tickMs ?? 1000;
  const window = Math.max(1, Math.round(opts.graceMs / tickMs));
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!hasBody(req)) return;
    const socket = req.socket;
    let last = socket.bytesRead;
    // Bytes received in each of the last `window` ticks (ticks while paused by us are skipped).
    const samples: number[] = [];
    const timer = setInterval(() => {
      if (req.complete || socket.destroyed) return stop();
      const now = socket.bytesRead;
      const gained = now - last;
      last = now;
      // Nothing came because we are not reading (the request's buffer is full): not the client's fault.
      if (gained === 0 && (socket.isPaused() || req.readableLength >= req.readableHighWaterMark)) return;
      samples.push(gained);
      if (samples.length > window) samples.shift();
      if (samples.length < window) return;
      const rate = samples.reduce((a, b) => a + b, 0) / ((samples.length * tickMs) / 1000);
      if (rate >= opts.minBytesPerSecond) return;
      stop();
      opts.log.info('request body too slow; closing', {
        method: req.method,
        path: req.url?.split('?')[0],
        bytes_per_second: Math.round(rate),
        min_bytes_per_second: opts.minBytesPerSecond,
      });
      if (!res.headersSent) {
        const body = JSON.stringify(
          errorBody(
            'request_timeout',
            `the request body arrived too slowly (${Math.round(rate)} bytes/s; at least ${opts.minBytesPerSecond} needed)`,
          ),
        );
        res.writeHead(408, { 'content-type': 'application/json', connection: 'close' });
        res.end(body, () => socket.destroy());
      } else {
        socket.destroy();
      }
    }, tickMs);
    timer.unref();
    const stop = () => clearInterval(timer);
    req.once('end', stop);
    res.once('close', stop);
  });
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
