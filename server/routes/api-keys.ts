/**
 * API keys (issue 23): a user makes, lists and revokes their own; admins list and revoke anyone's.
 * For people only (a session): a key cannot make keys, so a leaked narrow key cannot widen itself.
 */
import { randomUUID } from 'node:crypto';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { createMiddleware } from 'hono/factory';
import { ApiKeyCreatedSchema, ApiKeyCreateSchema, ApiKeyListSchema } from '../../shared/contract.ts';
import { TwinlensError } from '../../shared/errors.ts';
import type { ApiKeyStore } from '../auth/api-keys.ts';
import { requireUser } from '../auth/middleware.ts';
import type { SessionStore } from '../auth/sessions.ts';
import { sendError } from '../http/errors.ts';
import type { AppEnv, ValidationHook } from '../http/types.ts';
import { bearer, errors } from './openapi-common.ts';

export interface ApiKeyDeps {
  apiKeys: ApiKeyStore;
  sessions: SessionStore;
  validationHook: ValidationHook;
}

const IdParam = z.object({ id: z.string().meta({ param: { name: 'id', in: 'path' }, example: randomUUID() }) });

const create = createRoute({
  method: 'post',
  path: '/api-keys',
  tags: ['api-keys'],
  summary: 'Make an API key for programs; its secret is in this answer only',
  description:
    'Only a hash of the secret is kept: store it now. Send it as `Authorization: Bearer tlk_…` or `X-API-Key: tlk_…`; it can do what its scopes allow, until it expires or is revoked.',
  security: bearer,
  request: { body: { required: true, content: { 'application/json': { schema: ApiKeyCreateSchema } } } },
  responses: {
    201: { description: 'The key, with its secret', content: { 'application/json': { schema: ApiKeyCreatedSchema } } },
    ...errors(400, 401, 403, 409),
  },
});

const listOwn = createRoute({
  method: 'get',
  path: '/api-keys',
  tags: ['api-keys'],
  summary: 'Your API keys, newest first (never their secrets)',
  security: bearer,
  responses: {
    200: { description: 'The keys', content: { 'application/json': { schema: ApiKeyListSchema } } },
    ...errors(401, 403),
  },
});

const revokeOwn = createRoute({
  method: 'delete',
  path: '/api-keys/{id}',
  tags: ['api-keys'],
  summary: 'Revoke one of your keys: the next request with it is refused (401)',
  security: bearer,
  request: { params: IdParam },
  responses: { 204: { description: 'Revoked' }, ...errors(401, 403, 404) },
});

const listAll = createRoute({
  method: 'get',
  path: '/admin/api-keys',
  tags: ['api-keys'],
  summary: 'Every user’s API keys (admins)',
  security: bearer,
  responses: {
    200: { description: 'The keys', content: { 'application/json': { schema: ApiKeyListSchema } } },
    ...errors(401, 403),
  },
});

const revokeAny = createRoute({
  method: 'delete',
  path: '/admin/api-keys/{id}',
  tags: ['api-keys'],
  summary: 'Revoke any user’s key (admins)',
  security: bearer,
  request: { params: IdParam },
  responses: { 204: { description: 'Revoked' }, ...errors(401, 403, 404) },
});

export function apiKeyRoutes(deps: ApiKeyDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: deps.validationHook });
  const auth = requireUser(deps.sessions);
  app.use('/api-keys', auth);
  app.use('/api-keys/*', auth);
  app.use('/admin/api-keys', auth);
  app.use('/admin/api-keys/*', auth);
  app.use('/admin/api-keys', adminOnly);
  app.use('/admin/api-keys/*', adminOnly);

  app.openapi(create, async (c) => c.json(await deps.apiKeys.create(c.get('user'), c.req.valid('json')), 201));

  app.openapi(listOwn, async (c) => c.json({ items: await deps.apiKeys.listOf(c.get('user').id) }, 200));

  app.openapi(revokeOwn, async (c) => {
    // Another user's key answers 404, as an unknown one does: ids of others are not revealed.
    if (!(await deps.apiKeys.revoke(c.req.valid('param').id, c.get('user').id))) {
      throw new TwinlensError('not_found', 'no such API key');
    }
    return c.body(null, 204);
  });

  app.openapi(listAll, async (c) => c.json({ items: await deps.apiKeys.list() }, 200));

  app.openapi(revokeAny, async (c) => {
    if (!(await deps.apiKeys.revoke(c.req.valid('param').id, null))) {
      throw new TwinlensError('not_found', 'no such API key');
    }
    return c.body(null, 204);
  });

  return app;
}

const adminOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (c.get('user').role !== 'admin') return sendError(c, 'forbidden', 'for admins only');
  await next();
});
