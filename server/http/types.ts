import type { OpenAPIHono } from '@hono/zod-openapi';
import type { User } from '../../shared/contract.ts';
import type { StoredTask } from '../tasks/task-store.ts';

/** Hono context variables set by middleware. */
export interface AppEnv {
  Variables: {
    user: User;
    token: string;
    /** The API key that authenticated the request (its id, never the secret): server/auth/api-key-auth.ts. */
    apiKeyId: string;
    /** The task record read with the session (requireUser's `taskOf`), null when there is none. */
    task: { id: string; stored: StoredTask | null };
  };
}

/** The request-validation hook every route module takes (turns zod failures into our error format). */
export type ValidationHook = NonNullable<ConstructorParameters<typeof OpenAPIHono<AppEnv>>[0]>['defaultHook'];
