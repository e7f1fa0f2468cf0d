/** POST /auth/login, POST /auth/logout, GET /auth/me, GET /auth/session. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { LoginRequestSchema, LoginResponseSchema, SessionStateSchema, UserSchema } from '../../shared/contract.ts';
import { TwinlensError } from '../../shared/errors.ts';
import type { LoginLimiter } from '../auth/login-limiter.ts';
import { readToken, requireUser, SESSION_COOKIE } from '../auth/middleware.ts';
import { DUMMY_HASH_PROMISE, verifyPassword } from '../auth/passwords.ts';
import type { SessionStore } from '../auth/sessions.ts';
import { publicUser, type UserStore } from '../auth/user-store.ts';
import { clientAddress } from '../http/client-address.ts';
import type { AppEnv, ValidationHook } from '../http/types.ts';
import { bearer, errorContent, errors, scoped } from './openapi-common.ts';

export interface AuthDeps {
  users: UserStore;
  sessions: SessionStore;
  limiter: LoginLimiter;
  /** Reverse proxies whose X-Forwarded-For entries are trusted (client-address.ts). */
  trustProxyHops: number;
  cookieSecure: 'auto' | 'true' | 'false';
  validationHook: ValidationHook;
}

const login = createRoute({
  method: 'post',
  path: '/auth/login',
  tags: ['auth'],
  summary: 'Log in: a bearer token for API clients and a session cookie for the web app',
  request: { body: { required: true, content: { 'application/json': { schema: LoginRequestSchema } } } },
  responses: {
    200: { description: 'Logged in', content: { 'application/json': { schema: LoginResponseSchema } } },
    ...errors(400, 401),
    429: {
      description:
        'Too many failed logins for this account or from this address (`rate_limited`); `Retry-After` says when to try again.',
      headers: z.object({ 'Retry-After': z.string() }),
      content: errorContent,
    },
  },
});

const logout = createRoute({
  method: 'post',
  path: '/auth/logout',
  tags: ['auth'],
  summary: 'End this session (the token stops working)',
  security: bearer,
  responses: { 204: { description: 'Logged out' }, ...errors(401) },
});

const me = createRoute({
  method: 'get',
  path: '/auth/me',
  tags: ['auth'],
  summary: 'The logged-in user',
  security: scoped(),
  responses: {
    200: { description: 'The user', content: { 'application/json': { schema: UserSchema } } },
    ...errors(401),
  },
});

const session = createRoute({
  method: 'get',
  path: '/auth/session',
  tags: ['auth'],
  summary: 'Who is logged in, if anyone (200 either way)',
  description:
    'For a page that asks on every visit: `{user: null}` when nobody is logged in, where `/auth/me` answers 401 (an error in the browser console).',
  responses: {
    200: { description: 'The user, or null', content: { 'application/json': { schema: SessionStateSchema } } },
  },
});

export function authRoutes(deps: AuthDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: deps.validationHook });
  const auth = requireUser(deps.sessions);

  app.openapi(login, async (c) => {
    const { username, password } = c.req.valid('json');
    const address = clientAddress(c, deps.trustProxyHops);
    // Checked before the password, so that guessing stops at the limit.
    const wait = await deps.limiter.retryAfter(username, address);
    if (wait > 0) {
      throw new TwinlensError('rate_limited', `too many failed logins; try again in ${wait} s`, {
        headers: { 'Retry-After': String(wait) },
      });
    }
    const user = await deps.users.findWithHash(username);
    // Verify against a dummy hash for unknown users so timing does not reveal who exists.
    const ok = await verifyPassword(password, user?.password_hash ?? (await DUMMY_HASH_PROMISE));
    if (!user || !ok) {
      await deps.limiter.failed(username, address);
      throw new TwinlensError('invalid_credentials', 'wrong username or password');
    }
    const pub = publicUser(user);
    const [{ token, expiresAt }] = await Promise.all([
      deps.sessions.create(pub),
      deps.limiter.succeeded(username, address),
    ]);
    const secure =
      deps.cookieSecure === 'auto'
        ? new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https'
        : deps.cookieSecure === 'true';
    setCookie(c, SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'Strict',
      secure,
      path: '/',
      maxAge: deps.sessions.ttlSeconds,
    });
    return c.json({ token, expires_at: expiresAt.toISOString(), user: pub }, 200);
  });

  app.use(logout.path, auth);
  app.openapi(logout, async (c) => {
    const token = readToken(c.req.header('authorization'), getCookie(c, SESSION_COOKIE));
    if (token) await deps.sessions.revoke(token);
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.body(null, 204);
  });

  app.use(me.path, auth);
  app.openapi(me, (c) => c.json(c.get('user'), 200));

  app.openapi(session, async (c) => {
    const token = readToken(c.req.header('authorization'), getCookie(c, SESSION_COOKIE));
    const found = token ? await deps.sessions.lookup(token) : null;
    return c.json({ user: found?.user ?? null }, 200);
  });

  return app;
}
