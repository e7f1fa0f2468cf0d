/**
 * `npm run bench:live`: the Live view in headless Chromium on its fake camera (WebAssembly, no GPU),
 * the real model in the detection worker. Three scenarios in one run, each in a fresh browser:
 *
 *   idle    — the app open, the Live view not started: the same-run baseline for CPU
 *   moving  — the camera plays a pan across the astronaut (bench/lib/live-clips.ts)
 *   static  — the camera plays the same frame over and over
 *
 * For each: detections per second, latency from a frame's presentation to its boxes (p50/p95), the
 * overlay's frames per second, the longest main-thread task (Long Tasks API: none means all < 50 ms),
 * and the CPU the whole browser used (every Chromium process, from /proc) per minute of wall time.
 * The model's own time per pass on this machine (the status line's measurement) is printed beside
 * them: one frame in flight means detections/s ≤ 1000 / (ms per pass + drawing the frame).
 * Environment: SECONDS (measured per scenario, default 30), WARMUP (s before measuring, default 6),
 * THREADS=1: also the moving scene on WebAssembly's threaded build (`?backends=wasm-threads`, all cores
 * but one, at least 2: issue 24), against the single-threaded moving run of the same bench.
 */
import fs from 'node:fs';
import os from 'node:os';
import type { Page } from 'playwright-core';
import { startSystem } from '../server/process/local-system.ts';
import { openApp } from './lib/browser.ts';
import { cpuSeconds, f, pct, sleep } from './lib/harness.ts';
import { fakeCamera, makeClip } from './lib/live-clips.ts';

const SECONDS = Number(process.env.SECONDS ?? 30);
const WARMUP = Number(process.env.WARMUP ?? 6);

const INIT = `
  window.__results = [];
  window.__longtasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longtasks.push({ at: e.startTime, ms: e.duration });
  }).observe({ type: 'longtask', buffered: true });
  document.addEventListener('DOMContentLoaded', () => {
    document.getElementById('live-overlay').addEventListener('live:result', (e) => {
      window.__results.push({ at: performance.now(), latencyMs: e.detail.latencyMs, inferenceMs: e.detail.inferenceMs, drawMs: e.detail.drawMs, maxInFlight: e.detail.maxInFlight, reason: e.detail.reason });
    });
  });
`;

interface Result {
  at: number;
  latencyMs: number;
  inferenceMs: number;
  drawMs: number;
  maxInFlight: number;
  reason: string;
}

/** Every process of the browser started with this profile: the browser and all its descendants. */
function browserPids(profile: string): number[] {
  const procs = fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
  const parent = new Map<number, number>();
  let root: number | undefined;
  for (const pid of procs) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      parent.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (root === undefined && cmd.includes(`--user-data-dir=${profile}`) && !cmd.includes('--type=')) root = pid;
    } catch {
      // gone meanwhile
    }
  }
  if (root === undefined) return [];
  const out = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (!out.has(pid) && out.has(ppid)) {
        out.add(pid);
        grew = true;
      }
    }
  }
  return [...out];
}

const cpuOf = (pids: number[]) => pids.reduce((s, p) => s + (Number.isFinite(cpuSeconds(p)) ? cpuSeconds(p) : 0), 0);

interface Row {
  scenario: string;
  perSecond: number;
  p50: number;
  p95: number;
  overlayFps: number;
  /** Mean redraws per second (a box moved by a pixel); the other animation frames leave the canvas alone. */
  overlayDraws: number;
  longestTaskMs: number | null;
  cpuPerMinute: number;
  reason: string;
  maxInFlight: number;
  inferenceP50: number;
  drawP50: number;
}

