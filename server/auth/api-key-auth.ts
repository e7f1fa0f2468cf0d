/**
 * API key authentication, for every route under /api/v1, in front of the route modules.
 *
 * A request carries a key as `Authorization: Bearer tlk_…` or `X-API-Key: tlk_…`. What a route
 * needs is read from its own OpenAPI description, the one place it is declared (`security:
 * scoped('tasks:read')`, server/routes/openapi-common.ts): the document clients read and the check
 * made here cannot disagree. So:
 * - a public route (no `security`): the key is not even looked up;
 * - any other route: an unknown, revoked or expired key → 401 at once, before anything else;
 * - a route whose security names no `ApiKey` scope (logins, key management, push, admin) → 403
 *   `insufficient_scope`: those are for people, with a session; this is also what a route gets
 *   whose author forgot to declare a scope (closed by default);
 * - a key without the route's scope → 403 `insufficient_scope` naming it;
 * - else the request goes on as the key's user (`user` set: the route modules' `requireUser`
 *   then lets it through), with `api_key_id` for the request log. A path no described route
 *   matches gets no user from here; `requireUser` then answers 401 (it takes no keys).
 *
 * The secret is never logged: the request log writes the key's id, and error messages never
 * repeat what the client sent. Keys never touch the login limiter (they are not guessable:
 * 256 random bits) and create no session.
 */
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { API_KEY_PREFIX, type ApiKeyScope } from '../../shared/contract.ts';
import { sendError } from '../http/errors.ts';
import type { AppEnv } from '../http/types.ts';
import { taskIdInPath } from '../tasks/own-task.ts';
import type { ApiKeyStore } from './api-keys.ts';

/** The name the security scheme for keys has in the OpenAPI document. */
export const API_KEY_SCHEME = 'ApiKey';

/** The bits of an OpenAPI route definition read here (zod-to-openapi's registry entries). */
export interface RouteDefinition {
  type: string;
  route?: { method: string; path: string; security?: Record<string, string[]>[] | undefined };
}

/** What one described route asks of a key. */
export interface RouteScope {
  method: string;
  path: string;
  pattern: RegExp;
  /** `public`: no authentication; `session`: people only; else the scopes a key needs (all of them). */
  needs: 'public' | 'session' | readonly ApiKeyScope[];
}

/** The table of described routes, most literal first (`/tasks/export` before `/tasks/{id}`). */
export function routeScopes(definitions: readonly RouteDefinition[]): RouteScope[] {
  const table: (RouteScope & { params: number })[] = [];
  for (const def of definitions) {
    if (def.type !== 'route' || !def.route) continue;
    const { method, path, security } = def.route;
    const keyEntry = security?.find((s) => API_KEY_SCHEME in s);
    const needs = !security?.length
      ? 'public'
      : keyEntry
        ? ((keyEntry[API_KEY_SCHEME] ?? []) as ApiKeyScope[])
        : 'session';
    const source = path
      .split('/')
      .map((seg) => (/^\{.+\}$/.test(seg) ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    table.push({
      method: method.toUpperCase(),
      path,
      pattern: new RegExp(`^${source}$`),
      needs,
      params: (path.match(/\{/g) ?? []).length,
    });
  }
  return table.sort((a, b) => a.params - b.params).map(({ params: _p, ...r }) => r);
}

export function findRoute(table: readonly RouteScope[], method: string, path: string): RouteScope | undefined {
  const m = method === 'HEAD' ? 'GET' : method;
  return table.find((r) => r.method === m && r.pattern.test(path));
}

/** The key a request carries, if any: X-API-Key, or a bearer token with the key prefix. */
export function readApiKey(c: Context): string | undefined {
  const header = c.req.header('x-api-key');
  if (header !== undefined) return header.trim();
  const m = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '');
  return m?.[1]?.startsWith(API_KEY_PREFIX) ? m[1] : undefined;
}

export function apiKeyAuth(keys: ApiKeyStore, definitions: () => readonly RouteDefinition[]) {
  // Built on the first request: by then every route module has described its routes.
  let table: RouteScope[] | undefined;
  return createMiddleware<AppEnv>(async (c, next) => {
    const secret = readApiKey(c);
    if (secret === undefined) return next();
    table ??= routeScopes(definitions());
    const route = findRoute(table, c.req.method, c.req.path);
    if (!route || route.needs === 'public') return next();
    const taskId = c.req.path.startsWith('/api/v1/tasks/') ? taskIdInPath(c.req.path) : undefined;
    const found = await keys.lookup(secret, taskId);
    if (found === 'unknown' || found === 'expired') {
      return sendError(
        c,
        'unauthorized',
        found === 'expired' ? 'this API key has expired' : 'this API key is not valid (unknown or revoked)',
        { 'WWW-Authenticate': 'Bearer realm="twinlens", error="invalid_token"' },
      );
    }
    c.set('apiKeyId', found.keyId);
    if (route.needs === 'session') {
      return sendError(
        c,
        'insufficient_scope',
        `${c.req.method} ${route.path} is for people, not API keys: log in (POST /api/v1/auth/login)`,
      );
    }
    const missing = route.needs.filter((s) => !found.scopes.includes(s));
    if (missing.length > 0) {
      return sendError(c, 'insufficient_scope', `this API key lacks the scope ${missing.join(', ')}`, {
        'WWW-Authenticate': `Bearer realm="twinlens", error="insufficient_scope", scope="${missing.join(' ')}"`,
      });
    }
    c.set('user', found.user);
    if (taskId && found.task !== undefined) c.set('task', { id: taskId, stored: found.task });
    return next();
  });
}
