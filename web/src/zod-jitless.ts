/**
 * zod compiles object parsers with `new Function` when it may, and probes for that once. The
 * app's Content-Security-Policy allows no eval (shared/web-headers.ts): the probe fails safely but is
 * reported as a violation. Jitless mode skips the probe; imported first by every entry point
 * (page, service worker) that parses with the contract's schemas.
 */
import { z } from 'zod';

z.config({ jitless: true });
