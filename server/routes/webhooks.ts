/** Webhooks: the user's settings (default callback URL, signing secret) and a task's delivery log. */
import { randomUUID } from 'node:crypto';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import {
  TaskWebhookSchema,
  WebhookDeliveryListSchema,
  WebhookSecretSchema,
  WebhookSettingsSchema,
  WebhookSettingsUpdateSchema,
  WebhookSettingsViewSchema,
} from '../../shared/contract.ts';
import { requireUser } from '../auth/middleware.ts';
import type { SessionStore } from '../auth/sessions.ts';
import type { AppEnv, ValidationHook } from '../http/types.ts';
import { ownTask, taskIdInPath } from '../tasks/own-task.ts';
import type { TaskStore } from '../tasks/task-store.ts';
import type { WebhookService } from '../webhooks/webhook-service.ts';
import { errors, scoped } from './openapi-common.ts';

export interface WebhookDeps {
  sessions: SessionStore;
  store: TaskStore;
  webhooks: WebhookService;
  validationHook: ValidationHook;
}

const SIGNING =
  'Each webhook is signed as the Standard Webhooks specification says: `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, keyed with the base64-decoded part of the secret after `whsec_`.';

const getSettings = createRoute({
  method: 'get',
  path: '/webhooks/settings',
  tags: ['webhooks'],
  summary: 'My default callback URL, signing secret, and my webhooks’ recent failed attempts',
  description: `The secret is made on first use. ${SIGNING} \`recent_failures\`: the latest failed attempts of my task and album webhooks, newest first (each subject's full log: GET /tasks/{id}/deliveries, GET /batches/{id}/deliveries).`,
  security: scoped('webhooks:read'),
  responses: {
    200: { description: 'The settings', content: { 'application/json': { schema: WebhookSettingsViewSchema } } },
    ...errors(401),
  },
});

const putSettings = createRoute({
  method: 'put',
  path: '/webhooks/settings',
  tags: ['webhooks'],
  summary: 'Set (or clear, with null) the default callback URL for tasks sent without `callback_url`',
  description:
    'https only (plain http only where the operator allows it); a URL with credentials, or whose host is an IP address inside the server’s network (loopback, private, link-local, metadata…), is refused with `callback_url_refused`. A name is checked at every delivery.',
  security: scoped('webhooks:write'),
  request: { body: { required: true, content: { 'application/json': { schema: WebhookSettingsUpdateSchema } } } },
  responses: {
    200: { description: 'The settings', content: { 'application/json': { schema: WebhookSettingsSchema } } },
    ...errors(400, 401),
  },
});

const rotate = createRoute({
  method: 'post',
  path: '/webhooks/secret/rotate',
  tags: ['webhooks'],
  summary: 'A new signing secret; the old one stops at once (queued retries are signed with the new one)',
  security: scoped('webhooks:write'),
  responses: {
    200: { description: 'The new secret', content: { 'application/json': { schema: WebhookSecretSchema } } },
    ...errors(401),
  },
});

const deliveries = createRoute({
  method: 'get',
  path: '/tasks/{id}/deliveries',
  tags: ['webhooks'],
  summary: 'The attempts to deliver this task’s webhook, oldest first',
  security: scoped('tasks:read'),
  request: {
    params: z.object({ id: z.string().meta({ param: { name: 'id', in: 'path' }, example: randomUUID() }) }),
  },
  responses: {
    200: { description: 'The attempts', content: { 'application/json': { schema: WebhookDeliveryListSchema } } },
    ...errors(401, 404),
  },
});

export function webhookRoutes(deps: WebhookDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: deps.validationHook });
  // No route returns it (it is what receivers get), but they decode it: document it (a clone, as
  // for PushMessage in push.ts).
  app.openAPIRegistry.register('TaskWebhook', TaskWebhookSchema.clone());
  app.use('/webhooks/*', requireUser(deps.sessions));
  app.use('/tasks/*', requireUser(deps.sessions, { taskOf: taskIdInPath }));

  app.openapi(getSettings, async (c) => c.json(await deps.webhooks.view(c.get('user').id), 200));
  app.openapi(putSettings, async (c) => {
    const { callback_url } = c.req.valid('json');
    return c.json(await deps.webhooks.setDefaultUrl(c.get('user').id, callback_url), 200);
  });
  app.openapi(rotate, async (c) => c.json({ secret: await deps.webhooks.rotateSecret(c.get('user').id) }, 200));
  app.openapi(deliveries, async (c) => {
    const id = c.req.valid('param').id;
    // Only the task's owner: another user's id answers 404 as for tasks.
    await ownTask(deps.store, id, c.get('user').id, c.get('task'));
    return c.json(await deps.webhooks.deliveries(id), 200);
  });
  return app;
}
