/**
 * Acknowledged means replicated: `confirm()` resolves once at least N replicas have every write
 * this process made before the call, or throws `not_replicated` (503, Retry-After) after the
 * timeout. The API calls it before it answers 202 for a task (server/tasks/task-service.ts).
 *
 * How: a write to one key, then WAIT N timeout, on a connection of its own. WAIT counts the
 * replicas that acknowledged that connection's last write; Redis replicates in one ordered stream
 * and our earlier writes (on other connections) were answered before this one was sent, so they
 * are covered too. Concurrent callers share one WAIT (a group commit): whoever calls while one is
 * under way waits for the next, which then covers all of them, so a burst of uploads costs about
 * one replication round trip each way, not one WAIT each. The connection of its own keeps WAIT's
 * blocking off the connections that serve requests.
 *
 * N: REDIS_WAIT_REPLICAS, or `auto` — 1 when the primary has a replica (the sentinels know one;
 * a single server reports one attached, or did once since this process started; a cluster has
 * replicas), else 0 (nothing to wait for: no cost). Read again every AUTO_RECHECK_MS.
 *
 * Redis says it plainly: WAIT narrows the window, it does not make Redis strongly consistent (a
 * replica that acknowledged can be lost too, or not be the one promoted). The acknowledgement
 * journal and the reconciler cover what remains.
 */
import { Cluster, Redis } from 'ioredis';
import { TwinlensError } from '../../shared/errors.ts';
import type { Logger } from '../log.ts';
import { clusterNodes, type RedisClient, type RedisTarget } from '../redis.ts';

/** After a WAIT that fell short, the next ones wait at most this long until one succeeds: a replica
 * that is gone is not waited for in full on every upload. */
const PROBE_TIMEOUT_MS = 100;
const AUTO_RECHECK_MS = 10_000;
export const NOT_REPLICATED_RETRY_AFTER_S = 5;

export interface BarrierOptions {
  replicas: 'auto' | number;
  timeoutMs: number;
  /** Where the sentinels are (auto, with Sentinel). */
  target: RedisTarget;
  log?: Logger;
}

export class ReplicationBarrier {
  private current: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  private failing = false;
  private auto: { at: number; replicas: Promise<number> } | undefined;
  /** The most replicas a single server reported attached (auto without Sentinel). */
  private seenAttached = 0;

  constructor(
    /** A connection of its own (WAIT blocks it), failing fast. */
    private readonly redis: RedisClient,
    private readonly barrierKey: string,
    private readonly opts: BarrierOptions,
  ) {}

  /** Resolves once every write made before the call is on the required replicas (at once when none are). */
  confirm(): Promise<void> {
    if (!this.current) {
      this.current = this.run().finally(() => {
        this.current = undefined;
      });
      return this.current;
    }
    // One is under way, but it may have been sent before this caller's writes: wait for the next.
    this.next ??= this.current
      .catch(() => {})
      .then(() => {
        this.next = undefined;
        return this.confirm();
      });
    return this.next;
  }

  /** The replicas a confirmation waits for now. */
  required(): Promise<number> {
    const n = this.opts.replicas;
    if (n !== 'auto') return Promise.resolve(n);
    const now = Date.now();
    if (!this.auto || now - this.auto.at > AUTO_RECHECK_MS) {
      const previous = this.auto?.replicas;
      const replicas = this.detect().catch(async (err) => {
        this.opts.log?.warn('could not tell whether the primary has replicas; keeping the last answer', {
          err: (err as Error).message,
        });
        // Unknown: as before, or (with Sentinel, where replicas are the point) one.
        return previous ? await previous.catch(() => 1) : this.opts.target.sentinels ? 1 : 0;
      });
      this.auto = { at: now, replicas };
    }
    return this.auto.replicas;
  }

  private async run(): Promise<void> {
    const n = await this.required();
    if (n === 0) return;
    const timeout = this.failing ? Math.min(PROBE_TIMEOUT_MS, this.opts.timeoutMs) : this.opts.timeoutMs;
    const reply = await this.redis.pipeline().incr(this.barrierKey).call('WAIT', n, timeout).exec();
    const [incr, wait] = reply ?? [];
    const err = incr?.[0] ?? wait?.[0];
    if (err) throw err;
    const acked = Number(wait?.[1] ?? 0);
    if (acked >= n) {
      if (this.failing) this.opts.log?.info('replicas acknowledge writes again', { replicas: acked });
      this.failing = false;
      return;
    }
    if (!this.failing)
      this.opts.log?.warn('writes not acknowledged by replicas in time', { acked, required: n, timeout_ms: timeout });
    this.failing = true;
    throw new TwinlensError(
      'not_replicated',
      `the task could not be confirmed on ${n} replica${n === 1 ? '' : 's'} within ${timeout} ms; send it again (with the same task_id)`,
      { headers: { 'Retry-After': String(NOT_REPLICATED_RETRY_AFTER_S) } },
    );
  }

  /** Whether the primary has a replica now (see the module comment). */
  private async detect(): Promise<number> {
    const { target } = this.opts;
    if (this.redis instanceof Cluster) {
      // CLUSTER NODES: one line per node, its flags third (`slave`: a replica). The client itself
      // knows replicas only when it reads from them.
      const nodes = String(await this.redis.cluster('NODES'));
      return nodes.split('\n').some((line) => line.split(' ')[2]?.split(',').includes('slave')) ? 1 : 0;
    }
    if (target.sentinels) return (await sentinelReplicas(target)) > 0 ? 1 : 0;
    const info = await this.redis.info('replication');
    const attached = Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? 0);
    this.seenAttached = Math.max(this.seenAttached, attached);
    return this.seenAttached > 0 ? 1 : 0;
  }
}

/** How many replicas of the primary the sentinels know (the first sentinel that answers says). */
async function sentinelReplicas(target: RedisTarget): Promise<number> {
  let lastError: unknown;
  for (const { host, port } of clusterNodes(target.sentinels ?? '')) {
    const s = new Redis({
      host,
      port,
      password: target.sentinelPassword,
      lazyConnect: true,
      connectTimeout: 1000,
      commandTimeout: 1000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    s.on('error', () => {});
    try {
      await s.connect();
      const replicas = (await s.call('SENTINEL', 'REPLICAS', target.sentinelName ?? 'mymaster')) as unknown[];
      return replicas.length;
    } catch (err) {
      lastError = err;
    } finally {
      s.disconnect();
    }
  }
  throw lastError ?? new Error('no sentinel configured');
}
