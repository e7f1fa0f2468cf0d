/**
 * `npm run try:sentinel`: Twinlens on a Sentinel-managed Redis, in one command. Starts a primary, a
 * replica and three sentinels on free ports of 127.0.0.1 (server/process/redis-sentinel.ts: AOF on,
 * failover after 1 s), then `npm start` with REDIS_SENTINELS naming them, and says how to kill the
 * primary to watch a failover. Ctrl-C stops everything and removes the Redis data.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../server/process/launcher.ts';
import { startSentinelTopology } from '../server/process/redis-sentinel.ts';

const topo = await startSentinelTopology();
const primary = await topo.primaryPort();
const [s1] = topo.sentinelPorts;
const pids = topo.nodes.map((n) => `${n.port}: pid ${n.proc?.pid}`).join(', ');
process.stderr.write(
  [
    '',
    `  Redis behind Sentinel: ${topo.env.REDIS_SENTINELS} (name ${topo.env.REDIS_SENTINEL_NAME}); data nodes ${pids}.`,
    `  The primary now: redis-cli -p ${s1} SENTINEL get-master-addr-by-name ${topo.env.REDIS_SENTINEL_NAME}  (${primary})`,
    `  Watch a failover: kill -9 the primary's pid; uploads get 503 + Retry-After for a few seconds, then go on.`,
    '',
  ].join('\n'),
);
const start = spawn(process.execPath, [path.join(ROOT, 'dist', 'server', 'start.js')], {
  cwd: ROOT,
  env: { ...process.env, ...topo.env },
  stdio: 'inherit',
});
const stop = () => start.kill('SIGINT');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
const code = await new Promise<number | null>((resolve) => start.once('exit', resolve));
await topo.destroy();
process.exit(code ?? 0);
