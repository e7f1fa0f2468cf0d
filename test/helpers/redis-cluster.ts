/**
 * A Redis Cluster of the test's own: three masters (no replicas) on free ports, each in a temp
 * directory, joined with `redis-cli --cluster create`. Ready once every node says cluster_state:ok.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './redis-server.ts';

export interface OwnCluster {
  /** REDIS_CLUSTER_NODES: `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`. */
  nodes: string;
  ports: number[];
  /** Kills the nodes and removes their directories. */
  stop(): Promise<void>;
}

export async function startRedisCluster(size = 3): Promise<OwnCluster> {
  const procs: ChildProcess[] = [];
  const dirs: string[] = [];
  const ports: number[] = [];
  const stop = async () => {
    await Promise.all(
      procs.map(async (p) => {
        if (p.exitCode !== null || p.signalCode !== null) return;
        const exited = new Promise((r) => p.once('exit', r));
        p.kill('SIGKILL');
        await exited;
      }),
    );
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < size; i++) {
      const port = await freePort();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-cluster-'));
      ports.push(port);
      dirs.push(dir);
      // nodes.conf is written by the node itself into --dir; no persistence: the cluster is thrown away.
      const args = ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir];
      args.push('--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000');
      args.push('--appendonly', 'no', '--save', '');
      procs.push(spawn('redis-server', args, { stdio: 'ignore' }));
    }
    for (const port of ports) await waitFor(port, async (r) => (await r.ping()) === 'PONG', 'PING');
    const created = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (created.status !== 0) {
      const why = created.error?.message ?? `exit ${created.status}`; // e.g. redis-cli not installed
      throw new Error(`redis-cli --cluster create failed (${why}):\n${created.stdout}\n${created.stderr}`);
    }
    // Slots are assigned at once, but each node says ok only once it has heard from the others.
    for (const port of ports) {
      await waitFor(port, async (r) => /cluster_state:ok/.test(await r.cluster('INFO')), 'cluster_state:ok');
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes: ports.map((p) => `127.0.0.1:${p}`).join(','), ports, stop };
}

/** Asks one node until `ok` holds (20 s at most). */
async function waitFor(port: number, ok: (r: Redis) => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => {});
    try {
      await r.connect();
      if (await ok(r)) return;
    } catch {
      // not up yet
    } finally {
      r.disconnect();
    }
    if (Date.now() > deadline) throw new Error(`redis cluster node ${port}: no ${what} within 20 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
