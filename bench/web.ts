/**
 * `npm run bench:web`: detection in headless Chromium, per backend the machine offers, beside the
 * server path, on the same photo, in one run. For each backend: the model's load + warm-up time,
 * the first inference after it, and the steady-state p50 of the next ones; for the server path:
 * end-to-end latency (upload → result in the page) and the worker's inference time. Then the
 * routing scenarios of Auto: the route chosen and the time from choosing a photo to its result
 * shown, and an album of 8 photos split between the device and the server against device-only
 * and server-only.
 * Environment: RUNS (steady-state inferences per backend, default 5), IMAGE (a test fixture).
 * VISITS=1: instead, a newcomer's photos: the four fixture photos (colour and grayscale) chosen one
 * after another on a first visit (software WebGPU and WebGL on offer, so there is measuring to do) and
 * on the next visit, each timed from the choice to its result shown; ROUNDS (default 3) such pairs.
 * BASELINE_WEB=<dir>: instead, the next-visit scenarios against this build and against another build
 * of the web app (e.g. an earlier commit's `dist/web`), alternating, in one run: the same-run baseline.
 * THREADS=1: instead, WebAssembly on one thread (the single-threaded SIMD build) against the threaded
 * build on 1, 2 and all cores (`?backends=wasm-threads&threads=N`), "On this device", ROUNDS (default 2)
 * rounds alternating: ms per inference and per photo (pick → result shown), as ratios to one thread.
 */
import os from 'node:os';
import path from 'node:path';
import { startSystem } from '../server/process/local-system.ts';
import { type Task, TaskSchema } from '../shared/contract.ts';
import { FIXTURES } from './lib/api.ts';
import { chooseRoute, exportedTasks, logIn, openApp } from './lib/browser.ts';

const RUNS = Number(process.env.RUNS ?? 5);
const IMAGE = process.env.IMAGE ?? 'astronaut.png';
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? Number.NaN;
const f = (n: number | null | undefined) => (n == null || Number.isNaN(n) ? '–' : `${Math.round(n)}`);

/**
 * Chooses one photo; ms from the file input's `change` (the photo handed to the page: what the browser
 * does when its picker closes; not Playwright's transfer of the file) to the page showing its result:
 * its row final and the result view on that task (photo, boxes, list). `view` false: the row only
 * (builds before 2026-11-29 do not mark the result view).
 */
async function timeToResult(
  page: Awaited<ReturnType<typeof openApp>>['page'],
  photo: string,
  view = true,
): Promise<{ ms: number }> {
  const before = await page.locator('#history li.task').count();
  // (A string: tsx would wrap named functions in a helper the page does not have.)
  const shown = page.evaluate<number>(`new Promise((resolve, reject) => {
    let chosenAt = null;
    document.addEventListener('change', () => { chosenAt ??= performance.now(); }, { capture: true, once: true });
    const observer = new MutationObserver(() => {
      const rows = document.querySelectorAll('#history li.task');
      const first = rows[0];
      const final = first?.dataset.status === 'succeeded' || first?.dataset.status === 'failed';
      if (chosenAt === null || rows.length <= ${before} || !final) return;
      if (${view} && document.getElementById('result')?.dataset.shown !== first.dataset.taskId) return;
      observer.disconnect();
      resolve(performance.now() - chosenAt);
    });
    observer.observe(document.body, { subtree: true, childList: true, attributes: true });
    setTimeout(() => reject(new Error('no result in 600 s')), 600000);
  })`);
  await page.setInputFiles('#files', path.join(FIXTURES, photo));
  return { ms: await shown };
}

