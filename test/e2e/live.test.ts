/**
 * The Live view in real Chromium, on its fake camera playing a clip made here from a fixture photo
 * (the astronaut panning across a grey frame and back, so the loop never jumps), with the real model
 * on WebAssembly in the detection worker: detections arrive, the person is found and keeps one track
 * id, one frame in flight at most, nothing after Stop and the camera released; hidden → none; a still
 * video file → the rate drops to the static rate; Snapshot → a device task in the history; permission
 * denied and no camera → the message, nothing running.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeCamera, makeClip } from '../../bench/lib/live-clips.ts';
import { TaskSchema } from '../../shared/contract.ts';
import { useSystem } from '../helpers/system.ts';
import { type Browser, exportedTasks, logIn, openApp, SLOW, waitForNewestTask } from './browser.ts';

// One worker: a snapshot can be sent to the server path too.
const ctx = useSystem({ workers: 1 });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-live-'));
let PAN = '';
let STILL = '';
beforeAll(() => {
  PAN = makeClip(dir, 'pan', 'y4m');
  STILL = makeClip(dir, 'still', 'webm');
}, 60_000);

/** Keeps every camera stream the page opens (to check its tracks ended) and every `live:result`. */
const INIT = `
  window.__streams = [];
  window.__results = [];
  // A battery the test can drain (the Battery Status API's object: level, charging, levelchange).
  const battery = new EventTarget();
  battery.level = 1;
  battery.charging = true;
  window.__battery = battery;
  navigator.getBattery = async () => battery;
  const gum = navigator.mediaDevices && navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  if (gum) navigator.mediaDevices.getUserMedia = async (c) => { const s = await gum(c); window.__streams.push(s); return s; };
  document.addEventListener('DOMContentLoaded', () => {
    document.getElementById('live-overlay').addEventListener('live:result', (e) => {
      window.__results.push({ at: performance.now(), ...e.detail });
    });
  });
`;

interface Result {
  at: number;
  latencyMs: number;
  maxInFlight: number;
  tracks: { id: number; label: string }[];
}
const results = (page: Page) => page.evaluate<Result[]>('window.__results');
const now = (page: Page) => page.evaluate<number>('performance.now()');
const since = async (page: Page, t: number) => (await results(page)).filter((r) => r.at > t);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function openLive(page: Page): Promise<void> {
  await page.waitForSelector('#where[data-backend="wasm"]', { timeout: 120_000 });
  await page.click('#live-open');
  await page.waitForSelector('#live:not([hidden])');
}

/** A browser on the app with the camera allowed and the pan playing as it, the Live view open. */
async function openLiveOnPan(): Promise<Browser> {
  const browser = await openApp(`${ctx.sys.baseUrl}/?backends=wasm`, {
    webgpu: false,
    args: fakeCamera(PAN),
    permissions: ['camera'],
    init: INIT,
  });
  await openLive(browser.page);
  return browser;
}

