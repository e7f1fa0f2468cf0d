/**
 * The API process: `npm run api`. Serves HTTP, enqueues jobs, and sweeps the files of expired
 * tasks. Prints `listening on <url>` once it accepts connections.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createApp } from './app.ts';
import { ensureFirstUser } from './auth/bootstrap.ts';
import { composeServices } from './compose.ts';
import { loadConfig } from './config.ts';
import { Reconciler } from './durability/reconciler.ts';
import { runMain } from './entry.ts';
import { guardSlowBodies } from './http/slow-bodies.ts';
import { createLogger } from './log.ts';
import { PushNotifier } from './push/push-notifier.ts';
import { PushSender } from './push/push-sender.ts';
import { loadVapidKeys } from './push/vapid-keys.ts';
import { describeTarget, waitUntilReady } from './redis.ts';
import { startWebhookDelivery } from './webhooks/delivery.ts';
import { startWebhookOutbox } from './webhooks/webhook-outbox.ts';

const log = createLogger({ service: 'api' });

async function main() {
  const config = loadConfig();
  const services = await composeServices(config, 'api', log);
  // The API's connection fails fast (no offline queue): wait for it before the first command.
  await waitUntilReady(services.redis, 30_000);
  const firstUser = () =>
    ensureFirstUser(
      services.users,
      { username: config.ADMIN_USERNAME, password: config.ADMIN_PASSWORD, dataDir: config.DATA_DIR },
      log,
    );
  await firstUser();
  // A Redis that comes back empty (no persistence) gets its first user again, without a restart.
  services.redis.on('ready', () => {
    firstUser().catch((err) => log.warn('could not check for the first user after reconnecting', { err }));
  });
  await services.blobs.sweepTmp?.();
  const vapid = await loadVapidKeys(config.DATA_DIR, log);
  const notifier = new PushNotifier({
    redis: services.redis,
    keys: services.keys,
    tasks: services.store,
    subscriptions: services.pushSubscriptions,
    sender: new PushSender(vapid, config.VAPID_SUBJECT, services.outbound),
    log,
  });
  await notifier.start();
  const webhookDelivery = startWebhookDelivery(services.webhooks, {
    redis: services.redis,
    concurrency: config.WEBHOOK_CONCURRENCY,
    log,
  });
  // Final transitions owe webhooks in an outbox of their own; this process relays them to the queue.
  const webhookOutbox = await startWebhookOutbox(services.webhooks, {
    redis: services.redis,
    keys: services.keys,
    log,
  });
  // No acknowledged task lost in a failover, none left stuck (server/durability/reconciler.ts).
  const reconciler = new Reconciler({
    redis: services.redis,
    keys: services.keys,
    tasks: services.tasks,
    store: services.store,
    queue: services.queue,
    journal: services.journal,
    log,
    intervalMs: config.RECONCILE_INTERVAL_MS,
    graceMs: config.RECONCILE_GRACE_MS,
  });
  reconciler.start();

  const app = createApp(services, { log, vapidPublicKey: vapid.publicKey });
  const server = serve(
    {
      fetch: app.fetch,
      port: config.PORT,
      hostname: config.HOST,
      // Bounds on what a client may hold: the headers, and the whole request with its body.
      serverOptions: {
        headersTimeout: config.HEADERS_TIMEOUT_MS,
        requestTimeout: config.REQUEST_TIMEOUT_MS,
        // How often Node looks for requests over those limits (30 s by default: too coarse for a 15 s limit).
        connectionsCheckingInterval: 1000,
      },
    },
    (info: AddressInfo) => {
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      const redis = describeTarget(services.redisTarget);
      log.info(`listening on http://${host}:${info.port}`, { port: info.port, redis });
    },
  );
  guardSlowBodies(server as Server, {
    minBytesPerSecond: config.MIN_BODY_BYTES_PER_SECOND,
    graceMs: config.REQUEST_BODY_GRACE_MS,
    log,
  });

  const janitor = setInterval(() => {
    services.store.sweepExpired().then(
      (n) => n > 0 && log.info('swept files of expired tasks', { count: n }),
      (err) => log.warn('janitor failed', { err }),
    );
  }, 60_000);
  janitor.unref();

  const stop = (signal: string) => {
    log.info('stopping', { signal });
    clearInterval(janitor);
    server.close(() => {
      Promise.all([notifier.stop(), webhookDelivery.close(), webhookOutbox.stop(), reconciler.stop()])
        .then(() => services.close())
        .finally(() => process.exit(0));
    });
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

runMain('API', main, log);
