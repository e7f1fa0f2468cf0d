/**
 * Announces finished server tasks to their owner's push subscriptions.
 *
 * The task service appends a server task's final status change to a Redis stream, the push outbox,
 * in the same script that records the status (server/tasks/lua/task-transition.lua), when the
 * owner has a push subscription at that moment. API processes read it as one consumer group
 * (server/outbox/outbox-reader.ts): a task is pushed once, a task that finishes while no API
 * process runs is pushed when one starts, and an entry whose process died before acknowledging it
 * is claimed by another after a minute (at least once: such a task may be pushed twice).
 */
import { isFinalStatus } from '../../shared/task-lifecycle.ts';
import type { Logger } from '../log.ts';
import { OutboxReader } from '../outbox/outbox-reader.ts';
import type { Keys, RedisClient } from '../redis.ts';
import type { TaskStore } from '../tasks/task-store.ts';
import { pushMessageFor } from './push-message.ts';
import type { PushSender } from './push-sender.ts';
import type { PushSubscriptionStore } from './subscription-store.ts';

export interface PushNotifierDeps {
  redis: RedisClient;
  keys: Keys;
  tasks: TaskStore;
  subscriptions: PushSubscriptionStore;
  sender: PushSender;
  log: Logger;
}

export class PushNotifier {
  private readonly reader: OutboxReader;

  constructor(private readonly deps: PushNotifierDeps) {
    this.reader = new OutboxReader({
      redis: deps.redis,
      stream: deps.keys.pushOutbox,
      group: 'push',
      handle: async (fields) => {
        if (fields.task_id) await this.announce(fields.task_id);
      },
      // Entries sent at once by one process: one slow endpoint holds only its own entry (for at
      // most the outbound client's timeout), never another user's.
      maxInFlight: 64,
      claimIdleMs: 60_000,
      name: 'twinlens-api-push',
      log: deps.log,
    });
  }

  start(): Promise<void> {
    return this.reader.start();
  }

  /** Stops reading and waits (up to `timeoutMs`) for the deliveries under way. */
  stop(timeoutMs = 3000): Promise<void> {
    return this.reader.stop(timeoutMs);
  }

  private async announce(taskId: string): Promise<void> {
    const { tasks, subscriptions, sender, log } = this.deps;
    const stored = await tasks.get(taskId);
    if (!stored || !isFinalStatus(stored.task.status) || stored.task.source !== 'server') return;
    const subs = await subscriptions.list(stored.ownerId);
    if (subs.length === 0) return;
    const payload = pushMessageFor(stored.task);
    await Promise.all(
      subs.map(async (sub) => {
        const result = await sender.send(sub, payload);
        const fields = { task_id: taskId, push_service: new URL(sub.endpoint).origin };
        if (result.ok) {
          log.debug('push sent', { ...fields, status_code: result.statusCode });
        } else if (result.gone) {
          await subscriptions.remove(stored.ownerId, sub.endpoint);
          log.info('push subscription gone; removed', { ...fields, status_code: result.statusCode });
        } else {
          // The endpoint itself is a capability URL; log only the push service's origin.
          log.warn('push failed', { ...fields, status_code: result.statusCode, err: result.error.message });
        }
      }),
    );
  }
}
