/**
 * web-push always sends with `https.request` (and takes only an `https.Agent`), whatever the
 * endpoint's scheme. Push services on the internet are https; for an endpoint that is plain
 * http (a push service on the same host or network, the tests' local one) this agent gives
 * `https.request` a plain TCP socket instead of a TLS one. The payload is end-to-end encrypted
 * either way; only the request around it is in the clear.
 */
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';

export class PlainHttpAgent extends https.Agent {
  constructor() {
    super({ keepAlive: false });
    // An http URL without a port means 80 (https.request would otherwise use the https default, 443).
    Object.assign(this, { defaultPort: 80 });
  }

  override createConnection(options: https.RequestOptions): Duplex {
    return net.createConnection({ host: options.host ?? 'localhost', port: Number(options.port) });
  }
}

export function isPlainHttp(endpoint: string): boolean {
  return endpoint.startsWith('http://');
}