/** `view`: the result view must show the task too (builds before 2026-11-29 do not mark it: row only). */
async function runTasks(
  page: Awaited<ReturnType<typeof openApp>>['page'],
  n: number,
  view = true,
): Promise<{ tasks: Task[]; wall: number[] }> {
  const wall: number[] = [];
  for (let i = 0; i < n; i++) {
    wall.push((await timeToResult(page, IMAGE, view)).ms);
    if (process.env.DEBUG) console.error(`  run ${i + 1}/${n}: ${Math.round(wall.at(-1) ?? 0)} ms`);
  }
  const tasks = (await exportedTasks(page))
    .map((t) => TaskSchema.parse(t))
    .reverse()
    .slice(-n);
  return { tasks, wall };
}

/** Chooses `n` photos at once; ms until every one of them is final in the history. */
async function albumMs(page: Awaited<ReturnType<typeof openApp>>['page'], n: number): Promise<number> {
  const names = ['astronaut.png', 'coffee.png', 'chelsea.png'];
  const before = await page.locator('#history li.task').count();
  const t0 = performance.now();
  await page.setInputFiles(
    '#files',
    Array.from({ length: n }, (_, i) => path.join(FIXTURES, names[i % names.length] as string)),
  );
  await page.waitForFunction(
    (want) => {
      const rows = [...document.querySelectorAll<HTMLElement>('#history li.task')];
      const final = rows.filter((r) => r.dataset.status === 'succeeded' || r.dataset.status === 'failed');
      return rows.length >= want && final.length >= want;
    },
    before + n,
    { timeout: 600_000, polling: 20 },
  );
  return performance.now() - t0;
}

/**
 * `revisit`: a first visit until the backends are measured, the browser closed, then opened again on
 * the same profile: the model comes from the service worker's cache and the measurement from
 * IndexedDB, as on every later visit.
 */
async function scenario(
  name: string,
  opts: {
    webgpu: boolean;
    query?: string;
    login: boolean;
    route: 'auto' | 'device' | 'server';
    init?: string;
    revisit?: boolean;
    view?: boolean;
  },
): Promise<string> {
  const url = `${sys.baseUrl}/${opts.query ?? ''}`;
  let profile: string | undefined;
  if (opts.revisit) {
    const first = await openApp(url, { webgpu: opts.webgpu, init: opts.init, keepProfile: true });
    await first.page.waitForSelector('#where[data-measured]', { timeout: 300_000 });
    await first.page.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    await first.close();
    profile = first.profile;
  }
  const b = await openApp(url, { webgpu: opts.webgpu, init: opts.init, profile });
  try {
    await b.page.waitForSelector('#where[data-backend]', { timeout: 300_000 });
    if (opts.revisit) await b.page.waitForSelector('#where[data-measured="stored"]', { timeout: 120_000 });
    if (opts.login) await logIn(b.page, sys.admin.username, sys.admin.password);
    await chooseRoute(b.page, opts.route);
    const { tasks, wall } = await runTasks(b.page, RUNS + 1, opts.view);
    const last = tasks.at(-1);
    const where = `${last?.source ?? '?'} (${last?.model?.backend ?? '?'})`;
    const inference = tasks.map((t) => t.timings.inference_ms ?? Number.NaN);
    console.error(`${name}: ${where}, ${last?.route?.reason ?? ''}; ms ${wall.map(f).join(' ')}`);
    return `| ${name} | ${where} | ${last?.route?.reason ?? ''} | ${f(wall[0])} | ${f(p50(wall.slice(1)))} | ${f(p50(inference.slice(1)))} |`;
  } finally {
    await b.close();
  }
}

let sys = await startSystem({ workers: 1 });

