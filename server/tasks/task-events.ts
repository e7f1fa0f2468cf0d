/**
 * Status changes as they happen, from Redis pub/sub (published by TaskStore.transition).
 * One subscriber connection per API process, fanned out to in-process listeners, so a
 * thousand waiting clients cost one Redis connection. Each listener is a client holding a
 * connection open (an event stream, a long poll): one user may hold `maxPerUser` at once in a
 * process, so a few clients cannot take every socket the API has.
 */
import { TwinlensError } from '../../shared/errors.ts';
import type { Logger } from '../log.ts';
import { duplicateClient, type RedisClient } from '../redis.ts';
import type { TaskEvent } from './task-store.ts';

type Listener = (event: TaskEvent) => void;

export interface TaskListener {
  /** The next status change, or null after `timeoutMs` or when `signal` aborts. */
  next(timeoutMs: number, signal?: AbortSignal): Promise<TaskEvent | null>;
  close(): void;
}

export class TaskEvents {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly sub: RedisClient;
  private ready: Promise<unknown>;
  /** Open listeners per user. */
  private readonly held = new Map<string, number>();

  constructor(
    redis: RedisClient,
    channel: string,
    private readonly log: Logger,
    private readonly maxPerUser = Number.POSITIVE_INFINITY,
  ) {
    // On a Cluster, ioredis subscribes on one node; PUBLISH reaches every node of a cluster.
    this.sub = duplicateClient(redis, 'twinlens-api-events');
    this.ready = this.sub.subscribe(channel);
    this.sub.on('message', (_channel: string, message: string) => {
      let event: TaskEvent;
      try {
        event = JSON.parse(message) as TaskEvent;
      } catch {
        log.warn('malformed task event', { message });
        return;
      }
      for (const l of this.listeners.get(event.task_id) ?? []) this.call(l, event);
    });
  }

  /** Calls `listener` for each status change of the task until the returned function is called. */
  async subscribe(taskId: string, listener: Listener): Promise<() => void> {
    await this.ready;
    let set = this.listeners.get(taskId);
    if (!set) {
      set = new Set();
      this.listeners.set(taskId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(taskId) === set) this.listeners.delete(taskId);
    };
  }

  /** One listener's mistake must not keep the event from the others (or crash the process). */
  private call(listener: Listener, event: TaskEvent): void {
    try {
      listener(event);
    } catch (err) {
      this.log.error('task event listener failed', { err, task_id: event.task_id });
    }
  }

  /**
   * Starts listening to one task for a user. Events that arrive before `next()` is called are
   * kept, so a caller can subscribe, then read the task, then wait, without missing a change in
   * between. Past the user's cap: `rate_limited`.
   */
  async listen(taskId: string, userId: string): Promise<TaskListener> {
    const held = this.held.get(userId) ?? 0;
    if (held >= this.maxPerUser) {
      throw new TwinlensError(
        'rate_limited',
        `${held} event streams and long polls are open for this user; close one, or poll`,
        { headers: { 'Retry-After': '5' } },
      );
    }
    this.held.set(userId, held + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const n = (this.held.get(userId) ?? 1) - 1;
      if (n > 0) this.held.set(userId, n);
      else this.held.delete(userId);
    };
    const pending: TaskEvent[] = [];
    let wake: (() => void) | undefined;
    let unsubscribe: () => void;
    try {
      unsubscribe = await this.subscribe(taskId, (e) => {
        pending.push(e);
        wake?.();
      });
    } catch (err) {
      release();
      throw err;
    }
    return {
      next: async (timeoutMs, signal) => {
        if (pending.length === 0 && !signal?.aborted) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(done, timeoutMs);
            signal?.addEventListener('abort', done, { once: true });
            wake = done;
            function done() {
              clearTimeout(timer);
              signal?.removeEventListener('abort', done);
              wake = undefined;
              resolve();
            }
          });
        }
        return pending.shift() ?? null;
      },
      close: () => {
        unsubscribe();
        release();
      },
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.sub.disconnect();
  }
}
