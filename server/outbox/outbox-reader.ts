/**
 * Reads an outbox: a Redis stream that a task's final transition appends to in the same script
 * (server/tasks/lua/task-transition.lua), so that what the transition owes (a push, a webhook)
 * cannot be lost by a crash between the two. API processes read it as one consumer group: each
 * entry goes to one process, which handles it and then acknowledges and deletes it. So with any
 * number of API processes an entry is handled once; one written while no API process runs is
 * handled when one starts; and one whose process died before acknowledging it is claimed by another
 * after `claimIdleMs` (at least once: such an entry may be handled twice).
 *
 * Each entry is handled on its own (up to `maxInFlight` at once) and acknowledged when its own work
 * ends, so one slow entry never holds another.
 */
import os from 'node:os';
import type { Logger } from '../log.ts';
import { duplicateClient, type RedisClient } from '../redis.ts';

/** How long a read waits for new entries; also how soon `stop()` is noticed. */
const BLOCK_MS = 2000;

export interface OutboxReaderOptions {
  redis: RedisClient;
  stream: string;
  group: string;
  /** Handles one entry's fields. A throw is logged; the entry is acknowledged either way, unless `retryOnError`. */
  handle: (fields: Record<string, string>) => Promise<void>;
  /** Keep an entry whose handler threw, to be claimed again after `claimIdleMs` (its work is safe to repeat). */
  retryOnError?: boolean;
  maxInFlight: number;
  /** An entry delivered this long ago and not acknowledged belongs to a process that died. */
  claimIdleMs: number;
  /** The connection's name and the logs' wording. */
  name: string;
  log: Logger;
}

export class OutboxReader {
  private running = false;
  private loop: Promise<void> | undefined;
  private reader: RedisClient | undefined;
  private readonly consumer = `${os.hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  /** Entry id → its handling, while it runs. */
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(private readonly opts: OutboxReaderOptions) {}

  async start(): Promise<void> {
    await this.ensureGroup();
    // XREADGROUP BLOCK holds its connection; the shared one must stay free for everything else.
    this.reader = duplicateClient(this.opts.redis, this.opts.name);
    this.running = true;
    this.loop = this.run();
  }

  /** Stops reading and waits (up to `timeoutMs`) for the entries under way. */
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
    const { maxInFlight, claimIdleMs } = this.opts;
    while (this.running) {
      try {
        if (this.inFlight.size >= maxInFlight) {
          await Promise.race(this.inFlight.values());
          continue;
        }
        if (Date.now() - lastClaim > claimIdleMs / 2) {
          lastClaim = Date.now();
          this.handleAll(await this.claimAbandoned());
        }
        this.handleAll(await this.readNew(maxInFlight - this.inFlight.size));
      } catch (err) {
        const message = (err as Error).message;
        // A Redis that restarted without persistence has lost the group: make it again.
        if (message.includes('NOGROUP')) await this.ensureGroup().catch(() => {});
        if (Date.now() - lastError > 10_000) {
          lastError = Date.now();
          this.opts.log.warn(`${this.opts.name}: outbox read failed; retrying`, { err: message });
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  private handleAll(entries: [string, string[] | null][]): void {
    for (const [id, raw] of entries) {
      // XAUTOCLAIM returns null fields for entries deleted meanwhile; an entry claimed back while
      // still being handled here is left to the handling under way.
      if (!raw || this.inFlight.has(id)) continue;
      const fields: Record<string, string> = {};
      for (let i = 0; i + 1 < raw.length; i += 2) fields[raw[i] as string] = raw[i + 1] as string;
      const work = this.opts
        .handle(fields)
        .then(
          () => true,
          (err) => {
            this.opts.log.error(`${this.opts.name}: outbox entry failed`, { err, task_id: fields.task_id });
            return !this.opts.retryOnError;
          },
        )
        // Acknowledged (and dropped) only once handled; a crash before this means another process
        // handles it again.
        .then((done) => (done ? this.acknowledge(id) : undefined))
        .catch((err) =>
          this.opts.log.warn(`${this.opts.name}: outbox acknowledgement failed`, { err, task_id: fields.task_id }),
        )
        .finally(() => this.inFlight.delete(id));
      this.inFlight.set(id, work);
    }
  }

  private async acknowledge(id: string): Promise<void> {
    await this.opts.redis.xack(this.opts.stream, this.opts.group, id);
    await this.opts.redis.xdel(this.opts.stream, id);
  }

  private async ensureGroup(): Promise<void> {
    try {
      // From the start of the stream: entries written while no API process ran are handled too.
      await this.opts.redis.xgroup('CREATE', this.opts.stream, this.opts.group, '0', 'MKSTREAM');
    } catch (err) {
      if (!(err as Error).message.includes('BUSYGROUP')) throw err;
    }
  }

  private async readNew(count: number): Promise<[string, string[] | null][]> {
    const reader = this.reader;
    if (!reader) return [];
    const reply = (await reader.xreadgroup(
      'GROUP',
      this.opts.group,
      this.consumer,
      'COUNT',
      count,
      'BLOCK',
      BLOCK_MS,
      'STREAMS',
      this.opts.stream,
      '>',
    )) as [string, [string, string[]][]][] | null;
    return reply?.[0]?.[1] ?? [];
  }

  private async claimAbandoned(): Promise<[string, string[] | null][]> {
    const reply = (await this.opts.redis.xautoclaim(
      this.opts.stream,
      this.opts.group,
      this.consumer,
      this.opts.claimIdleMs,
      '0',
      'COUNT',
      this.opts.maxInFlight,
    )) as [string, [string, string[] | null][]];
    return reply[1] ?? [];
  }
}