if (process.env.THREADS) {
  const cores = os.cpus().length;
  const configs: { name: string; query: string; threads: number }[] = [
    { name: 'one thread (single-threaded SIMD build)', query: '?backends=wasm', threads: 1 },
    { name: 'threaded build, 1 thread', query: '?backends=wasm-threads&threads=1', threads: 1 },
    { name: 'threaded build, 2 threads', query: '?backends=wasm-threads&threads=2', threads: 2 },
  ];
  if (cores > 2) {
    configs.push({
      name: `threaded build, ${cores - 1} threads (the default: all cores but one)`,
      query: `?backends=wasm-threads&threads=${cores - 1}`,
      threads: cores - 1,
    });
    configs.push({
      name: `threaded build, ${cores} threads (all cores)`,
      query: `?backends=wasm-threads&threads=${cores}`,
      threads: cores,
    });
  }
  const rounds = Number(process.env.ROUNDS ?? 2);
  const inference: Record<string, number[]> = {};
  const perPhoto: Record<string, number[]> = {};
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const c of configs) {
        const b = await openApp(`${sys.baseUrl}/${c.query}`, { webgpu: false });
        try {
          await chooseRoute(b.page, 'device');
          await b.page.waitForSelector('#where[data-backend]', { timeout: 300_000 });
          // What runs is what was asked: the build (candidate) and the threads (tf.wasm.getThreadsCount()).
          const threads = Number(await b.page.getAttribute('#where', 'data-threads'));
          if (threads !== c.threads)
            throw new Error(`${c.name}: ${threads} threads run (${await b.page.textContent('#where')})`);
          const { tasks, wall } = await runTasks(b.page, RUNS + 1);
          const ms = tasks.map((t) => t.timings.inference_ms ?? Number.NaN).slice(1);
          inference[c.name] = [...(inference[c.name] ?? []), ...ms];
          perPhoto[c.name] = [...(perPhoto[c.name] ?? []), ...wall.slice(1)];
          console.error(
            `round ${round}, ${c.name}: inference ${ms.map(f).join(' ')} ms; per photo ${wall.slice(1).map(f).join(' ')} ms`,
          );
        } finally {
          await b.close();
        }
      }
    }
  } finally {
    await sys.stop();
  }
  const base = configs[0]?.name ?? '';
  const ratio = (xs: Record<string, number[]>, name: string) => (p50(xs[name] ?? []) / p50(xs[base] ?? [])).toFixed(2);
  console.log(
    `bench:web THREADS=1, ${IMAGE}, ${rounds} rounds × ${RUNS} steady-state photos per setting, ${cores} cores (${os.cpus()[0]?.model}), headless Chromium`,
  );
  console.log('(p50 over the rounds; ratio: to one thread, measured in the same run)\n');
  console.log(
    '| WebAssembly | inference p50 ms | × one thread | per photo p50 ms (pick → result shown) | × one thread |',
  );
  console.log('| --- | --- | --- | --- | --- |');
  for (const c of configs) {
    console.log(
      `| ${c.name} | ${f(p50(inference[c.name] ?? []))} | ${ratio(inference, c.name)} | ${f(p50(perPhoto[c.name] ?? []))} | ${ratio(perPhoto, c.name)} |`,
    );
  }
  process.exit(0);
}

