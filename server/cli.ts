#!/usr/bin/env node
/**
 * `twinlens detect <files or folders…> --server URL` (server/cli/detect.ts), `twinlens models …`
 * (server/cli/models.ts), and the operator's
 * `npm run cli -- users add <name> [--admin]`, `users list`, `users remove <name>`.
 * A new user's password comes from stdin when piped (`echo pw | npm run cli -- users add bob`),
 * else one is generated and printed once.
 */

import { generatePassword } from './auth/passwords.ts';
import { DETECT_USAGE } from './cli/usage.ts';
import { composeServices } from './compose.ts';
import { loadConfig } from './config.ts';
import { createLogger } from './log.ts';

const USAGE = `usage:
  twinlens detect <files or folders…> --server URL | --local   (twinlens detect --help)
  twinlens models list | add <folder | manifest URL> | remove <id>
  npm run cli -- users list
  npm run cli -- users add <username> [--admin]   (password from stdin if piped, else generated)
  npm run cli -- users remove <username>`;

async function readStdin(): Promise<string | undefined> {
  if (process.stdin.isTTY) return undefined;
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const s = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  return s || undefined;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'detect') {
    if (argv.includes('--help')) {
      process.stdout.write(`${DETECT_USAGE}\n`);
      return 0;
    }
    // Loaded only here: the users commands need no model, no sharp.
    const { runDetect } = await import('./cli/detect.ts');
    return runDetect(argv.slice(1)).catch((err: Error) => {
      process.stderr.write(`twinlens detect: ${err.message}\n`);
      return 1;
    });
  }
  if (argv[0] === 'models') {
    const { runModels } = await import('./cli/models.ts');
    return runModels(loadConfig(), argv.slice(1)).catch((err: Error) => {
      process.stderr.write(`twinlens models: ${err.message}\n`);
      return 1;
    });
  }
  const [group, cmd, name, ...flags] = argv;
  if (group !== 'users' || !cmd) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const config = loadConfig();
  const services = await composeServices(config, 'cli', createLogger({ service: 'cli' }));
  const { users } = services;
  try {
    if (cmd === 'list') {
      for (const u of await users.list()) process.stdout.write(`${u.username}\t${u.role}\t${u.created_at}\n`);
      return 0;
    }
    if (cmd === 'add' && name) {
      const given = await readStdin();
      const password = given ?? generatePassword();
      const user = await users.add(name, password, flags.includes('--admin') ? 'admin' : 'user');
      process.stdout.write(`added ${user.username} (${user.role})${given ? '' : `; password: ${password}`}\n`);
      return 0;
    }
    if (cmd === 'remove' && name) {
      const user = await users.findWithHash(name);
      if (!user || !(await users.remove(name))) {
        process.stderr.write(`no user ${name}\n`);
        return 1;
      }
      // Their devices must not be told about tasks any more (their sessions die with the user).
      const subscriptions = await services.pushSubscriptions.removeAll(user.id);
      await services.webhooks.forgetUser(user.id);
      // Their API keys stopped working with the user; this takes them off the admins' list too.
      await services.apiKeys.revokeAllOf(user.id);
      process.stdout.write(`removed ${name}${subscriptions ? ` and ${subscriptions} push subscription(s)` : ''}\n`);
      return 0;
    }
    process.stderr.write(`${USAGE}\n`);
    return 2;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  } finally {
    await services.close();
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
