/**
 * Cross-site request forgery: a request that changes something and is authenticated by the
 * session cookie must come from the app's own origin. Browsers attach the cookie to requests
 * from other origins of the same site (another port or subdomain: SameSite does not stop them),
 * and forms or `text/plain` fetches reach any route without a CORS preflight. So for unsafe
 * methods without a bearer token: `Sec-Fetch-Site` must be `same-origin`; where the browser does
 * not send it, `Origin` must be our own origin; a request with neither is refused if it carries
 * the session cookie. Bearer-token requests are unaffected: a page on another origin cannot set
 * `Authorization` without a preflight, which this server never grants. Applied to the whole app,
 * Bull Board's actions included.
 */

import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { SESSION_COOKIE } from '../auth/middleware.ts';
import { sendError } from './errors.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function sameOriginWrites(): MiddlewareHandler {
  return async (c, next) => {
    if (SAFE_METHODS.has(c.req.method)) return next();
    if (/^Bearer\s/i.test(c.req.header('authorization') ?? '')) return next();
    // An API key header, likewise: a page cannot set it on another origin without a preflight.
    if (c.req.header('x-api-key') !== undefined) return next();
    const site = c.req.header('sec-fetch-site');
    const origin = c.req.header('origin');
    const allowed = site
      ? site === 'same-origin'
      : origin
        ? origin === ownOrigin(c)
        : getCookie(c, SESSION_COOKIE) === undefined;
    if (allowed) return next();
    return sendError(
      c,
      'forbidden',
      `cross-origin ${c.req.method} refused (${site ? `Sec-Fetch-Site: ${site}` : origin ? `Origin: ${origin}` : 'no Origin'}); API clients send the token as Authorization: Bearer`,
    );
  };
}

/** This server's origin as the browser sees it (through the edge, X-Forwarded-Host/-Proto). */
function ownOrigin(c: Context): string {
  const url = new URL(c.req.url);
  const proto = c.req.header('x-forwarded-proto') ?? url.protocol.replace(':', '');
  const host = c.req.header('x-forwarded-host') ?? c.req.header('host') ?? url.host;
  return `${proto}://${host}`;
}
