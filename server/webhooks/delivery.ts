/**
 * Delivers queued webhooks: a BullMQ worker on the `webhooks` queue, run by each API process (the
 * API holds the outbound client and does network waits anyway; the detection workers keep their
 * cores for the model). Each attempt POSTs the event's body, signed anew (a fresh
 * `webhook-timestamp`, the user's current secret), through the guarded client, and is logged;
 * anything but a 2xx throws, so BullMQ retries with exponential backoff, and the last failure is
 * recorded as `given_up`.
 */
import { type Job, Worker } from 'bullmq';
import { type WebhookEventType, WebhookEventTypeSchema } from '../../shared/contract.ts';
import { type Logger, throttledWarning } from '../log.ts';
import { duplicateClient, type RedisClient } from '../redis.ts';
import { signatureHeaders } from './signature.ts';
import { failureOf, WEBHOOK_QUEUE, type WebhookJobData, type WebhookService } from './webhook-service.ts';

export interface WebhookDelivery {
  close(): Promise<void>;
}

export function startWebhookDelivery(
  service: WebhookService,
  opts: { redis: RedisClient; concurrency: number; log: Logger },
): WebhookDelivery {
  // BullMQ's blocking reads need a connection of their own.
  const connection = duplicateClient(opts.redis, 'twinlens-api-webhooks');
  const worker = new Worker<WebhookJobData>(WEBHOOK_QUEUE, (job) => deliverOnce(service, job, opts.log), {
    connection,
    prefix: service.opts.prefix,
    concurrency: opts.concurrency,
  });
  const workerError = throttledWarning(opts.log, 'webhook worker error');
  worker.on('error', (err) => workerError({ err }));
  return {
    close: async () => {
      await worker.close();
      connection.disconnect();
    },
  };
}

async function deliverOnce(service: WebhookService, job: Job<WebhookJobData>, log: Logger): Promise<void> {
  const { ownerId, subjectId, url, messageId, body } = job.data;
  const attempt = job.attemptsMade + 1;
  const last = attempt >= (job.opts.attempts ?? 1);
  const time = new Date();
  const started = performance.now();
  let statusCode: number | null = null;
  let failure: ReturnType<typeof failureOf> = { error: null, message: null };
  try {
    const secret = await service.secretOf(ownerId);
    const headers = signatureHeaders(secret, messageId, Math.floor(Date.now() / 1000), body);
    const res = await service.outbound.request(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'user-agent': 'Twinlens-Webhooks/1' },
      body,
    });
    statusCode = res.status;
    if (res.status < 200 || res.status >= 300) failure = { error: null, message: `answered ${res.status}` };
  } catch (err) {
    failure = failureOf(err);
  }
  const ok = statusCode !== null && statusCode >= 200 && statusCode < 300;
  await service.record(
    subjectId,
    {
      time: time.toISOString(),
      attempt,
      url,
      status_code: statusCode,
      error: failure.error,
      message: failure.message,
      latency_ms: Math.round((performance.now() - started) * 10) / 10,
      ...(isEventType(job.name) ? { type: job.name } : {}),
    },
    ok ? 'delivered' : last ? 'given_up' : null,
    ownerId,
  );
  if (ok) return;
  const fields = { subject_id: subjectId, attempt, status_code: statusCode, error_code: failure.error };
  if (last) log.warn('webhook given up', fields);
  else log.info('webhook attempt failed', fields);
  throw new Error(failure.message ?? 'delivery failed');
}

const isEventType = (name: string): name is WebhookEventType => WebhookEventTypeSchema.safeParse(name).success;
