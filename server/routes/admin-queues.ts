/**
 * The queue dashboard (Bull Board) at /admin/queues, for admin users only: the session cookie
 * or a bearer token; another user gets 403 `forbidden`, no login 401 `unauthorized`.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import { requireUser } from '../auth/middleware.ts';
import type { SessionStore } from '../auth/sessions.ts';
import { sendError } from '../http/errors.ts';
import type { AppEnv } from '../http/types.ts';
import type { DetectQueue } from '../queue/detect-queue.ts';

export const ADMIN_QUEUES_PATH = '/admin/queues';

export function adminQueueRoutes(deps: { queue: DetectQueue; sessions: SessionStore }) {
  const board = new HonoAdapter(serveStatic);
  const { setQueues } = createBullBoard({ queues: [], serverAdapter: board });
  board.setBasePath(ADMIN_QUEUES_PATH);
  // One queue per model, and models come and go (`twinlens models add`): the board follows at each visit.
  let shown = '';
  const follow = async () => {
    const queues = await deps.queue.queues();
    const names = queues.map((q) => q.name).join(',');
    if (names !== shown) {
      setQueues(queues.map((q) => new BullMQAdapter(q)));
      shown = names;
    }
  };

  const app = new Hono<AppEnv>();
  app.use('*', requireUser(deps.sessions));
  app.use('*', async (c, next) => {
    if (c.get('user').role !== 'admin') return sendError(c, 'forbidden', 'the queue dashboard is for admins');
    await follow();
    await next();
  });
  app.route('/', board.registerPlugin());
  return app;
}