async function scenario(
  baseUrl: string,
  name: string,
  clip: string,
  start: boolean,
  backends = 'wasm',
): Promise<Row & { msPerPass: number }> {
  const browser = await openApp(`${baseUrl}/?backends=${backends}`, {
    webgpu: false,
    args: fakeCamera(clip),
    permissions: ['camera'],
    init: INIT,
  });
  try {
    const { page } = browser;
    await page.waitForSelector('#where[data-backend="wasm"]', { timeout: 120_000 });
    const line = (await page.textContent('#where')) ?? '';
    const msPerPass = Number(/WebAssembly, (\d+) ms per photo/.exec(line)?.[1] ?? Number.NaN);
    await page.click('#live-open');
    if (start) {
      await page.click('#live-start');
      await page.waitForSelector('#live[data-phase="running"]', { timeout: 60_000 });
    }
    await sleep(WARMUP * 1000);
    const pids = browserPids(browser.profile);
    const cpu0 = cpuOf(pids);
    const wall0 = performance.now();
    const t0 = await now(page);
    const fps: number[] = [];
    const draws: number[] = [];
    for (let i = 0; i < SECONDS; i++) {
      await sleep(1000);
      if (!start) continue;
      fps.push(Number(await page.getAttribute('#live-overlay', 'data-overlay-fps')));
      draws.push(Number(await page.getAttribute('#live-overlay', 'data-overlay-draws')));
    }
    const cpu = cpuOf(pids) - cpu0;
    const wall = (performance.now() - wall0) / 1000;
    const t1 = await now(page);
    const results = (await page.evaluate<Result[]>('window.__results')).filter((r) => r.at > t0 && r.at <= t1);
    const longtasks = (await page.evaluate<{ at: number; ms: number }[]>('window.__longtasks')).filter(
      (l) => l.at > t0 && l.at <= t1,
    );
    const reason = start ? ((await page.getAttribute('#live', 'data-reason')) ?? '') : '';
    if (start) await page.click('#live-stop');
    if (process.env.DEBUG) {
      const reasons = new Map<string, number>();
      for (const r of results) reasons.set(r.reason, (reasons.get(r.reason) ?? 0) + 1);
      console.error(name, Object.fromEntries(reasons), await page.textContent('#live-status'));
    }
    const lat = results.map((r) => r.latencyMs).sort((a, b) => a - b);
    const inf = results.map((r) => r.inferenceMs).sort((a, b) => a - b);
    const draw = results.map((r) => r.drawMs).sort((a, b) => a - b);
    return {
      scenario: name,
      msPerPass,
      perSecond: results.length / ((t1 - t0) / 1000),
      p50: pct(lat, 50),
      p95: pct(lat, 95),
      overlayFps: fps.length
        ? pct(
            [...fps].sort((a, b) => a - b),
            50,
          )
        : Number.NaN,
      overlayDraws: draws.length ? draws.reduce((a, b) => a + b, 0) / draws.length : Number.NaN,
      longestTaskMs: longtasks.length ? Math.max(...longtasks.map((l) => l.ms)) : null,
      cpuPerMinute: (cpu / wall) * 60,
      reason,
      maxInFlight: Math.max(0, ...results.map((r) => r.maxInFlight)),
      inferenceP50: pct(inf, 50),
      drawP50: pct(draw, 50),
    };
  } finally {
    await browser.close();
  }
}

const now = (page: Page) => page.evaluate<number>('performance.now()');

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(`${os.tmpdir()}/twinlens-bench-live-`);
  const sys = await startSystem({ workers: 0 });
  try {
    const pan = makeClip(dir, 'pan', 'y4m');
    const still = makeClip(dir, 'still', 'y4m');
    const rows = [];
    rows.push(await scenario(sys.baseUrl, 'idle (not started)', still, false));
    rows.push(await scenario(sys.baseUrl, 'moving (pan)', pan, true));
    rows.push(await scenario(sys.baseUrl, 'static (still)', still, true));
    if (process.env.THREADS) {
      rows.push(await scenario(sys.baseUrl, 'moving (pan), WebAssembly threads', pan, true, 'wasm-threads'));
    }
    const cores = os.cpus().length;
    console.log(
      `\nLive view, headless Chromium, fake camera 480×360 at 15 fps, WebAssembly, ${cores} cores, ${SECONDS} s per scenario after ${WARMUP} s\n`,
    );
    console.log(
      '| scenario | detections/s | frame→boxes p50 / p95 (ms) | worker: draw / model p50 (ms) | overlay fps (redrawn/s) | longest main-thread task | frames in flight (max) | CPU s per minute | rate reason |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      const started = !r.scenario.startsWith('idle');
      console.log(
        `| ${r.scenario} | ${started ? f(r.perSecond, 2) : '–'} | ${started ? `${f(r.p50, 0)} / ${f(r.p95, 0)}` : '–'} | ${started ? `${f(r.drawP50, 1)} / ${f(r.inferenceP50, 0)}` : '–'} | ${started ? `${f(r.overlayFps, 0)} (${f(r.overlayDraws, 0)})` : '–'} | ${r.longestTaskMs === null ? 'none ≥ 50 ms' : `${f(r.longestTaskMs, 0)} ms`} | ${started ? r.maxInFlight : '–'} | ${f(r.cpuPerMinute, 1)} | ${r.reason || '–'} |`,
      );
    }
    const [idle, moving, still2] = rows as [Row & { msPerPass: number }, Row, Row];
    const perFrame = moving.inferenceP50 + moving.drawP50;
    console.log(
      `\nThe model on this machine: ${f(idle.msPerPass, 0)} ms per pass (the status line's measurement, a blank photo at load), ${f(moving.inferenceP50, 0)} ms per frame while live`,
    );
    console.log(
      `→ ceiling with one frame in flight: ${f(1000 / perFrame, 1)} detections/s; measured moving ${f(moving.perSecond, 2)}/s (${f((moving.perSecond * perFrame) / 10, 0)} % of the worker's time)`,
    );
    const saved = 1 - (still2.cpuPerMinute - idle.cpuPerMinute) / (moving.cpuPerMinute - idle.cpuPerMinute);
    console.log(
      `Static vs moving: ${f((1 - still2.cpuPerMinute / moving.cpuPerMinute) * 100, 0)} % less CPU for the browser; ${f(saved * 100, 0)} % less above the idle baseline`,
    );
  } finally {
    await sys.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
