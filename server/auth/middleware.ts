/** Authentication: `Authorization: Bearer <token>` for API clients, the session cookie for the web app. */
import { getCookie } from 'hono/cookie';
import { createMiddleware } from 'hono/factory';
import { sendError } from '../http/errors.ts';
import type { AppEnv } from '../http/types.ts';
import type { SessionStore } from './sessions.ts';

export const SESSION_COOKIE = 'twinlens_session';

export function readToken(header: string | undefined, cookie: string | undefined): string | undefined {
  const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return m?.[1] ?? cookie;
}

export function requireUser(sessions: SessionStore) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const token = readToken(c.req.header('authorization'), getCookie(c, SESSION_COOKIE));
    const user = token ? await sessions.lookup(token) : null;
    if (!token || !user) {
      return sendError(c, 'unauthorized', 'log in first: POST /api/v1/auth/login', {
        'WWW-Authenticate': 'Bearer realm="twinlens"',
      });
    }
    c.set('user', user);
    c.set('token', token);
    await next();
  });
}
