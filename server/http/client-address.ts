/**
 * The client's address, for per-address limits. Without proxies it is the socket's peer. Behind
 * `TRUST_PROXY_HOPS` reverse proxies that each append the address they saw to X-Forwarded-For,
 * it is the entry the outermost trusted proxy appended: anything left of it came from the client
 * and may be made up.
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';

export function clientAddress(c: Context, trustedHops: number): string {
  const peer = (() => {
    try {
      return getConnInfo(c).remote.address ?? 'unknown';
    } catch {
      return 'unknown'; // not served by the Node adapter (in-process tests without a socket)
    }
  })();
  if (trustedHops <= 0) return peer;
  const forwarded = (c.req.header('x-forwarded-for') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return forwarded[forwarded.length - trustedHops] ?? peer;
}
