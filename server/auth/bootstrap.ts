/**
 * First start: with no users, create an admin from ADMIN_USERNAME/ADMIN_PASSWORD, or generate
 * a password, print it once and keep it in a file only the owner can read.
 *
 * Also called whenever the API's Redis connection becomes ready again: a Redis that came back
 * empty (no persistence) gets its first user back without an API restart. A password generated
 * earlier is taken from its file again, so the one the operator was given keeps working.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.ts';
import { generatePassword } from './passwords.ts';
import type { UserStore } from './user-store.ts';

export async function ensureFirstUser(
  users: UserStore,
  opts: { username: string | undefined; password: string | undefined; dataDir: string },
  log: Logger,
): Promise<void> {
  if ((await users.count()) > 0) return;
  const username = opts.username ?? 'admin';
  if (opts.password) {
    try {
      await users.add(username, opts.password, 'admin');
      log.info('created the first user from ADMIN_USERNAME/ADMIN_PASSWORD', { username });
    } catch (err) {
      if ((err as { code?: string }).code !== 'conflict') throw err; // another API process won the race
    }
    return;
  }
  const file = path.join(opts.dataDir, 'admin-password.txt');
  const earlier = await readPasswordFile(file, username);
  const password = earlier ?? generatePassword();
  try {
    await users.add(username, password, 'admin');
  } catch (err) {
    if ((err as { code?: string }).code === 'conflict') return;
    throw err;
  }
  if (earlier) {
    log.info('created the first user again, with the password in the password file', {
      username,
      password_file: file,
    });
    return;
  }
  await fs.mkdir(opts.dataDir, { recursive: true });
  await fs.writeFile(file, `username: ${username}\npassword: ${password}\n`, { mode: 0o600 });
  await fs.chmod(file, 0o600);
  // Printed once, to the terminal of whoever started the system; also in the 0600 file.
  process.stderr.write(
    `\n  First start: created user "${username}" with password ${password}\n  (also saved in ${file}, readable only by you; change users with \`npm run cli -- users\`)\n\n`,
  );
  log.info('created the first user with a generated password', { username, password_file: file });
}

/** The password a previous start generated for `username`, if its file is there. */
async function readPasswordFile(file: string, username: string): Promise<string | undefined> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  const user = /^username: (.+)$/m.exec(text)?.[1];
  const password = /^password: (.+)$/m.exec(text)?.[1];
  return user === username && password ? password : undefined;
}
