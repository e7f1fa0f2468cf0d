/**
 * The API keys dialog (issue 23) in real Chromium against the real server: a logged-in user makes a
 * key (its secret shown once, gone when the dialog closes), the key works with its scopes only, the
 * list shows names as text, and revoking a key stops it at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { useSystem } from '../helpers/system.ts';
import { type Browser, logIn, openApp } from './browser.ts';

const ctx = useSystem({ workers: 0 });
let browser: Browser | undefined;
afterEach(async () => {
  await browser?.close();
  browser = undefined;
});

describe('the API keys dialog', () => {
  it('makes a key shown once, lists it as text, and revokes it at once', async () => {
    browser = await openApp(ctx.sys.baseUrl, { webgpu: false });
    const { page } = browser;
    await logIn(page, ctx.sys.admin.username, ctx.sys.admin.password);
    await page.click('#account button:has-text("API keys")');
    await page.waitForSelector('#api-keys[open]');
    expect(await page.isVisible('#api-key-empty')).toBe(true);

    const name = '<img src=x onerror="window.__xss=1"> script';
    await page.fill('#api-key-form input[name="name"]', name);
    await page.uncheck('#api-key-form input[value="tasks:write"]');
    await page.click('#api-key-form button[type="submit"]');
    await page.waitForSelector('#api-key-list li');
    const secret = await page.textContent('#api-key-secret');
    expect(secret).toMatch(/^tlk_[A-Za-z0-9_-]{43}$/);

    // Listed by name (as text, not markup), scopes and prefix; never the secret.
    expect(await page.textContent('#api-key-list li strong')).toBe(name);
    expect(await page.locator('#api-key-list img').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    const meta = (await page.textContent('#api-key-list li .meta')) ?? '';
    expect(meta).toContain('tasks:read');
    expect(meta).not.toContain('tasks:write');
    expect(await page.textContent('#api-key-list')).not.toContain(secret as string);

    // The key does what its scopes allow, and no more.
    const headers = { authorization: `Bearer ${secret}` };
    expect((await fetch(`${ctx.sys.baseUrl}/api/v1/tasks`, { headers })).status).toBe(200);
    const upload = await fetch(`${ctx.sys.baseUrl}/api/v1/tasks`, { method: 'POST', headers, body: new FormData() });
    expect(upload.status).toBe(403);

    // Closed (Escape, like most people close a dialog): the secret is gone from the page.
    await page.keyboard.press('Escape');
    await page.waitForSelector('#api-keys', { state: 'hidden' });
    await page.waitForFunction(() => document.getElementById('api-key-secret')?.textContent === '');
    expect(await page.isVisible('#api-key-new')).toBe(false);
    expect(await page.content()).not.toContain(secret as string);

    // Opened again: the key is there; revoked: it stops working at once.
    await page.click('#account button:has-text("API keys")');
    await page.waitForSelector('#api-key-list li');
    await page.click('#api-key-list li button:has-text("Revoke")');
    await page.waitForSelector('#api-key-list li', { state: 'detached' });
    expect(await page.isVisible('#api-key-empty')).toBe(true);
    expect((await fetch(`${ctx.sys.baseUrl}/api/v1/tasks`, { headers })).status).toBe(401);
  });
});
