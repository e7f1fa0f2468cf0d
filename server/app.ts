/**
 * The HTTP app: Hono routes under /api/v1, the OpenAPI document and Swagger UI generated from
 * the shared schemas, health checks, and the built web app. Its services come from the
 * composition root (server/compose.ts); tests build the same app in their own process.
 */

import fs from 'node:fs';
import path from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import { swaggerUI } from '@hono/swagger-ui';
import { OpenAPIHono } from '@hono/zod-openapi';
import { secureHeaders } from 'hono/secure-headers';
import {
  APP_CONTENT_SECURITY_POLICY,
  APP_ISOLATION_HEADERS,
  APP_PERMISSIONS_POLICY,
  cacheControlFor,
  NO_CACHE,
} from '../shared/web-headers.ts';
import { API_KEY_SCHEME, apiKeyAuth } from './auth/api-key-auth.ts';
import type { Services } from './compose.ts';
import { admission } from './http/admission.ts';
import { refuseDuplicateQuery } from './http/duplicate-query.ts';
import { errorBody, errorHandler, sendError } from './http/errors.ts';
import { requireRedis } from './http/redis-gate.ts';
import { sameOriginWrites } from './http/same-origin.ts';
import type { AppEnv } from './http/types.ts';
import { uploadLimit } from './http/upload-limit.ts';
import type { Logger } from './log.ts';
import { apiMetrics } from './metrics/api-metrics.ts';
import { ADMIN_QUEUES_PATH, adminQueueRoutes } from './routes/admin-queues.ts';
import { apiKeyRoutes } from './routes/api-keys.ts';
import { authRoutes } from './routes/auth.ts';
import { batchRoutes } from './routes/batches.ts';
import { eventRoutes } from './routes/events.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { modelFileRoutes, modelRoutes } from './routes/models.ts';
import { errorContent } from './routes/openapi-common.ts';
import { pushRoutes } from './routes/push.ts';
import { statsRoutes } from './routes/stats.ts';
import { taskExportRoutes } from './routes/task-export.ts';
import { taskRoutes } from './routes/tasks.ts';
import { webhookRoutes } from './routes/webhooks.ts';

export interface AppOptions {
  log: Logger;
  /** The VAPID public key (base64url) browsers subscribe with. */
  vapidPublicKey: string;
}