if (process.env.VISITS) {
  const photos = ['astronaut.png', 'coffee.png', 'chelsea.png', 'camera.png'];
  const rounds = Number(process.env.ROUNDS ?? 3);
  // With BASELINE_WEB, the same rounds on another build of the web app too, alternating (same run).
  const builds: Record<string, string> = { now: sys.env.WEB_DIR as string };
  if (process.env.BASELINE_WEB) builds.baseline = path.resolve(process.env.BASELINE_WEB);
  const lines: string[] = [];
  const all: Record<string, number[]> = {};
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const [build, webDir] of Object.entries(builds)) {
        await sys.stop();
        sys = await startSystem({ workers: 1, env: { WEB_DIR: webDir } });
        let profile: string | undefined;
        for (const visit of ['first', 'next'] as const) {
          const b = await openApp(sys.baseUrl, { webgpu: true, keepProfile: visit === 'first', profile });
          profile = b.profile;
          try {
            await b.page.waitForSelector('#where[data-backend]', { timeout: 300_000 });
            const wall: number[] = [];
            for (const photo of photos) {
              // A pause as a person takes between photos, long enough for the background measuring to start.
              await new Promise((r) => setTimeout(r, 2500));
              wall.push((await timeToResult(b.page, photo)).ms);
            }
            const key = `${build}, ${visit} visit`;
            all[key] = [...(all[key] ?? []), ...wall];
            lines.push(`| ${round} | ${key} | ${wall.map(f).join(' | ')} |`);
            console.error(`round ${round}, ${key}: ${wall.map(f).join(' ')} ms`);
            // The first visit is left to finish measuring (the next visit reads it).
            if (visit === 'first') await b.page.waitForSelector('#where[data-measured]', { timeout: 300_000 });
          } finally {
            await b.close();
          }
        }
      }
    }
  } finally {
    await sys.stop();
  }
  console.log(
    `bench:web VISITS=1${process.env.BASELINE_WEB ? ` BASELINE_WEB=${builds.baseline}` : ''}, ${rounds} rounds, ${os.cpus().length} cores (${os.cpus()[0]?.model}), headless Chromium`,
  );
  console.log('(ms from choosing a photo to its result shown; 2.5 s between photos)\n');
  console.log(`| round | build, visit | ${photos.join(' | ')} |`);
  console.log(`| --- | --- | ${photos.map(() => '---').join(' | ')} |`);
  console.log(lines.join('\n'));
  console.log('');
  for (const [key, xs] of Object.entries(all))
    console.log(`${key}: p50 ${f(p50(xs))} ms, max ${f(Math.max(...xs))} ms`);
  process.exit(0);
}

