/**
 * Webhooks, one owner: the user's settings (default callback URL, signing secret), a task's own
 * callback URL, enqueuing an event for delivery, and the log of delivery attempts.
 *
 * An event is queued on BullMQ's `webhooks` queue (its own, beside `detect`) with the body built
 * once, so every attempt sends the same bytes; the API processes deliver it (delivery.ts) through
 * the guarded outbound client. Attempts: WEBHOOK_ATTEMPTS with exponential backoff from
 * WEBHOOK_BACKOFF_MS (12 × 42 s: the last try about 24 h after the first), at least once.
 *
 * A task's event is owed by the compare-and-set that made the task final: the same script appends
 * it to the webhook outbox (a Redis stream) and sets its state `pending`, so no crash between the
 * two loses it; the API processes relay each entry to the queue (`relay`, webhook-outbox.ts), under
 * the event's own job id, so relaying it twice still queues it once. Batches call `enqueue` with
 * their own event.
 */
import { Queue } from 'bullmq';
import type {
  Batch,
  Task,
  TaskWebhook,
  WebhookDelivery,
  WebhookDeliveryList,
  WebhookEventType,
  WebhookFailure,
  WebhookSettings,
  WebhookSettingsView,
} from '../../shared/contract.ts';
import { TwinlensError } from '../../shared/errors.ts';
import type { Logger } from '../log.ts';
import { type OutboundClient, OutboundError } from '../net/outbound.ts';
import type { Keys, RedisClient } from '../redis.ts';
import { newSecret } from './signature.ts';

export const WEBHOOK_QUEUE = 'webhooks';

/** Attempts kept per subject (a day of backoff is at most WEBHOOK_ATTEMPTS of them). */
const MAX_LOGGED_ATTEMPTS = 50;
/** Failed attempts listed per user in GET /webhooks/settings. */
const RECENT_FAILURES = 20;
/** How long the relay of an album's outbox entry waits for the process that decided it to queue it. */
const BATCH_RELAY_WAIT_MS = 10_000;

/** `webhook-id`, and the job id: one per subject and event (an album's n-th ending has its own). */
function messageIdOf(subjectId: string, type: string, seq?: number): string {
  return `msg_${subjectId}_${type.replace(/\W/g, '_')}${seq && seq > 1 ? `_${seq}` : ''}`;
}

export interface WebhookJobData {
  ownerId: string;
  /** What the event is about (a task id; a batch id): its deliveries are listed under it. */
  subjectId: string;
  url: string;
  /** `webhook-id`: the same for every attempt, so receivers can drop repeats. */
  messageId: string;
  /** The JSON body, built once. */
  body: string;
}

export interface WebhookOptions {
  prefix: string;
  attempts: number;
  backoffMs: number;
  /** How long settings-free records (a task's URL, its deliveries) are kept: the task TTL. */
  ttlSeconds: number;
}

