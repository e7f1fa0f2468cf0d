/**
 * Relays the webhook outbox to the `webhooks` queue: each API process reads the stream that final
 * transitions append to (server/outbox/outbox-reader.ts) and queues each entry's delivery
 * (WebhookService.relay). An entry that cannot be queued (Redis away) stays and is relayed again;
 * one whose process died mid-relay is claimed by another after CLAIM_IDLE_MS. Relaying is a quick
 * local step, so that wait is short; the job id (the event's `webhook-id`) makes a second relay
 * of the same event a no-op, so a receiver gets it once.
 */
import type { Logger } from '../log.ts';
import { OutboxReader } from '../outbox/outbox-reader.ts';
import type { Keys, RedisClient } from '../redis.ts';
import type { WebhookService } from './webhook-service.ts';

const CLAIM_IDLE_MS = 10_000;

export function startWebhookOutbox(
  service: WebhookService,
  opts: { redis: RedisClient; keys: Keys; log: Logger },
): Promise<OutboxReader> {
  const reader = new OutboxReader({
    redis: opts.redis,
    stream: opts.keys.webhookOutbox,
    group: 'webhooks',
    handle: (fields) => service.relay(fields),
    retryOnError: true,
    maxInFlight: 64,
    claimIdleMs: CLAIM_IDLE_MS,
    name: 'twinlens-api-webhook-outbox',
    log: opts.log,
  });
  return reader.start().then(() => reader);
}