if (process.env.BASELINE_WEB) {
  // The same run, alternating builds (a noisy machine drifts): this one, the baseline, this one, the baseline.
  const builds = { now: sys.env.WEB_DIR as string, baseline: path.resolve(process.env.BASELINE_WEB) };
  const lines: string[] = [];
  try {
    for (const round of [1, 2]) {
      for (const [name, webDir] of Object.entries(builds)) {
        await sys.stop();
        sys = await startSystem({ workers: 1, env: { WEB_DIR: webDir } });
        for (const route of ['auto', 'device'] as const) {
          const line = await scenario(`${name} (round ${round}), ${route}, next visit`, {
            webgpu: false,
            login: false,
            route,
            revisit: true,
            view: false,
          });
          lines.push(line);
        }
      }
    }
  } finally {
    await sys.stop();
  }
  console.log(
    `bench:web BASELINE_WEB=${builds.baseline}, ${IMAGE}, ${RUNS} steady-state runs, ${os.cpus().length} cores`,
  );
  console.log('(timed from the change event to the row final: the baseline does not mark its result view)\n');
  console.log('| scenario | ran on | reason | first photo ms | steady p50 ms | its inference p50 ms |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  console.log(lines.join('\n'));
  process.exit(0);
}

const rows: string[] = [];
const routing: string[] = [];
const album: string[] = [];
try {
  // ROUTING_ONLY=1: the routing scenarios and the album only.
  for (const backend of process.env.ROUTING_ONLY ? [] : (['webgpu', 'webgl', 'wasm'] as const)) {
    const b = await openApp(`${sys.baseUrl}/?backends=${backend}`, { webgpu: backend === 'webgpu' });
    try {
      await chooseRoute(b.page, 'device');
      await b.page.waitForSelector('#where[data-backend]', { timeout: 300_000 });
      const got = await b.page.getAttribute('#where', 'data-backend');
      if (got !== backend) {
        rows.push(`| ${backend} | not offered here | | | |`);
        continue;
      }
      const readyMs = Number(await b.page.getAttribute('#where', 'data-ready-ms'));
      const adapter =
        backend === 'webgpu' ? ` (${(await b.page.textContent('#where'))?.match(/\(([^)]*)\)/)?.[1] ?? ''})` : '';
      const { tasks, wall } = await runTasks(b.page, RUNS + 1);
      const inference = tasks.map((t) => t.timings.inference_ms ?? Number.NaN);
      console.error(`${backend}: ready ${readyMs} ms, inference ${inference.map(f).join(', ')} ms`);
      rows.push(
        `| ${backend}${adapter} | ${f(readyMs)} | ${f(inference[0])} | ${f(p50(inference.slice(1)))} | ${f(p50(wall.slice(1)))} |`,
      );
    } finally {
      await b.close();
    }
  }
  // The server path, from the same browser without WebGPU ("Server"); also warms the server's figures.
  const b = await openApp(sys.baseUrl, { webgpu: false });
  try {
    await logIn(b.page, sys.admin.username, sys.admin.password);
    await chooseRoute(b.page, 'server');
    const { tasks, wall } = await runTasks(b.page, RUNS + 1);
    const inference = tasks.map((t) => t.timings.inference_ms ?? Number.NaN);
    rows.push(
      `| server (${tasks[0]?.model?.backend ?? '?'}, 1 worker) | (worker warm at start) | ${f(inference[0])} | ${f(p50(inference.slice(1)))} | ${f(p50(wall.slice(1)))} |`,
    );
  } finally {
    await b.close();
  }
  routing.push(await scenario('Auto, not logged in, no WebGPU', { webgpu: false, login: false, route: 'auto' }));
  routing.push(
    await scenario('Auto, not logged in, no WebGPU, next visit (model cached)', {
      webgpu: false,
      login: false,
      route: 'auto',
      revisit: true,
    }),
  );
  routing.push(
    await scenario('On this device, next visit (model cached)', {
      webgpu: false,
      login: false,
      route: 'device',
      revisit: true,
    }),
  );
  routing.push(
    await scenario('Auto, not logged in, software WebGPU present', { webgpu: true, login: false, route: 'auto' }),
  );
  routing.push(
    await scenario('Auto, logged in, only software WebGPU allowed (slow device)', {
      webgpu: true,
      query: '?backends=webgpu',
      login: true,
      route: 'auto',
    }),
  );
  routing.push(
    await scenario('Auto, logged in, battery at 10 %', {
      webgpu: false,
      login: true,
      route: 'auto',
      init: 'navigator.getBattery = async () => ({ level: 0.1, charging: false, addEventListener() {} });',
    }),
  );
  for (const route of ['auto', 'device', 'server'] as const) {
    const b = await openApp(sys.baseUrl, { webgpu: false });
    try {
      await b.page.waitForSelector('#where[data-backend]', { timeout: 300_000 });
      await logIn(b.page, sys.admin.username, sys.admin.password);
      await chooseRoute(b.page, route);
      const ms = await albumMs(b.page, 8);
      const tasks = (await exportedTasks(b.page)).map((t) => TaskSchema.parse(t));
      const onServer = tasks.filter((t) => t.source === 'server').length;
      album.push(`| ${route} | ${8 - onServer} / ${onServer} | ${f(ms)} |`);
      console.error(`album, ${route}: ${f(ms)} ms`);
    } finally {
      await b.close();
    }
  }
} finally {
  await sys.stop();
}

console.log(
  `bench:web, ${IMAGE}, ${RUNS} steady-state runs, ${os.cpus().length} cores (${os.cpus()[0]?.model}), headless Chromium\n`,
);
console.log(
  '| backend | model load + warm-up ms | first inference ms | steady p50 inference ms | end to end p50 ms (pick → result shown) |',
);
console.log('| --- | --- | --- | --- | --- |');
console.log(rows.join('\n'));

console.log('\nRouting (Auto): the route chosen and the time from choosing the photo to its result shown\n');
console.log('| scenario | ran on | reason | first photo ms | steady p50 ms | its inference p50 ms |');
console.log('| --- | --- | --- | --- | --- | --- |');
console.log(routing.join('\n'));
console.log('\nAn album of 8 photos chosen at once (logged in, no WebGPU, one server worker)\n');
console.log('| setting | device / server photos | all 8 shown, ms |');
console.log('| --- | --- | --- |');
console.log(album.join('\n'));
