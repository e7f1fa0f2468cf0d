/** What a route asks of an API key, read from its OpenAPI description; and where the CLI takes its credentials from. */
import { describe, expect, it } from 'vitest';
import { findRoute, type RouteDefinition, routeScopes } from '../../server/auth/api-key-auth.ts';
import { credentialsFrom } from '../../server/cli/credentials.ts';
import { TwinlensApiError, TwinlensClient } from '../../shared/client/twinlens-client.ts';

const session: Record<string, string[]>[] = [{ Bearer: [] }, { Cookie: [] }];
const defs: RouteDefinition[] = [
  { type: 'schema' },
  {
    type: 'route',
    route: { method: 'get', path: '/api/v1/tasks/{id}', security: [...session, { ApiKey: ['tasks:read'] }] },
  },
  {
    type: 'route',
    route: { method: 'get', path: '/api/v1/tasks/export', security: [...session, { ApiKey: ['tasks:read'] }] },
  },
  {
    type: 'route',
    route: { method: 'delete', path: '/api/v1/tasks/{id}', security: [...session, { ApiKey: ['tasks:write'] }] },
  },
  { type: 'route', route: { method: 'post', path: '/api/v1/api-keys', security: session } },
  { type: 'route', route: { method: 'get', path: '/api/v1/models' } },
  { type: 'route', route: { method: 'get', path: '/api/v1/auth/me', security: [...session, { ApiKey: [] }] } },
  {
    type: 'route',
    route: { method: 'get', path: '/api/v1/a.b/{x}', security: [...session, { ApiKey: ['tasks:read'] }] },
  },
];

describe('routeScopes', () => {
  const table = routeScopes(defs);
  it.each([
    ['GET', '/api/v1/tasks/0a', ['tasks:read'], '/api/v1/tasks/{id}'],
    ['HEAD', '/api/v1/tasks/0a', ['tasks:read'], '/api/v1/tasks/{id}'],
    ['DELETE', '/api/v1/tasks/0a', ['tasks:write'], '/api/v1/tasks/{id}'],
    ['GET', '/api/v1/tasks/export', ['tasks:read'], '/api/v1/tasks/export'],
    ['POST', '/api/v1/api-keys', 'session', '/api/v1/api-keys'],
    ['GET', '/api/v1/models', 'public', '/api/v1/models'],
    ['GET', '/api/v1/auth/me', [], '/api/v1/auth/me'],
    ['GET', '/api/v1/a.b/1', ['tasks:read'], '/api/v1/a.b/{x}'],
  ] as const)('%s %s → %j', (method, path, needs, route) => {
    const found = findRoute(table, method, path);
    expect(found?.needs).toEqual(needs);
    expect(found?.path).toBe(route);
  });

  it.each([
    ['PUT', '/api/v1/tasks/0a'], // no such method
    ['GET', '/api/v1/tasks/0a/more'], // a parameter is one segment
    ['GET', '/api/v1/tasks/'], // an empty parameter is none
    ['GET', '/api/v1/aXb/1'], // a dot in a path is a dot
    ['GET', '/api/v1/models/extra'],
  ])('%s %s matches nothing (no key gets a user from there)', (method, path) => {
    expect(findRoute(table, method, path)).toBeUndefined();
  });
});

describe('the CLI’s credentials', () => {
  const key = `tlk_${'k'.repeat(43)}`;
  it.each([
    [{ 'api-key': key, token: 't' }, { TWINLENS_TOKEN: 'e' }, { apiKey: key }],
    [{ token: 't' }, { TWINLENS_API_KEY: key }, { token: 't' }], // a flag wins over the environment
    [{}, { TWINLENS_API_KEY: key, TWINLENS_TOKEN: 'e' }, { apiKey: key }],
    [{}, { TWINLENS_TOKEN: 'e' }, { token: 'e' }],
    [{ user: 'bob' }, {}, { user: 'bob' }],
    [{}, { TWINLENS_API_KEY: '' }, { user: undefined }],
  ])('%j with %j → %j', (flags, env, expected) => {
    expect(credentialsFrom(flags, env)).toEqual(expected);
  });

  it('the typed client refuses a malformed key without repeating it', () => {
    const bad = 'tlk_oops-this-is-no-key';
    let err: unknown;
    try {
      new TwinlensClient({ baseUrl: 'http://127.0.0.1:1', apiKey: bad });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TwinlensApiError);
    expect((err as Error).message).not.toContain(bad);
  });
});
