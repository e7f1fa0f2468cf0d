/**
 * How the CLI authenticates to a server: an API key (`--api-key` or `TWINLENS_API_KEY`, the way for
 * scripts: no password, no session that runs out), else a session token (`--token` or
 * `TWINLENS_TOKEN`), else a login with `--user` and a password typed at the terminal. A flag wins
 * over the environment. The environment is the better place for a key: command lines are visible
 * to other users of the machine (`ps`).
 */
import { TwinlensClient } from '../../shared/client/twinlens-client.ts';

export interface CredentialFlags {
  'api-key'?: string | undefined;
  token?: string | undefined;
  user?: string | undefined;
}

export type Credentials = { apiKey: string } | { token: string } | { user: string | undefined };

export function credentialsFrom(flags: CredentialFlags, env: NodeJS.ProcessEnv = process.env): Credentials {
  if (flags['api-key']) return { apiKey: flags['api-key'] };
  if (flags.token) return { token: flags.token };
  if (env.TWINLENS_API_KEY) return { apiKey: env.TWINLENS_API_KEY };
  if (env.TWINLENS_TOKEN) return { token: env.TWINLENS_TOKEN };
  return { user: flags.user };
}

/**
 * A client for `server` with the credentials, checked with one request before any photo is sent
 * (a revoked or mistyped key fails the run at once, not once per photo). `login`: how to get a
 * session when there is neither key nor token.
 */
export async function connect(
  server: string,
  creds: Credentials,
  login: (client: TwinlensClient, user: string | undefined) => Promise<void>,
): Promise<TwinlensClient> {
  if ('user' in creds) {
    const client = new TwinlensClient({ baseUrl: server });
    await login(client, creds.user);
    return client;
  }
  const client = new TwinlensClient({ baseUrl: server, ...creds });
  if (!(await client.me())) {
    throw new Error(
      'apiKey' in creds
        ? 'the server refused the API key (unknown, revoked or expired)'
        : 'the server refused the token (expired or logged out)',
    );
  }
  return client;
}