export class WebhookService {
  readonly queue: Queue<WebhookJobData>;
  /** An album's summary for its event relayed from the outbox (set by server/compose.ts); null when gone. */
  batchSummary: ((batchId: string) => Promise<Batch | null>) | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    readonly outbound: OutboundClient,
    readonly opts: WebhookOptions,
    private readonly log?: Logger,
    /** The connection for the `webhooks` queue (BullMQ's), when not `redis` (see server/compose.ts). */
    queueRedis: RedisClient = redis,
  ) {
    this.queue = new Queue<WebhookJobData>(WEBHOOK_QUEUE, { connection: queueRedis, prefix: opts.prefix });
    // Connection errors are logged by the connection itself (connectRedis), not once per attempt here.
    this.queue.on('error', () => {});
  }

  /**
   * A callback URL's shape, checked when it is given: http(s), no credentials, and an IP literal
   * inside the server's network refused at once (`callback_url_refused`). A name is checked
   * where it matters, at every connection (it may point elsewhere by then).
   */
  checkUrl(raw: string): string {
    if (raw.length > 2048) throw new TwinlensError('callback_url_refused', 'callback_url: longer than 2048 characters');
    try {
      return this.outbound.checkUrl(raw).href;
    } catch (err) {
      throw new TwinlensError('callback_url_refused', `callback_url: ${(err as Error).message}`);
    }
  }

  /** The user's settings; the secret is made on first use. */
  async settings(userId: string): Promise<WebhookSettings> {
    const key = this.keys.webhookUser(userId);
    let [url, secret] = await this.redis.hmget(key, 'url', 'secret');
    if (!secret) {
      // HSETNX: two first reads at once agree on one secret.
      await this.redis.hsetnx(key, 'secret', newSecret());
      [url, secret] = await this.redis.hmget(key, 'url', 'secret');
    }
    return { callback_url: url || null, secret: secret as string };
  }

  async setDefaultUrl(userId: string, url: string | null): Promise<WebhookSettings> {
    const key = this.keys.webhookUser(userId);
    if (url === null) await this.redis.hdel(key, 'url');
    else await this.redis.hset(key, 'url', this.checkUrl(url));
    return this.settings(userId);
  }

  /** A new secret, effective for every attempt from now on (queued ones included). */
  async rotateSecret(userId: string): Promise<string> {
    const secret = newSecret();
    await this.redis.hset(this.keys.webhookUser(userId), 'secret', secret);
    return secret;
  }

  /** Drops a user's settings and failures (the user is removed). */
  async forgetUser(userId: string): Promise<void> {
    await this.redis.del(this.keys.webhookUser(userId));
    await this.redis.del(this.keys.webhookFailures(userId));
  }

  /** The signing secret, for a delivery attempt. */
  async secretOf(userId: string): Promise<string> {
    return (await this.settings(userId)).secret;
  }

  /** A task's own callback URL (checked already), kept as long as the task. */
  async setTaskUrl(ownerId: string, taskId: string, url: string): Promise<void> {
    await this.redis.set(this.keys.webhookTask(ownerId, taskId), url, 'EX', this.opts.ttlSeconds);
  }

  /**
   * Queues one event for `url`, or for the owner's default when `url` is null; nothing when there
   * is neither. Returns whether it was queued. `subjectId` + `type` name the event: queuing the
   * same again is a no-op while BullMQ remembers the job.
   */
  async enqueue(ev: {
    ownerId: string;
    subjectId: string;
    url: string | null;
    type: WebhookEventType | (string & {});
    data: unknown;
    time?: Date;
    /** Whether to set the delivery state `pending` here (a task's was set with its final status). */
    markPending?: boolean;
    /** The subject's n-th event of this type (an album that ends again after photos were added). */
    seq?: number;
  }): Promise<boolean> {
    const url = ev.url ?? (await this.redis.hget(this.keys.webhookUser(ev.ownerId), 'url'));
    if (!url) return false;
    const messageId = messageIdOf(ev.subjectId, ev.type, ev.seq);
    const body = JSON.stringify({
      type: ev.type,
      timestamp: (ev.time ?? new Date()).toISOString(),
      data: ev.data,
    });
    if (ev.markPending ?? true) {
      await this.redis.set(this.keys.webhookState(ev.subjectId), 'pending', 'EX', this.opts.ttlSeconds);
    }
    await this.queue.add(
      ev.type,
      { ownerId: ev.ownerId, subjectId: ev.subjectId, url, messageId, body },
      {
        jobId: messageId,
        attempts: this.opts.attempts,
        backoff: { type: 'exponential', delay: this.opts.backoffMs },
        // The attempts are logged in our own keys; BullMQ's copies are bookkeeping only.
        removeOnComplete: { age: 3600, count: 10_000 },
        removeOnFail: { age: 24 * 3600, count: 10_000 },
      },
    );
    return true;
  }

  /**
   * One webhook outbox entry (written by the script that made a server task final, with the URL
   * it read there) queued for delivery. Throws when it cannot be queued: the entry is then kept and
   * relayed again, and the job id makes a second relay a no-op.
   */
  async relay(entry: Record<string, string>): Promise<void> {
    if (entry.batch_id) return this.relayBatch(entry);
    const { task_id: taskId, owner, url, type, task: json } = entry;
    if (!taskId || !owner || !url || !type || !json) {
      this.log?.warn('webhook outbox entry without its fields; dropped', { task_id: taskId });
      return;
    }
    const task = JSON.parse(json) as Task;
    await this.enqueue({
      ownerId: owner,
      subjectId: taskId,
      url,
      type: type as WebhookEventType,
      data: task satisfies TaskWebhook['data'],
      time: task.finished_at ? new Date(task.finished_at) : undefined,
      markPending: false,
    });
  }

  /**
   * An album's ending from the outbox (written by the batch script that decided it). The process
   * that decided it queues the same event itself, with the summary once its work is done (a cancel
   * cancels the tasks first): this waits for that job (the same id) and is a no-op then. Only when
   * none comes in BATCH_RELAY_WAIT_MS (that process died) is it queued from here, with the summary as
   * it is then. A batch deleted since has no summary left: its event is dropped.
   */
  private async relayBatch(entry: Record<string, string>): Promise<void> {
    const { batch_id: batchId, owner, url, type, seq } = entry;
    if (!batchId || !owner || !url || !type) {
      this.log?.warn('webhook outbox entry without its fields; dropped', { batch_id: batchId });
      return;
    }
    const n = Number(seq) || 1;
    const deadline = Date.now() + BATCH_RELAY_WAIT_MS;
    while (!(await this.queue.getJob(messageIdOf(batchId, type, n)))) {
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    if (await this.queue.getJob(messageIdOf(batchId, type, n))) return;
    const data = await this.batchSummary?.(batchId);
    if (!data) {
      this.log?.warn('the batch of an outbox entry is gone; its event is dropped', { batch_id: batchId, type });
      return;
    }
    await this.enqueue({
      ownerId: owner,
      subjectId: batchId,
      url,
      type,
      data,
      seq: n,
      markPending: false,
    });
  }

  /**
   * Records one attempt; `final` sets the state (delivered or given up), else it stays pending. A
   * failed attempt is also listed among the owner's recent failures (GET /webhooks/settings).
   */
  async record(
    subjectId: string,
    attempt: WebhookDelivery,
    final: 'delivered' | 'given_up' | null,
    ownerId?: string,
  ): Promise<void> {
    const list = this.keys.webhookDeliveries(subjectId);
    const m = this.redis
      .multi()
      .rpush(list, JSON.stringify(attempt))
      .ltrim(list, -MAX_LOGGED_ATTEMPTS, -1)
      .expire(list, this.opts.ttlSeconds);
    if (final) m.set(this.keys.webhookState(subjectId), final, 'EX', this.opts.ttlSeconds);
    if (ownerId && final !== 'delivered') {
      const failures = this.keys.webhookFailures(ownerId);
      const failure: WebhookFailure = { ...attempt, subject_id: subjectId, given_up: final === 'given_up' };
      m.lpush(failures, JSON.stringify(failure))
        .ltrim(failures, 0, RECENT_FAILURES - 1)
        .expire(failures, this.opts.ttlSeconds);
    }
    await m.exec();
  }

  /** The settings with the owner's latest failed attempts, newest first. */
  async view(userId: string): Promise<WebhookSettingsView> {
    const [settings, failures] = await Promise.all([
      this.settings(userId),
      this.redis.lrange(this.keys.webhookFailures(userId), 0, RECENT_FAILURES - 1),
    ]);
    return { ...settings, recent_failures: failures.map((f) => JSON.parse(f) as WebhookFailure) };
  }

  async deliveries(subjectId: string): Promise<WebhookDeliveryList> {
    const [state, items] = await Promise.all([
      this.redis.get(this.keys.webhookState(subjectId)),
      this.redis.lrange(this.keys.webhookDeliveries(subjectId), 0, -1),
    ]);
    return {
      state: (state as WebhookDeliveryList['state'] | null) ?? 'none',
      items: items.map((s) => JSON.parse(s) as WebhookDelivery),
    };
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

/** An attempt's failure as the delivery log names it. */
export function failureOf(err: unknown): Pick<WebhookDelivery, 'error' | 'message'> {
  if (err instanceof OutboundError) return { error: err.kind, message: err.message };
  return { error: 'network', message: err instanceof Error ? err.message : String(err) };
}
