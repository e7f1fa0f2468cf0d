/**
 * Announces finished server tasks to their owner's push subscriptions.
 *
 * The task service appends a server task's final status change to a Redis stream, the push outbox,
 * in the same script that records the status (server/tasks/lua/task-transition.lua), when the
 * owner has a push subscription at that moment. API processes read it as
 * one consumer group: each entry goes to one process, which sends and then acknowledges it.
 * So with any number of API processes a task is pushed once, a task that finishes while no API
 * process runs is pushed when one starts, and an entry whose process died before acknowledging
 * it is claimed by another after CLAIM_IDLE_MS (at least once: such a task may be pushed twice).
 */
import os from 'node:os';
import { isFinalStatus } from '../../shared/task-lifecycle.ts';
import type { Logger } from '../log.ts';
import { duplicateClient, type Keys, type RedisClient } from '../redis.ts';
import type { TaskStore } from '../tasks/task-store.ts';
import { pushMessageFor } from './push-message.ts';
import type { PushSender } from './push-sender.ts';
import type { PushSubscriptionStore } from './subscription-store.ts';

const GROUP = 'push';
/** Entries being sent at once by one process. Each is independent: one slow endpoint holds only its
 * own entry (for at most the outbound client's timeout), never another user's. */
const MAX_IN_FLIGHT = 64;
/** How long a read waits for new entries; also how soon `stop()` is noticed. */
const BLOCK_MS = 2000;
/** An entry delivered this long ago and not acknowledged belongs to a process that died. */
const CLAIM_IDLE_MS = 60_000;

export interface PushNotifierDeps {
  redis: RedisClient;
  keys: Keys;
  tasks: TaskStore;
  subscriptions: PushSubscriptionStore;
  sender: PushSender;
  log: Logger;
}

type Entry = { id: string; taskId: string };

export class PushNotifier {
  private running = false;
  private loop: Promise<void> | undefined;
  private reader: RedisClient | undefined;
  private readonly consumer = `${os.hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  /** Entry id → its delivery, while it runs. */
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(private readonly deps: PushNotifierDeps) {}

  async start(): Promise<void> {
    await this.ensureGroup();
    // XREADGROUP BLOCK holds its connection; the shared one must stay free for everything else.
    this.reader = duplicateClient(this.deps.redis, 'twinlens-api-push');
    this.running = true;
    this.loop = this.run();
  }

  /** Stops reading and waits (up to `timeoutMs`) for the deliveries under way. */
  async stop(timeoutMs = 3000): Promise<void> {
    this.running = false;
    let timer: NodeJS.Timeout | undefined;
    const drained = this.loop?.then(() => Promise.all(this.inFlight.values()));
    await Promise.race([drained, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    this.reader?.disconnect();
  }

  private async run(): Promise<void> {
    let lastClaim = 0;
    let lastError = 0;
    while (this.running) {
      try {
        if (this.inFlight.size >= MAX_IN_FLIGHT) {
          await Promise.race(this.inFlight.values());
          continue;
        }
        if (Date.now() - lastClaim > CLAIM_IDLE_MS / 2) {
          lastClaim = Date.now();
          this.deliver(await this.claimAbandoned());
        }
        this.deliver(await this.readNew(MAX_IN_FLIGHT - this.inFlight.size));
      } catch (err) {
        const message = (err as Error).message;
        // A Redis that restarted without persistence has lost the group: make it again.
        if (message.includes('NOGROUP')) await this.ensureGroup().catch(() => {});
        if (Date.now() - lastError > 10_000) {
          lastError = Date.now();
          this.deps.log.warn('push outbox read failed; retrying', { err: message });
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  /** Starts each entry's delivery on its own; each is acknowledged when its own sends are done. */
  private deliver(entries: Entry[]): void {
    for (const e of entries) {
      if (this.inFlight.has(e.id)) continue; // claimed back while still being sent here
      const delivery = this.announce(e.taskId)
        .catch((err) => this.deps.log.error('push notification failed', { err, task_id: e.taskId }))
        // Acknowledged (and dropped) only once sent or given up on; a crash before this means
        // another process sends it again.
        .then(() => this.acknowledge(e.id))
        .catch((err) => this.deps.log.warn('push outbox acknowledgement failed', { err, task_id: e.taskId }))
        .finally(() => this.inFlight.delete(e.id));
      this.inFlight.set(e.id, delivery);
    }
  }

  private async acknowledge(id: string): Promise<void> {
    await this.deps.redis.xack(this.deps.keys.pushOutbox, GROUP, id);
    await this.deps.redis.xdel(this.deps.keys.pushOutbox, id);
  }

  private async ensureGroup(): Promise<void> {
    try {
      // From the start of the stream: entries written while no API process ran are still sent.
      await this.deps.redis.xgroup('CREATE', this.deps.keys.pushOutbox, GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!(err as Error).message.includes('BUSYGROUP')) throw err;
    }
  }

  private async readNew(count: number): Promise<Entry[]> {
    const reader = this.reader;
    if (!reader) return [];
    const reply = (await reader.xreadgroup(
      'GROUP',
      GROUP,
      this.consumer,
      'COUNT',
      count,
      'BLOCK',
      BLOCK_MS,
      'STREAMS',
      this.deps.keys.pushOutbox,
      '>',
    )) as [string, [string, string[]][]][] | null;
    return (reply?.[0]?.[1] ?? []).flatMap(([id, fields]) => toEntry(id, fields));
  }

  private async claimAbandoned(): Promise<Entry[]> {
    const reply = (await this.deps.redis.xautoclaim(
      this.deps.keys.pushOutbox,
      GROUP,
      this.consumer,
      CLAIM_IDLE_MS,
      '0',
      'COUNT',
      MAX_IN_FLIGHT,
    )) as [string, [string, string[]][]];
    return (reply[1] ?? []).flatMap(([id, fields]) => toEntry(id, fields));
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

function toEntry(id: string, fields: string[] | null): Entry[] {
  // XAUTOCLAIM returns null fields for entries deleted meanwhile.
  if (!fields) return [];
  const i = fields.indexOf('task_id');
  const taskId = i >= 0 ? fields[i + 1] : undefined;
  return taskId ? [{ id, taskId }] : [];
}
