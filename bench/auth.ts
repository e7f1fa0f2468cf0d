/**
 * `npm run bench:auth`: what authenticating a request with an API key costs against a session token
 * (the baseline), on the real API process (the build output) and its own redis-server: the same
 * requests — `GET /api/v1/auth/me` (authentication and little else) and `GET /api/v1/tasks?limit=10`
 * (a typical read) — with `Authorization: Bearer <session>` and `Authorization: Bearer tlk_…`, in
 * alternating rounds, one client at a time (latency) and 16 at once (throughput), with the API
 * process's CPU time per request. Reported as ratios key ÷ session of the same run.
 *
 *   npm run bench:auth [-- --requests 2000 --rounds 3]
 */
import { parseArgs } from 'node:util';
import { TwinlensClient } from '../shared/client/twinlens-client.ts';
import { cpuSeconds, f, killChildren, machine, mean, pct, startBench } from './lib/harness.ts';

const { values } = parseArgs({
  options: { requests: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '3' } },
});
const REQUESTS = Number(values.requests);
const ROUNDS = Number(values.rounds);
const CONCURRENT = 16;
const PATHS = ['/api/v1/auth/me', '/api/v1/tasks?limit=10'] as const;

type Mode = 'session' | 'API key';
interface Sample {
  mode: Mode;
  path: string;
  clients: number;
  latencies: number[];
  wallMs: number;
  apiCpuMs: number;
}

async function run(baseUrl: string, credential: string, p: string, clients: number, apiPid: number | undefined) {
  const latencies: number[] = [];
  let left = REQUESTS;
  const cpu0 = cpuSeconds(apiPid);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (left-- > 0) {
        const t = performance.now();
        const res = await fetch(`${baseUrl}${p}`, { headers: { authorization: `Bearer ${credential}` } });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${p}: ${res.status}`);
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { latencies, wallMs: performance.now() - started, apiCpuMs: (cpuSeconds(apiPid) - cpu0) * 1000 };
}

async function main() {
  const bench = await startBench({ env: { LOG_LEVEL: 'info' } });
  try {
    const { sys } = bench;
    const client = new TwinlensClient({ baseUrl: sys.baseUrl });
    await client.login(sys.admin.username, sys.admin.password);
    const session = client.token as string;
    const key = (await client.createApiKey({ name: 'bench', scopes: ['tasks:read'] })).secret;
    const credentials: Record<Mode, string> = { session, 'API key': key };
    const pid = sys.api.child.pid;
    // Warm-up: the JIT, the Lua scripts loaded, connections open.
    for (const c of Object.values(credentials)) for (const p of PATHS) await run(sys.baseUrl, c, p, 4, pid);

    const samples: Sample[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Alternating which goes first, so that a drift in the machine's load hits both alike.
      const order: Mode[] = round % 2 === 0 ? ['session', 'API key'] : ['API key', 'session'];
      for (const p of PATHS) {
        for (const clients of [1, CONCURRENT]) {
          for (const mode of order) {
            samples.push({ mode, path: p, clients, ...(await run(sys.baseUrl, credentials[mode], p, clients, pid)) });
          }
        }
      }
      process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
    }

    const lines = [
      `bench:auth — ${REQUESTS} requests per run, ${ROUNDS} rounds, ${machine()}`,
      '',
      '| request | clients | auth | mean ms | p50 ms | p99 ms | req/s | API CPU µs/req | mean ÷ session | req/s ÷ session | CPU ÷ session |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ];
    for (const p of PATHS) {
      for (const clients of [1, CONCURRENT]) {
        const figures = (mode: Mode) => {
          const runs = samples.filter((s) => s.mode === mode && s.path === p && s.clients === clients);
          const lat = runs.flatMap((s) => s.latencies).sort((a, b) => a - b);
          const wall = runs.reduce((a, s) => a + s.wallMs, 0);
          const cpu = runs.reduce((a, s) => a + s.apiCpuMs, 0);
          return {
            mean: mean(lat),
            p50: pct(lat, 50),
            p99: pct(lat, 99),
            rps: lat.length / (wall / 1000),
            cpuUs: (cpu * 1000) / lat.length,
          };
        };
        const base = figures('session');
        for (const mode of ['session', 'API key'] as Mode[]) {
          const x = figures(mode);
          lines.push(
            `| \`GET ${p}\` | ${clients} | ${mode} | ${f(x.mean, 2)} | ${f(x.p50, 2)} | ${f(x.p99, 2)} | ${f(x.rps, 0)} | ${f(x.cpuUs, 0)} | ${f(x.mean / base.mean, 2)} | ${f(x.rps / base.rps, 2)} | ${f(x.cpuUs / base.cpuUs, 2)} |`,
          );
        }
      }
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await bench.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  killChildren();
  process.exit(1);
});
