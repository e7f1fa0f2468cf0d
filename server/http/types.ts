import type { User } from '../../shared/contract.ts';

/** Hono context variables set by middleware. */
export interface AppEnv {
  Variables: {
    user: User;
    token: string;
  };
}
