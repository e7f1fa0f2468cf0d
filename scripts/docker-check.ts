/**
 * `npm run docker:check`: builds the real Dockerfile and runs docker-compose.yaml (Redis, the API,
 * two workers) on this machine's Docker engine, then checks the system through it:
 *
 *  1. an upload of astronaut.png finds the person;
 *  2. a worker container killed mid-job (SIGKILL): the task still succeeds, once;
 *  3. `--scale worker=3`: three workers alive in /api/v1/stats;
 *
 * and prints the image's size and the time from `up` to /readyz. Everything it made is removed at
 * the end (containers, volumes, the env file), whatever happens. Needs `docker` and
 * `docker-compose` (v1, Debian's) or `docker compose`; where no image registry is reachable, the
 * stand-ins script (DOCKER_STANDINS, default ../shared/tools/docker-standins.sh) provides the two
 * base images first.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TaskSchema } from '../shared/contract.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const PROJECT = `twinlens-check-${randomBytes(3).toString('hex')}`;
const IMAGE = 'twinlens:latest';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sh(cmd: string, args: string[], opts: { quiet?: boolean } = {}): string {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  if (!opts.quiet) process.stderr.write(r.stderr);
  return r.stdout;
}

/** docker-compose v1 where installed (Debian's), else the docker compose plugin. */
const compose = (() => {
  const v1 = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
  return v1.status === 0 ? { cmd: 'docker-compose', pre: [] as string[] } : { cmd: 'docker', pre: ['compose'] };
})();

