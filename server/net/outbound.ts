/**
 * The one way the server makes a request to a URL a user gave it (Web Push endpoints, webhooks).
 *
 * A user controls where such a URL points, so every request is guarded:
 * - https only, unless the operator allows plain http (OUTBOUND_ALLOW_HTTP, for local tests);
 *   no credentials in the URL;
 * - the address is checked when the connection is made, not only when the URL was registered:
 *   names are resolved by our own lookup, which refuses a name if any of its addresses is
 *   inside (address-policy.ts), and the connected socket's address is checked again;
 * - redirects are never followed (the answer is returned as it is);
 * - a connect timeout and a total timeout; at most `maxResponseBytes` of the answer are read,
 *   then the connection is dropped;
 * - every failure is an `OutboundError` for that one request: nothing escapes to crash the
 *   process, and requests never wait on each other (no shared agent or pool).
 */
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction, Socket } from 'node:net';
import net from 'node:net';
import { AddressPolicy } from './address-policy.ts';

export interface OutboundOptions {
  /** Plain http allowed (tests, a push service on the same host). */
  allowHttp: boolean;
  /** CIDRs exempted from the address check (OUTBOUND_ALLOW_ADDRESSES). */
  allowAddresses: readonly string[];
  connectTimeoutMs?: number;
  /** From the start of the request to the end of the (capped) answer. */
  totalTimeoutMs?: number;
  maxResponseBytes?: number;
  /** Name resolution; `dns.lookup` by default (tests may resolve names their own way). */
  resolve?: (hostname: string) => Promise<{ address: string; family: number }[]>;
}

export interface OutboundRequest {
  method?: 'POST' | 'PUT' | 'GET';
  headers?: Record<string, string | number>;
  body?: Uint8Array | string;
}

export interface OutboundResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** At most `maxResponseBytes`. */
  body: Buffer;
  /** The answer went on past the cap and was cut off. */
  truncated: boolean;
  ms: number;
}

export type OutboundFailure = 'refused' | 'timeout' | 'network';

export class OutboundError extends Error {
  override name = 'OutboundError';
  constructor(
    readonly kind: OutboundFailure,
    message: string,
  ) {
    super(message);
  }
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_TOTAL_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

export class OutboundClient {
  private readonly policy: AddressPolicy;
  private readonly connectTimeoutMs: number;
  private readonly totalTimeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly resolve: NonNullable<OutboundOptions['resolve']>;

  constructor(private readonly opts: OutboundOptions) {
    this.policy = new AddressPolicy(opts.allowAddresses);
    this.connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.totalTimeoutMs = opts.totalTimeoutMs ?? DEFAULT_TOTAL_TIMEOUT_MS;
    this.maxResponseBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.resolve = opts.resolve ?? ((host) => dns.promises.lookup(host, { all: true, verbatim: true }));
  }

