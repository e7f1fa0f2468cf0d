/**
 * `npm run screenshots`: the README's pictures of the main views, taken in headless Chromium
 * against the real system (phone-sized viewport).
 */
import path from 'node:path';
import { FIXTURES } from '../bench/lib/api.ts';
import { chooseRoute, logIn, openApp, waitForNewestTask } from '../bench/lib/browser.ts';
import { ROOT } from '../server/process/launcher.ts';
import { startSystem } from '../server/process/local-system.ts';

const out = (name: string) => path.join(ROOT, 'docs', 'screenshots', name);
const sys = await startSystem({ workers: 1 });
try {
  const b = await openApp(sys.baseUrl, { webgpu: true });
  try {
    const { page } = b;
    await chooseRoute(page, 'device');
    await page.waitForSelector('#where[data-backend]', { timeout: 300_000 });
    await page.setInputFiles('#files', path.join(FIXTURES, 'coffee.png'));
    await waitForNewestTask(page, ['succeeded']);
    await page.waitForSelector('#result canvas[data-boxes]');
    await page.screenshot({ path: out('device-result.png'), fullPage: true });

    await page.click('#account button:has-text("Log in")');
    await page.fill('#login input[name="username"]', sys.admin.username);
    await page.screenshot({ path: out('login.png') });
    await page.click('#login-cancel');
    await logIn(page, sys.admin.username, sys.admin.password);
    await chooseRoute(page, 'server');
    await page.setInputFiles('#files', [path.join(FIXTURES, 'astronaut.png'), path.join(FIXTURES, 'chelsea.png')]);
    await page.waitForFunction(
      () => document.querySelectorAll('#history li.task[data-status="succeeded"]').length >= 3,
      null,
      {
        timeout: 120_000,
      },
    );
    await page.click('#history li.task >> nth=0');
    await page.waitForSelector('#result canvas[data-boxes]');
    await page.screenshot({ path: out('server-result-and-history.png'), fullPage: true });
  } finally {
    await b.close();
  }
} finally {
  await sys.stop();
}
console.log('screenshots written to docs/screenshots/');