describe('on the fake camera (a pan over the astronaut)', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await openLiveOnPan();
  }, SLOW);
  afterAll(async () => {
    await browser?.close();
  });

  it(
    'detections arrive continuously, the person is found and keeps one track id, one frame in flight at most',
    async () => {
      const { page } = browser;
      await page.click('#live-start');
      await page.waitForSelector('#live[data-phase="running"]', { timeout: 30_000 });
      // The clip is 6 s (there and back): 8 s of detections cover a whole pass and a loop.
      const t0 = await now(page);
      await expect.poll(async () => (await since(page, t0)).length, { timeout: 60_000 }).toBeGreaterThanOrEqual(3);
      const start = await now(page);
      await sleep(8000);
      const got = await since(page, start);
      expect(got.length).toBeGreaterThanOrEqual(8); // ≥ 1/s (WebAssembly here: ~3–5/s)
      // No gap of more than 2 s between two answers: continuous.
      const gaps = got.slice(1).map((r, i) => r.at - (got[i] as Result).at);
      expect(Math.max(...gaps)).toBeLessThan(2000);
      expect(Math.max(...got.map((r) => r.maxInFlight))).toBe(1);
      const people = got.map((r) => r.tracks.filter((t) => t.label === 'person'));
      const withPerson = people.filter((p) => p.length > 0);
      expect(withPerson.length / got.length).toBeGreaterThanOrEqual(0.8);
      // One id for the astronaut across the pan (a blink of the model may miss a frame, not change the id).
      const ids = new Set(withPerson.flatMap((p) => p.map((t) => t.id)));
      expect([...ids]).toHaveLength(1);
      // The status line says the rate and why; the counts name the class.
      expect(await page.textContent('#live-status')).toMatch(/detections\/s.*as fast as this device detects/);
      expect(await page.textContent('#live-counts')).toMatch(/\d person/);
      expect(Number(await page.getAttribute('#live-overlay', 'data-overlay-fps'))).toBeGreaterThan(0);
      // The camera that opened is remembered in this browser, and the picker now names it.
      const remembered = JSON.parse(
        (await page.evaluate<string | null>('localStorage.getItem("twinlens.camera")')) ?? '{}',
      );
      expect(remembered.deviceId).toBeTruthy();
      expect(await page.inputValue('#live-camera')).toBe(`id:${remembered.deviceId}`);
    },
    SLOW,
  );

  it(
    'page hidden → no detections while hidden; visible again → they resume',
    async () => {
      const { page } = browser;
      // Headless Chromium has no window to minimise: the page is told it is hidden as the browser
      // tells it (visibilityState and the visibilitychange event).
      await page.evaluate(`(() => {
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
        document.dispatchEvent(new Event('visibilitychange'));
      })()`);
      await page.waitForSelector('#live[data-reason="hidden"]');
      await sleep(1000); // the frame in flight when it was hidden may still answer
      const hiddenAt = await now(page);
      await sleep(3000);
      expect(await since(page, hiddenAt)).toHaveLength(0);
      expect(await page.textContent('#live-status')).toMatch(/Paused — the page is hidden/);
      await page.evaluate(`(() => {
        delete document.visibilityState;
        document.dispatchEvent(new Event('visibilitychange'));
      })()`);
      const shownAt = await now(page);
      await expect.poll(async () => (await since(page, shownAt)).length, { timeout: 20_000 }).toBeGreaterThan(2);
    },
    SLOW,
  );

  it(
    'battery below 20 % (not charging) → at most 3 a second, and the status line says why',
    async () => {
      const { page } = browser;
      const setBattery = (level: number, charging: boolean) =>
        page.evaluate(
          `(() => { Object.assign(window.__battery, { level: ${level}, charging: ${charging} }); window.__battery.dispatchEvent(new Event('levelchange')); })()`,
        );
      await setBattery(0.15, false);
      await page.waitForSelector('#live[data-reason="battery"]', { timeout: 10_000 });
      expect(await page.textContent('#live-status')).toMatch(/at most 3\/s\) — the battery is low/);
      await sleep(1000);
      const t = await now(page);
      await sleep(4000);
      expect((await since(page, t)).length).toBeLessThanOrEqual(13); // 3/s over 4 s, +1 for the edge
      await setBattery(0.15, true); // charging: the full rate again
      await page.waitForSelector('#live[data-reason="moving"]', { timeout: 10_000 });
    },
    SLOW,
  );

  it(
    'Snapshot → a device task in the history with the frame, its thumbnail and the person',
    async () => {
      const { page } = browser;
      const before = await page.locator('#history li.task').count();
      await page.click('#live-snapshot');
      const id = await waitForNewestTask(page, ['succeeded']);
      expect(await page.locator('#history li.task').count()).toBe(before + 1);
      await page.waitForSelector(`li[data-task-id="${id}"] img[src^="blob:"]`);
      const task = (await exportedTasks(page)).map((t) => TaskSchema.parse(t)).find((t) => t.task_id === id);
      expect(task?.source).toBe('device');
      expect(task?.status).toBe('succeeded');
      expect(task?.image).toMatchObject({ width: 480, height: 360, mime: 'image/jpeg' });
      expect(task?.route?.reason).toMatch(/Live view snapshot/);
      expect(task?.model?.backend).toBe('wasm');
      const person = task?.detections.find((d) => d.label === 'person');
      expect(person?.score).toBeGreaterThanOrEqual(0.3);
      // The box is on the astronaut (240 px tall, from y = 60): in the frame's pixels.
      expect(person?.box.y).toBeGreaterThanOrEqual(30);
      expect(person?.box.height).toBeGreaterThan(100);
    },
    SLOW,
  );

  it(
    '"Send to server" (logged in) → the frame is a server task, with the same label',
    async () => {
      const { page } = browser;
      expect(await page.isHidden('#live-send')).toBe(true); // not logged in: no such choice
      await logIn(page, ctx.sys.admin.username, ctx.sys.admin.password);
      await page.waitForSelector('#live-send:not([hidden]):not([disabled])');
      const before = await page.locator('#history li.task').count();
      await page.click('#live-send');
      await expect.poll(() => page.locator('#history li.task').count(), { timeout: 30_000 }).toBe(before + 1);
      const id = await waitForNewestTask(page, ['succeeded', 'failed'], 120_000);
      const task = (await exportedTasks(page)).map((t) => TaskSchema.parse(t)).find((t) => t.task_id === id);
      expect(task).toMatchObject({ source: 'server', status: 'succeeded', route: { chosen: 'server' } });
      expect(task?.image).toMatchObject({ width: 480, height: 360 });
      expect(task?.detections.map((d) => d.label)).toContain('person');
    },
    SLOW,
  );

  it(
    'Stop → none processed after it, the camera track ended, the view says it is off',
    async () => {
      const { page } = browser;
      await page.click('#live-stop');
      await page.waitForSelector('#live[data-phase="off"]');
      const stoppedAt = await now(page);
      await sleep(3000);
      expect(await since(page, stoppedAt)).toHaveLength(0);
      const states = await page.evaluate<string[]>(
        'window.__streams.flatMap((s) => s.getTracks().map((t) => t.readyState))',
      );
      expect(states.length).toBeGreaterThan(0);
      expect(states.every((s) => s === 'ended')).toBe(true);
      expect(await page.evaluate('document.getElementById("live-video").srcObject')).toBeNull();
      expect(await page.textContent('#live-status')).toMatch(/camera is off/);
    },
    SLOW,
  );

  it(
    'a still video file → the rate drops to the static rate (≤ 2/s) within a few seconds',
    async () => {
      const { page } = browser;
      await page.setInputFiles('#live-file', STILL);
      await page.waitForSelector('#live[data-phase="running"]', { timeout: 30_000 });
      await page.waitForSelector('#live[data-reason="static"]', { timeout: 15_000 });
      // Once still: counted over 4 s, at most 2 a second (+1 for the window's edge).
      await sleep(1000);
      const t = await now(page);
      await sleep(4000);
      const got = await since(page, t);
      expect(got.length).toBeGreaterThanOrEqual(3);
      expect(got.length).toBeLessThanOrEqual(9);
      expect(await page.textContent('#live-status')).toMatch(/at most [\d.]+\/s\) — the scene is still/);
      expect(got.some((r) => r.tracks.some((tr) => tr.label === 'person'))).toBe(true);
      await page.click('#live-stop');
      await page.waitForSelector('#live[data-phase="off"]');
    },
    SLOW,
  );
});