  /**
   * The URL's shape: parses, and refuses a scheme, credentials or an IP literal that may not be
   * used. Cheap and synchronous: for checking a URL when it is registered (the address a name
   * resolves to is checked at connect time, and by `checkDestination`).
   */
  checkUrl(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new OutboundError('refused', 'not a URL');
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && this.opts.allowHttp)) {
      throw new OutboundError('refused', this.opts.allowHttp ? 'only http(s) URLs' : 'only https URLs');
    }
    if (url.username || url.password) throw new OutboundError('refused', 'URLs with credentials are not accepted');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (net.isIP(host)) {
      const why = this.policy.refuse(host);
      if (why) throw new OutboundError('refused', `${host} is a ${why} address`);
    }
    return url;
  }

  /**
   * `checkUrl`, then resolves the name and refuses it when it points inside. For registration:
   * the user hears at once. A name that does not resolve now passes (it is checked again at
   * every connection).
   */
  async checkDestination(raw: string): Promise<URL> {
    const url = this.checkUrl(raw);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (net.isIP(host)) return url;
    const addresses = await this.resolve(host).catch(() => []);
    for (const a of addresses) {
      const why = this.policy.refuse(a.address);
      if (why) throw new OutboundError('refused', `${host} resolves to ${a.address}, a ${why} address`);
    }
    return url;
  }

  /** One request; resolves with the (capped) answer whatever its status, rejects with OutboundError. */
  request(raw: string, req: OutboundRequest = {}): Promise<OutboundResponse> {
    let url: URL;
    try {
      url = this.checkUrl(raw);
    } catch (err) {
      return Promise.reject(err);
    }
    const started = performance.now();
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise<OutboundResponse>((resolve, reject) => {
      let settled = false;
      const fail = (err: OutboundError) => {
        if (settled) return;
        settled = true;
        clearTimeout(total);
        request.destroy();
        reject(err);
      };
      const total = setTimeout(
        () => fail(new OutboundError('timeout', `no complete answer within ${this.totalTimeoutMs} ms`)),
        this.totalTimeoutMs,
      );
      const request = lib.request(
        {
          method: req.method ?? 'POST',
          hostname: url.hostname.replace(/^\[|\]$/g, ''),
          port: url.port || undefined,
          path: `${url.pathname}${url.search}`,
          headers: req.headers,
          // A fresh connection per request: no pool one slow endpoint could hold for others.
          agent: false,
          lookup: this.guardedLookup(),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          let truncated = false;
          const finish = () => {
            if (settled) return;
            settled = true;
            clearTimeout(total);
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks),
              truncated,
              ms: performance.now() - started,
            });
          };
          res.on('data', (chunk: Buffer) => {
            if (truncated) return;
            const room = this.maxResponseBytes - size;
            if (chunk.length > room) {
              // Enough: an answer that goes on has nothing more we need, and must not fill memory.
              chunks.push(chunk.subarray(0, room));
              size += room;
              truncated = true;
              finish();
              res.destroy();
              request.destroy();
              return;
            }
            chunks.push(chunk);
            size += chunk.length;
          });
          res.on('end', finish);
          res.on('error', (err) => fail(new OutboundError('network', err.message)));
          res.on('aborted', () => fail(new OutboundError('network', 'the answer was cut off')));
        },
      );
      request.on('socket', (socket: Socket) => {
        const connectTimer = setTimeout(
          () => fail(new OutboundError('timeout', `no connection within ${this.connectTimeoutMs} ms`)),
          this.connectTimeoutMs,
        );
        socket.once('connect', () => {
          clearTimeout(connectTimer);
          // The address actually connected to, whatever resolved it: the last word.
          const why = socket.remoteAddress ? this.policy.refuse(socket.remoteAddress) : 'an unknown';
          if (why) fail(new OutboundError('refused', `connected to ${socket.remoteAddress}, a ${why} address`));
        });
        socket.once('close', () => clearTimeout(connectTimer));
      });
      request.on('error', (err) =>
        fail(err instanceof OutboundError ? err : new OutboundError('network', err.message)),
      );
      if (req.body !== undefined) request.write(req.body);
      request.end();
    });
  }

  /** A `lookup` for net.connect that refuses names with any address inside. */
  private guardedLookup(): LookupFunction {
    return (hostname, options, callback) => {
      this.resolve(hostname).then(
        (addresses) => {
          const family = typeof options === 'object' ? options.family : undefined;
          const usable = addresses.filter((a) => !family || family === a.family);
          for (const a of usable) {
            const why = this.policy.refuse(a.address);
            if (why) {
              const err = new OutboundError('refused', `${hostname} resolves to ${a.address}, a ${why} address`);
              return callback(err as NodeJS.ErrnoException, '', 0);
            }
          }
          const first = usable[0];
          if (!first) {
            const err = Object.assign(new Error(`${hostname} does not resolve`), { code: 'ENOTFOUND' });
            return callback(err, '', 0);
          }
          // Node asks for every address (`all`) when it may try several (happy eyeballs).
          if (typeof options === 'object' && options.all) {
            (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, usable);
          } else callback(null, first.address, first.family);
        },
        (err: NodeJS.ErrnoException) => callback(err, '', 0),
      );
    };
  }
}
