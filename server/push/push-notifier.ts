/**
 * Announces finished server tasks to their owner's push subscriptions. It runs in every API
 * process and hears every status change (Redis pub/sub); for a final status the process that
 * wins a per-task `SET NX` sends, so with any number of API processes each task is pushed once.
 *
 * Pub/sub delivers only to processes that are up: a task that finishes while no API process
 * runs is not announced (the web app reads its tasks when it opens anyway).
 */
import type { Redis } from 'ioredis';
import { isFinalStatus } from '../../shared/contract.ts';
import type { Logger } from '../log.ts';
import type { Keys } from '../redis.ts';
import type { TaskEvents } from '../tasks/task-events.ts';
import type { TaskEvent, TaskStore } from '../tasks/task-store.ts';
import { pushMessageFor } from './push-message.ts';
import type { PushSender } from './push-sender.ts';
import type { PushSubscriptionStore } from './subscription-store.ts';

/** How long the "sent" mark stays; a task's final event is published once, so a day is plenty. */
const SENT_MARK_SECONDS = 24 * 3600;

export interface PushNotifierDeps {
  redis: Redis;
  keys: Keys;
  events: TaskEvents;
  tasks: TaskStore;
  subscriptions: PushSubscriptionStore;
  sender: PushSender;
  log: Logger;
}

export class PushNotifier {
  private unsubscribe: (() => void) | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: PushNotifierDeps) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.deps.events.subscribeAll((event) => {
      if (!isFinalStatus(event.status)) return;
      const job = this.announce(event)
        .catch((err) => this.deps.log.error('push notification failed', { err, task_id: event.task_id }))
        .finally(() => this.inFlight.delete(job));
      this.inFlight.add(job);
    });
  }

  /** Stops listening and waits (up to `timeoutMs`) for the messages being sent. */
  async stop(timeoutMs = 3000): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(this.inFlight),
      new Promise((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  private async announce(event: TaskEvent): Promise<void> {
    const { redis, keys, tasks, subscriptions, sender, log } = this.deps;
    const won = await redis.set(keys.pushSent(event.task_id), '1', 'EX', SENT_MARK_SECONDS, 'NX');
    if (won !== 'OK') return; // another API process has it
    const stored = await tasks.get(event.task_id);
    if (!stored || !isFinalStatus(stored.task.status) || stored.task.source !== 'server') return;
    const subs = await subscriptions.list(stored.ownerId);
    if (subs.length === 0) return;
    const payload = pushMessageFor(stored.task);
    await Promise.all(
      subs.map(async (sub) => {
        const result = await sender.send(sub, payload);
        const fields = { task_id: event.task_id, push_service: new URL(sub.endpoint).origin };
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
