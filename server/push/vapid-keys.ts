/**
 * The server's VAPID key pair, which identifies it to push services. Browsers bind each
 * subscription to the public key, so it must stay the same across restarts and across API
 * processes: made once, kept in DATA_DIR/vapid.json (0600), never in the repository.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import webpush from 'web-push';
import { z } from 'zod';
import type { Logger } from '../log.ts';

export interface VapidKeys {
  /** Base64url of the uncompressed P-256 public key (65 bytes): the browser's applicationServerKey. */
  publicKey: string;
  /** Base64url of the 32-byte private key. */
  privateKey: string;
}

const VapidFileSchema = z.object({
  publicKey: z.string().regex(/^B[A-Za-z0-9_-]{86}$/, 'a 65-byte P-256 public key, base64url'),
  privateKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a 32-byte private key, base64url'),
});

export const VAPID_FILE = 'vapid.json';

/**
 * Reads the key pair, making it on the first start. API processes starting together race
 * safely: each writes its own temporary file and links it to the final name, which fails if
 * the name exists, so exactly one pair wins and every process then reads that one.
 */
export async function loadVapidKeys(dataDir: string, log: Logger): Promise<VapidKeys> {
  const file = path.join(dataDir, VAPID_FILE);
  const existing = await readKeys(file, log);
  if (existing) return existing;

  await fs.mkdir(dataDir, { recursive: true });
  const keys = webpush.generateVAPIDKeys();
  const tmp = path.join(dataDir, `.${VAPID_FILE}.${process.pid}.${randomBytes(6).toString('hex')}`);
  const handle = await fs.open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify({ publicKey: keys.publicKey, privateKey: keys.privateKey })}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.link(tmp, file);
    log.info('generated the VAPID key pair for web push', { file });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Another process made the pair first; use theirs.
  } finally {
    await fs.rm(tmp, { force: true });
  }
  const winner = await readKeys(file, log);
  if (!winner) throw new Error(`${file} vanished right after it was written`);
  return winner;
}

async function readKeys(file: string, log: Logger): Promise<VapidKeys | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let parsed: VapidKeys;
  try {
    parsed = VapidFileSchema.parse(JSON.parse(text));
  } catch (err) {
    // Never replace it silently: every subscription made with the old public key would stop working.
    throw new Error(
      `${file} is not a VAPID key pair (${err instanceof Error ? err.message : String(err)}); fix or delete it`,
    );
  }
  const { mode } = await fs.stat(file);
  if ((mode & 0o077) !== 0) {
    await fs.chmod(file, 0o600);
    log.warn('the VAPID key file was readable by others; made it 0600', { file });
  }
  return parsed;
}