export function createApp(services: Services, opts: AppOptions) {
  const { config } = services;
  const { log } = opts;
  const deps = services;
  const app = new OpenAPIHono<AppEnv>();

  // Request validation failures become our error format, naming the first bad field.
  const validationHook = (
    result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } },
    c: Parameters<typeof sendError>[0],
  ) => {
    if (!result.success) {
      const issue = result.error?.issues[0];
      const where = issue?.path.length ? `${issue.path.map(String).join('.')}: ` : '';
      return sendError(c, 'invalid_request', `${where}${issue?.message ?? 'invalid request'}`);
    }
  };

  app.onError(errorHandler(log));
  app.use('*', secureHeaders({ crossOriginResourcePolicy: 'same-origin' }));
  // Writes authenticated by the session cookie only from our own origin (Bull Board's too).
  app.use('*', sameOriginWrites());
  const metrics = apiMetrics({ queue: deps.queue, workers: deps.workers });
  app.use('*', metrics.http);
  // One JSON line per API request: info when it did not succeed (with the error code), debug otherwise.
  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    const p = c.req.path;
    if (!p.startsWith('/api/') && !p.startsWith('/admin/')) return;
    const status = c.res.status;
    const fields: Record<string, unknown> = { method: c.req.method, path: p, status };
    fields.ms = Math.round(performance.now() - started);
    const taskId = /^\/api\/v1\/tasks\/([^/]+)/.exec(p)?.[1];
    if (taskId) fields.task_id = taskId;
    // Which key, never the key itself (nor any header: they may carry secrets).
    const apiKeyId = c.get('apiKeyId');
    if (apiKeyId) fields.api_key_id = apiKeyId;
    if (status < 200 || status >= 300) {
      if (status >= 400 && c.res.headers.get('content-type')?.startsWith('application/json')) {
        const body = (await c.res
          .clone()
          .json()
          .catch(() => null)) as { error?: { code?: unknown } } | null;
        if (typeof body?.error?.code === 'string') fields.error_code = body.error.code;
      }
      log.info('request', fields);
    } else {
      log.debug('request', fields);
    }
  });

  // A query parameter twice: 400 duplicate_field, before anything else is looked at.
  app.use('/api/v1/*', refuseDuplicateQuery());
  // Fail fast with 503 while Redis is away, rather than holding requests until it is back.
  app.use('/api/v1/*', requireRedis(deps.redis));
  app.use(`${ADMIN_QUEUES_PATH}/*`, requireRedis(deps.redis));

  // Body limits are enforced while the body streams in, not after it has been buffered.
  app.use('/api/v1/tasks', uploadLimit({ maxBytes: config.MAX_UPLOAD_BYTES }));
  app.use('/api/v1/batches', uploadLimit({ maxBytes: config.MAX_BATCH_UPLOAD_BYTES }));
  app.use('/api/v1/batches/:id/images', uploadLimit({ maxBytes: config.MAX_BATCH_UPLOAD_BYTES }));
  app.use('/api/v1/auth/*', uploadLimit({ maxBytes: 16 * 1024 }));
  app.use('/api/v1/push/*', uploadLimit({ maxBytes: 16 * 1024 }));
  app.use('/api/v1/webhooks/*', uploadLimit({ maxBytes: 16 * 1024 }));
  app.use('/api/v1/api-keys', uploadLimit({ maxBytes: 16 * 1024 }));

  // API keys, before the route modules: what each route needs is read from its OpenAPI
  // description (`scoped(…)` in its module), once every module has described its routes.
  app.use(
    '/api/v1/*',
    apiKeyAuth(deps.apiKeys, () => app.openAPIRegistry.definitions),
  );

  const v1 = new OpenAPIHono<AppEnv>();
  v1.route(
    '/',
    authRoutes({
      users: deps.users,
      sessions: deps.sessions,
      limiter: deps.loginLimiter,
      trustProxyHops: config.TRUST_PROXY_HOPS,
      cookieSecure: config.COOKIE_SECURE,
      validationHook,
    }),
  );
  // Before the task routes: /tasks/export is not a task id.
  v1.route('/', taskExportRoutes({ store: deps.store, sessions: deps.sessions, validationHook }));
  v1.route(
    '/',
    taskRoutes({
      tasks: deps.tasks,
      store: deps.store,
      blobs: deps.blobs,
      sessions: deps.sessions,
      events: deps.events,
      webhooks: deps.webhooks,
      models: deps.models,
      admission: admission({
        redis: deps.redis,
        keys: deps.keys,
        queue: deps.queue,
        workers: deps.workers,
        maxQueueDepth: config.MAX_QUEUE_DEPTH,
        ratePerMinute: config.RATE_LIMIT_PER_MINUTE,
      }),
      limits: {
        maxPixels: config.MAX_IMAGE_PIXELS,
        minSide: config.MIN_IMAGE_SIDE,
        maxUploadBytes: config.MAX_UPLOAD_BYTES,
      },
      validationHook,
    }),
  );
  v1.route(
    '/',
    batchRoutes({
      batches: deps.batches,
      webhooks: deps.webhooks,
      models: deps.models,
      tasks: deps.tasks,
      queue: deps.queue,
      workers: deps.workers,
      sessions: deps.sessions,
      // One request counts once toward the rate limit; the album lane has its own depth.
      admission: admission({
        redis: deps.redis,
        keys: deps.keys,
        queue: deps.queue,
        workers: deps.workers,
        maxQueueDepth: config.MAX_BATCH_QUEUE_DEPTH,
        depthOf: (counts) => counts.batchWaiting,
        ratePerMinute: config.RATE_LIMIT_PER_MINUTE,
      }),
      maxImagesPerRequest: config.MAX_BATCH_IMAGES_PER_REQUEST,
      validationHook,
    }),
  );
  v1.route('/', eventRoutes({ store: deps.store, sessions: deps.sessions, events: deps.events, log, validationHook }));
  v1.route(
    '/',
    pushRoutes({
      sessions: deps.sessions,
      subscriptions: deps.pushSubscriptions,
      vapidPublicKey: opts.vapidPublicKey,
      outbound: deps.outbound,
      validationHook,
    }),
  );
  v1.route('/', webhookRoutes({ sessions: deps.sessions, store: deps.store, webhooks: deps.webhooks, validationHook }));
  v1.route(
    '/',
    statsRoutes({
      queue: deps.queue,
      workers: deps.workers,
      tasks: deps.tasks,
      models: deps.models,
      sessions: deps.sessions,
    }),
  );
  v1.route('/', apiKeyRoutes({ apiKeys: deps.apiKeys, sessions: deps.sessions, validationHook }));
  v1.route('/', modelRoutes({ models: deps.models, workers: deps.workers, tasks: deps.tasks }));
  app.route('/api/v1', v1);
  app.route('/', metricsRoutes({ registry: metrics.registry, queue: deps.queue, token: config.METRICS_TOKEN }));
  app.route(ADMIN_QUEUES_PATH, adminQueueRoutes({ queue: deps.queue, sessions: deps.sessions }));
  app.route('/', healthRoutes({ redis: deps.redis, workers: deps.workers, storage: deps.blobs }));

  // Every route a key may use can answer 403 `insufficient_scope`: said once here, not in each route.
  // (A new responses object: the one given is the route module's own constant, shared by every app.)
  for (const def of app.openAPIRegistry.definitions) {
    if (def.type !== 'route' || !def.route.security?.some((s) => API_KEY_SCHEME in s)) continue;
    if (def.route.responses[403]) continue;
    const forbidden = { description: 'An API key without the scope this needs', content: errorContent };
    def.route.responses = { ...def.route.responses, 403: forbidden };
  }
  app.openAPIRegistry.registerComponent('securitySchemes', 'Bearer', {
    type: 'http',
    scheme: 'bearer',
    description:
      'The token from POST /api/v1/auth/login, or an API key (`tlk_…`, POST /api/v1/api-keys): a key is held to the scopes its route lists under ApiKey, and routes that list none are for sessions only (403 `insufficient_scope`)',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', API_KEY_SCHEME, {
    type: 'apiKey',
    in: 'header',
    name: 'X-API-Key',
    description:
      'An API key (`tlk_…`, made with POST /api/v1/api-keys), here or as `Authorization: Bearer tlk_…`. Each route lists the scope it needs; a key without it gets 403 `insufficient_scope`, an unknown, revoked or expired key 401.',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'Cookie', {
    type: 'apiKey',
    in: 'cookie',
    name: 'twinlens_session',
  });
  app.doc31('/api/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Twinlens API',
      version: '1',
      description:
        'Object detection on a server queue: upload an image, get a task id at once, then poll the task, or follow its events, until it is final; or be told by Web Push. Every error is `{error: {code, message}}`.',
    },
  });
  app.get('/api/docs', swaggerUI({ url: '/api/openapi.json' }));
  // Every model's files, for the device path (the built-ins are in the web build too): app files, isolated alike.
  app.use('/models/*', async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(APP_ISOLATION_HEADERS)) c.header(name, value);
  });
  app.route('/', modelFileRoutes(deps.models));
  app.all('/api/*', (c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404));

  // The web app (built by Vite into WEB_DIR); unknown paths get index.html for client routing.
  if (fs.existsSync(path.join(config.WEB_DIR, 'index.html'))) {
    app.use('/*', async (c, next) => {
      await next();
      c.header('Content-Security-Policy', APP_CONTENT_SECURITY_POLICY);
      c.header('Permissions-Policy', APP_PERMISSIONS_POLICY);
      // Cross-origin isolated: the wasm backend's threads need SharedArrayBuffer (shared/web-headers.ts).
      for (const [name, value] of Object.entries(APP_ISOLATION_HEADERS)) c.header(name, value);
      // The same rules as the edge: cached for good when the URL is hashed or versioned.
      if (c.res.status === 200) {
        const isHtml = c.res.headers.get('content-type')?.startsWith('text/html');
        const cache = isHtml ? NO_CACHE : cacheControlFor(c.req.path);
        if (cache) c.header('Cache-Control', cache);
      }
    });
    // Precompressed: .br and .gz written by the build, chosen by Accept-Encoding.
    const root = pathRelativeToCwd(config.WEB_DIR);
    app.use('/*', serveStatic({ root, precompressed: true }));
    app.get('/*', serveStatic({ root, path: 'index.html', precompressed: true }));
  } else {
    log.warn('the web app is not built; serving the API only (npm run build:web builds it)', {
      web_dir: config.WEB_DIR,
    });
  }
  app.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404));
  return app;
}

/** serveStatic resolves `root` against the working directory. */
function pathRelativeToCwd(dir: string): string {
  const rel = dir.startsWith(process.cwd()) ? dir.slice(process.cwd().length + 1) : dir;
  return rel || '.';
}
