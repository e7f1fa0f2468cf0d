/**
 * A push service and a browser's side of a push subscription, for the tests: an HTTP server that
 * records what it is sent, and real P-256 keys to decrypt it with (RFC 8291, via http_ece, the
 * library web-push itself encrypts with).
 */
import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { PushSubscription } from '../../shared/contract.ts';

export interface PushRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface LocalPushService {
  url: string;
  received: PushRequest[];
  /** Every request to `path` so far, once there are at least `count` (or a timeout error). */
  waitFor(path: string, count: number, timeoutMs?: number): Promise<PushRequest[]>;
  close(): Promise<void>;
}

export interface PushServiceOptions {
  /** https with this key and certificate (the server process must trust its CA); plain http without. */
  tls?: { key: string; cert: string };
  /** The loopback address to listen on (127.0.0.1 by default; any 127.x.y.z works on Linux). */
  host?: string;
  /** Answers the request once its body is in; by default `status(path)` and an empty body. */
  respond?: (req: http.IncomingMessage, res: http.ServerResponse) => void;
}

/** Answers 201 Created (as push services do), or `status(path)` when given. */
export async function startPushService(
  status: (path: string) => number = () => 201,
  opts: PushServiceOptions = {},
): Promise<LocalPushService> {
  const received: PushRequest[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      if (opts.respond) opts.respond(req, res);
      else res.writeHead(status(req.url ?? '')).end();
    });
  };
  const server = opts.tls ? https.createServer(opts.tls, handler) : http.createServer(handler);
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${opts.tls ? 'https' : 'http'}://${host}:${port}`,
    received,
    async waitFor(path, count, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hits = received.filter((r) => r.path === path);
        if (hits.length >= count) return hits;
        if (Date.now() > deadline) throw new Error(`${hits.length} of ${count} push requests to ${path}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** What a browser keeps for one subscription: the ECDH key pair and the auth secret. */
export interface Subscriber {
  subscription: PushSubscription;
  decrypt(body: Buffer): Buffer;
}

interface HttpEce {
  decrypt(buffer: Buffer, params: { version: 'aes128gcm'; privateKey: crypto.ECDH; authSecret: Buffer }): Buffer;
}
const ece = createRequire(import.meta.url)('http_ece') as HttpEce;

export function makeSubscriber(endpoint: string): Subscriber {
  const ecdh = crypto.createECDH('prime256v1');
  ecdh.generateKeys();
  const authSecret = crypto.randomBytes(16);
  return {
    subscription: {
      endpoint,
      keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: authSecret.toString('base64url') },
    },
    decrypt: (body) => ece.decrypt(body, { version: 'aes128gcm', privateKey: ecdh, authSecret }),
  };
}
