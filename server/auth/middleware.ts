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

export interface RequireUserOptions {
  /**
   * The task the request is about, if any: its record is read with the session, in one round
   * trip, and left in the context for the route (`ownTask` takes it from there).
   */
  taskOf?: (path: string) => string | undefined;
}

export function requireUser(sessions: SessionStore, opts: RequireUserOptions = {}) {
  return createMiddleware<AppEnv>(async (c, next) => {
    // Already checked for this request (route modules mounted side by side both guard /tasks/*).
    if (c.get('user')) return next();
    const token = readToken(c.req.header('authorization'), getCookie(c, SESSION_COOKIE));
    const taskId = opts.taskOf?.(c.req.path);
    const found = token ? await sessions.lookup(token, taskId) : null;
    if (!token || !found) {
      return sendError(c, 'unauthorized', 'log in first: POST /api/v1/auth/login', {
        'WWW-Authenticate': 'Bearer realm="twinlens"',
      });
    }
    c.set('user', found.user);
    c.set('token', token);
    if (taskId && found.task !== undefined) c.set('task', { id: taskId, stored: found.task });
    await next();
  });
}
