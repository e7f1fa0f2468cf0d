/** Web Push: the server's public key, and the logged-in user's subscriptions. */
import { ECDH } from 'node:crypto';
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import {
  PushMessageSchema,
  PushPublicKeySchema,
  PushSubscriptionSchema,
  PushUnsubscribeSchema,
} from '../../shared/contract.ts';
import { TwinlensError } from '../../shared/errors.ts';
import { requireUser } from '../auth/middleware.ts';
import type { SessionStore } from '../auth/sessions.ts';
import type { AppEnv, ValidationHook } from '../http/types.ts';
import type { OutboundClient } from '../net/outbound.ts';
import type { PushSubscriptionStore } from '../push/subscription-store.ts';
import { bearer, errors } from './openapi-common.ts';

export interface PushDeps {
  sessions: SessionStore;
  subscriptions: PushSubscriptionStore;
  vapidPublicKey: string;
  /** The server POSTs to whatever endpoint a user gives: it is checked by the guarded client's
   * rules (https, no credentials, not an address inside) when registered, and again at each send. */
  outbound: OutboundClient;
  validationHook: ValidationHook;
}

const publicKey = createRoute({
  method: 'get',
  path: '/push/public-key',
  tags: ['push'],
  summary: 'The VAPID public key, for `pushManager.subscribe({applicationServerKey})`',
  responses: {
    200: { description: 'The key (no login needed)', content: { 'application/json': { schema: PushPublicKeySchema } } },
  },
});

const subscribe = createRoute({
  method: 'post',
  path: '/push/subscriptions',
  tags: ['push'],
  summary: 'Register this browser’s push subscription: finished server tasks are announced to it',
  description:
    'The body is `PushSubscription.toJSON()`. Sending the same endpoint again replaces it (201 again). A user keeps the 20 most recent subscriptions. Each message is a PushMessage (see the schemas), encrypted for the subscription (aes128gcm).',
  security: bearer,
  request: { body: { required: true, content: { 'application/json': { schema: PushSubscriptionSchema } } } },
  responses: { 201: { description: 'Subscribed' }, ...errors(400, 401) },
});

const unsubscribe = createRoute({
  method: 'delete',
  path: '/push/subscriptions',
  tags: ['push'],
  summary: 'Stop announcing tasks to this endpoint',
  security: bearer,
  request: { body: { required: true, content: { 'application/json': { schema: PushUnsubscribeSchema } } } },
  responses: { 204: { description: 'Not subscribed (any more)' }, ...errors(400, 401) },
});

export function pushRoutes(deps: PushDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: deps.validationHook });
  // No route returns it (it travels through the push service), but clients decode it: document it.
  // A clone: zod 4 gives a schema the `.openapi()` that registering needs only if it was made after
  // @hono/zod-openapi extended zod, which depends on which module a process loaded first.
  app.openAPIRegistry.register('PushMessage', PushMessageSchema.clone());

  app.openapi(publicKey, (c) => c.json({ public_key: deps.vapidPublicKey }, 200));

  app.use('/push/subscriptions', requireUser(deps.sessions));
  app.openapi(subscribe, async (c) => {
    const sub = c.req.valid('json');
    // The schema checks the shape; a key that is not a curve point would fail every push, silently.
    if (!isP256Point(sub.keys.p256dh)) throw new TwinlensError('invalid_request', 'keys.p256dh: not a P-256 point');
    try {
      await deps.outbound.checkDestination(sub.endpoint);
    } catch (err) {
      throw new TwinlensError('invalid_request', `endpoint: ${(err as Error).message}`);
    }
    await deps.subscriptions.add(c.get('user').id, sub);
    return c.body(null, 201);
  });
  app.openapi(unsubscribe, async (c) => {
    await deps.subscriptions.remove(c.get('user').id, c.req.valid('json').endpoint);
    return c.body(null, 204);
  });

  return app;
}

function isP256Point(base64url: string): boolean {
  try {
    ECDH.convertKey(base64url, 'prime256v1', 'base64url');
    return true;
  } catch {
    return false;
  }
}
