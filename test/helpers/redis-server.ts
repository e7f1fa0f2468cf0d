/**
 * A redis-server of the test's own (not the shared one), with AOF on, so a test can stop and
 * restart Redis under a running system and see what survives.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../server/process/ports.ts';
import { aofRedisArgs } from '../../server/redis.ts';

export interface OwnRedis {
  url: string;
  port: number;
  dir: string;
  /** Stops Redis the way an operator would (SHUTDOWN: the AOF is flushed), and waits for the exit. */
  shutdown(): Promise<void>;
  /** Starts it again on the same port and directory (it reloads the AOF). */
  start(): Promise<void>;
  /** Stops it for good and removes its directory. */
  destroy(): Promise<void>;
}

export { freePort };

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;

  const start = async () => {
    child = spawn('redis-server', aofRedisArgs(port, dir), { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {});
      try {
        await probe.connect();
        // Ready only once the AOF is loaded (PING answers LOADING before).
        if ((await probe.ping()) === 'PONG') return;
      } catch {
        // not up yet
      } finally {
        probe.disconnect();
      }
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const shutdown = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    const admin = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    admin.on('error', () => {});
    await admin.shutdown().catch(() => {}); // the connection closes as it answers
    admin.disconnect();
    await exited;
  };
  await start();
  return {
    url,
    port,
    dir,
    shutdown,
    start,
    async destroy() {
      if (child && child.exitCode === null) {
        const c = child;
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGKILL');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