describe('the detection worker lost mid-stream', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await openLiveOnPan();
  }, SLOW);
  afterAll(async () => {
    await browser?.close();
  });

  it(
    'a worker that dies without a word → "the detector stopped", the camera released; Start again works',
    async () => {
      const { page } = browser;
      await page.click('#live-start');
      const t0 = await now(page);
      await expect.poll(async () => (await since(page, t0)).length, { timeout: 60_000 }).toBeGreaterThanOrEqual(2);
      // The worker ends itself (as a crashed one would): no error event, no answer for the frame in flight.
      const worker = page.workers().find((w) => /worker/.test(w.url()));
      expect(worker).toBeDefined();
      await worker?.evaluate('self.close()');
      await page.waitForSelector('#live[data-phase="error"][data-error="backend_lost"]', { timeout: 60_000 });
      expect(await page.textContent('#live-error')).toMatch(
        /The detector stopped \(no answer from the model in \d+ s\)/,
      );
      const states = await page.evaluate<string[]>(
        'window.__streams.flatMap((s) => s.getTracks().map((t) => t.readyState))',
      );
      expect(states.every((s) => s === 'ended')).toBe(true);
      const failedAt = await now(page);
      await sleep(1000);
      expect(await since(page, failedAt)).toHaveLength(0);
      // Start again: a fresh worker loads the model, detections resume.
      await page.click('#live-start');
      await page.waitForSelector('#live[data-phase="running"]');
      const again = await now(page);
      await expect.poll(async () => (await since(page, again)).length, { timeout: 60_000 }).toBeGreaterThanOrEqual(2);
      await page.click('#live-stop');
    },
    SLOW,
  );
});

describe('when the camera cannot be had', () => {
  it.each([
    {
      name: 'permission denied',
      withCamera: true,
      permissions: [] as string[],
      code: 'permission_denied',
      message: /not allowed for this page/,
    },
    {
      name: 'no camera',
      withCamera: false,
      permissions: ['camera'],
      code: 'no_camera',
      message: /No camera was found/,
    },
  ])(
    '$name → the message, nothing running',
    async ({ withCamera, permissions, code, message }) => {
      const browser = await openApp(`${ctx.sys.baseUrl}/?backends=wasm`, {
        webgpu: false,
        args: withCamera ? fakeCamera(PAN) : [],
        permissions,
        init: INIT,
      });
      try {
        const { page } = browser;
        await openLive(page);
        await page.click('#live-start');
        await page.waitForSelector(`#live[data-phase="error"][data-error="${code}"]`, { timeout: 30_000 });
        expect(await page.textContent('#live-error')).toMatch(message);
        expect(await page.isVisible('#live-error')).toBe(true);
        expect(await page.isDisabled('#live-stop')).toBe(true);
        await sleep(1000);
        expect(await results(page)).toHaveLength(0);
        expect(await page.evaluate('window.__streams.length')).toBe(0);
        expect(await page.evaluate('document.getElementById("live-video").srcObject')).toBeNull();
      } finally {
        await browser.close();
      }
    },
    SLOW,
  );
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});