function dc(envFile: string, port: number, ...args: string[]): string {
  const r = spawnSync(compose.cmd, [...compose.pre, '-p', PROJECT, '-f', 'docker-compose.yaml', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, TWINLENS_ENV_FILE: envFile, TWINLENS_PORT: String(port) },
  });
  if (r.status !== 0) throw new Error(`compose ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Raced with a timer of our own: while a container starts, Docker's port proxy accepts
    // connections and answers nothing, and Node's fetch then holds nothing that keeps the
    // process alive (it would exit, silently, mid-check).
    let timer: NodeJS.Timeout | undefined;
    const v = await Promise.race([
      probe().catch(() => undefined),
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 5000))),
    ]);
    clearTimeout(timer);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/**
 * A base image made from a bare root filesystem may have `/` as 0700 (the stand-ins do), so that no
 * unprivileged user — the image runs as `node` — can reach anything. Re-imported from an export
 * (which carries no entry for `/`), it gets the usual 0755; its settings are carried over.
 */
function repairBaseImage(image: string): void {
  if (
    spawnSync('docker', ['run', '--rm', '--user', '1000', image, 'node', '--version'], { stdio: 'ignore' }).status === 0
  ) {
    return;
  }
  process.stderr.write(
    `docker:check: ${image} is not usable by an unprivileged user; re-importing it with / as 0755\n`,
  );
  const env = JSON.parse(
    sh('docker', ['image', 'inspect', image, '--format', '{{json .Config.Env}}'], { quiet: true }),
  ) as string[] | null;
  const changes = [...(env ?? []).flatMap((e) => ['--change', `ENV ${e}`]), '--change', 'CMD ["node"]'];
  const container = sh('docker', ['create', image], { quiet: true }).trim();
  try {
    execFileSync(
      'bash',
      ['-c', `docker export ${container} | docker import ${changes.map((c) => `'${c}'`).join(' ')} - ${image}`],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
  } finally {
    spawnSync('docker', ['rm', container], { stdio: 'ignore' });
  }
}

async function main(): Promise<void> {
  if (spawnSync('docker', ['info'], { stdio: 'ignore' }).status !== 0) {
    throw new Error('no Docker engine answers (`docker info`); start one, or run ../shared/tools/docker-standins.sh');
  }
  const standins = process.env.DOCKER_STANDINS ?? path.resolve(ROOT, '..', 'shared', 'tools', 'docker-standins.sh');
  if (spawnSync('docker', ['image', 'inspect', 'node:20-bookworm-slim'], { stdio: 'ignore' }).status !== 0) {
    if (!fs.existsSync(standins))
      throw new Error('the base image node:20-bookworm-slim is missing and no registry stand-in is at hand');
    execFileSync('bash', [standins], { stdio: 'inherit' });
  }

  repairBaseImage('node:20-bookworm-slim');

  const built = performance.now();
  sh('docker', ['build', '--network', 'host', '-t', IMAGE, '.']);
  const buildS = (performance.now() - built) / 1000;
  const size = Number(sh('docker', ['image', 'inspect', IMAGE, '--format', '{{.Size}}'], { quiet: true }).trim());

  const admin = { username: 'admin', password: randomBytes(12).toString('base64url') };
  const envFile = path.join(os.tmpdir(), `${PROJECT}.env`);
  // Short locks so that a killed worker's job is retried within seconds; a 4 s inference so that a
  // worker is surely mid-job when it is killed.
  fs.writeFileSync(
    envFile,
    [
      `ADMIN_USERNAME=${admin.username}`,
      `ADMIN_PASSWORD=${admin.password}`,
      'WORKER_LOCK_MS=4000',
      'WORKER_HEARTBEAT_MS=1000',
      'WORKER_CONCURRENCY=1',
      'DEBUG_INFERENCE_BLOCK_MS=4000',
      'LOG_LEVEL=info',
    ].join('\n'),
    { mode: 0o600 },
  );
  const port = 18000 + Math.floor(Math.random() * 2000);
  const base = `http://127.0.0.1:${port}`;
  try {
    const up = performance.now();
    dc(envFile, port, 'up', '-d', '--no-build');
    await waitFor('/readyz', async () => ((await fetch(`${base}/readyz`)).ok ? true : undefined), 180_000);
    const readyS = (performance.now() - up) / 1000;

    const login = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(admin),
    });
    const { token } = (await login.json()) as { token: string };
    const auth = { authorization: `Bearer ${token}` };
    const submit = async (name: string) => {
      const form = new FormData();
      form.set('image', new Blob([new Uint8Array(fs.readFileSync(path.join(ROOT, 'test', 'fixtures', name)))]), name);
      const res = await fetch(`${base}/api/v1/tasks`, { method: 'POST', headers: auth, body: form });
      if (res.status !== 202) throw new Error(`upload: ${res.status} ${await res.text()}`);
      return TaskSchema.parse(await res.json()).task_id;
    };
    const task = async (id: string) =>
      TaskSchema.parse(await (await fetch(`${base}/api/v1/tasks/${id}`, { headers: auth })).json());
    const final = (id: string) =>
      waitFor(
        `task ${id}`,
        async () => {
          const t = await task(id);
          return ['succeeded', 'failed', 'canceled'].includes(t.status) ? t : undefined;
        },
        120_000,
      );

    // 1. Detection through the containers.
    const first = await final(await submit('astronaut.png'));
    const person = first.detections.find((d) => d.label === 'person');
    if (first.status !== 'succeeded' || !person) throw new Error(`astronaut: ${JSON.stringify(first)}`);
    console.log(`1. upload → ${first.status}, person ${person.score.toFixed(2)} (backend ${first.model?.backend})`);

    // 2. A worker container killed mid-job.
    const id = await submit('coffee.png');
    await waitFor('the task to run', async () => ((await task(id)).status === 'running' ? true : undefined), 60_000);
    const running = dc(envFile, port, 'ps', '-q', 'worker').trim().split('\n').filter(Boolean);
    let victim: string | undefined;
    for (const c of running) {
      const logs = spawnSync('docker', ['logs', c], { encoding: 'utf8' });
      if (`${logs.stdout}${logs.stderr}`.includes(id)) victim = c;
    }
    victim ??= running[0];
    if (!victim) throw new Error('no worker container');
    sh('docker', ['kill', '--signal', 'KILL', victim], { quiet: true });
    const after = await final(id);
    const succeeded = dc(envFile, port, 'logs', '--no-color', 'worker')
      .split('\n')
      .filter((l) => l.includes(id) && l.includes('"task succeeded"')).length;
    if (after.status !== 'succeeded' || succeeded !== 1) {
      throw new Error(`killed mid-job: ${after.status}, success logged ${succeeded} times`);
    }
    console.log(`2. worker ${victim.slice(0, 12)} killed mid-job → the task ${after.status}, success recorded once`);

    // 3. Scale to three workers (the killed one is restarted by its policy, or replaced).
    dc(envFile, port, 'up', '-d', '--no-build', '--scale', 'worker=3');
    const workers = await waitFor(
      'three workers in /stats',
      async () => {
        const stats = (await (await fetch(`${base}/api/v1/stats`, { headers: auth })).json()) as { workers: number };
        return stats.workers === 3 ? stats.workers : undefined;
      },
      180_000,
    );
    console.log(`3. --scale worker=3 → /api/v1/stats workers = ${workers}`);
    console.log(
      `image ${IMAGE}: ${(size / 1024 / 1024).toFixed(0)} MiB; build ${buildS.toFixed(0)} s; compose up → /readyz ${readyS.toFixed(1)} s`,
    );
  } finally {
    try {
      dc(envFile, port, 'down', '-v', '--remove-orphans');
    } finally {
      fs.rmSync(envFile, { force: true });
    }
  }
}

main().catch((err) => {
  process.stderr.write(`docker:check failed: ${(err as Error).message}\n`);
  process.exit(1);
});
