import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/log.ts';
import { loadVapidKeys, VAPID_FILE } from '../../server/push/vapid-keys.ts';

const log = createLogger({}, 'error');
const dirs: string[] = [];
function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinlens-vapid-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('loadVapidKeys', () => {
  it('makes a pair on first use, 0600, and returns the same one afterwards', async () => {
    const dir = path.join(tmpDir(), 'not-yet');
    const first = await loadVapidKeys(dir, log);
    expect(Buffer.from(first.publicKey, 'base64url')).toHaveLength(65);
    expect(Buffer.from(first.privateKey, 'base64url')).toHaveLength(32);
    expect(fs.statSync(path.join(dir, VAPID_FILE)).mode & 0o777).toBe(0o600);
    expect(await loadVapidKeys(dir, log)).toEqual(first);
    expect(fs.readdirSync(dir)).toEqual([VAPID_FILE]); // no temporary files left
  });

  it('when many start at once, one pair wins and everyone gets it', async () => {
    const dir = tmpDir();
    const all = await Promise.all(Array.from({ length: 16 }, () => loadVapidKeys(dir, log)));
    expect(new Set(all.map((k) => k.publicKey)).size).toBe(1);
    expect(JSON.parse(fs.readFileSync(path.join(dir, VAPID_FILE), 'utf8'))).toEqual(all[0]);
    expect(fs.readdirSync(dir)).toEqual([VAPID_FILE]);
  });

  it('refuses a damaged file instead of replacing it (subscriptions depend on the key)', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, VAPID_FILE), '{"publicKey":"x"}', { mode: 0o600 });
    await expect(loadVapidKeys(dir, log)).rejects.toThrow(/not a VAPID key pair/);
    expect(fs.readFileSync(path.join(dir, VAPID_FILE), 'utf8')).toBe('{"publicKey":"x"}');
  });

  it('makes a file that others can read 0600', async () => {
    const dir = tmpDir();
    const keys = await loadVapidKeys(dir, log);
    fs.chmodSync(path.join(dir, VAPID_FILE), 0o644);
    expect(await loadVapidKeys(dir, log)).toEqual(keys);
    expect(fs.statSync(path.join(dir, VAPID_FILE)).mode & 0o777).toBe(0o600);
  });
});

describe('VAPID_SUBJECT', () => {
  it('defaults to a mailto: address and takes mailto: or https:// only', () => {
    expect(loadConfig({}).VAPID_SUBJECT).toBe('mailto:admin@localhost');
    expect(loadConfig({ VAPID_SUBJECT: '' }).VAPID_SUBJECT).toBe('mailto:admin@localhost');
    expect(loadConfig({ VAPID_SUBJECT: 'https://example.org/contact' }).VAPID_SUBJECT).toBe(
      'https://example.org/contact',
    );
    for (const bad of ['admin@example.org', 'http://example.org', 'https://', 'ftp://x']) {
      expect(() => loadConfig({ VAPID_SUBJECT: bad }), bad).toThrow(ConfigError);
    }
    expect(() => loadConfig({ VAPID_SUBJECT: 'nope' })).toThrow(/VAPID_SUBJECT="nope"/);
  });
});
