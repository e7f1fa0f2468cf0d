/**
 * The edge: a Cloudflare Worker in front of the origin (the Node API). It serves the built PWA
 * (dist/web) from Workers Static Assets with cache headers that suit each file, and forwards the
 * API, /healthz and /readyz to ORIGIN_URL, streaming bodies both ways (uploads, Server-Sent Events)
 * with cookies and the Authorization header untouched. Web-standard APIs only: no Node modules.
 * The module exports only the handler: workerd refuses other named exports.
 */
import { Hono } from 'hono';
import {
  APP_CONTENT_SECURITY_POLICY,
  APP_ISOLATION_HEADERS,
  APP_PERMISSIONS_POLICY,
  cacheControlFor,
  NO_CACHE,
} from '../shared/web-headers.ts';

/** The bindings this worker uses (typed by hand: @cloudflare/workers-types is not a dependency). */
interface Env {
  /** Workers Static Assets: the files of dist/web (wrangler.toml `[assets]`). */
  ASSETS: { fetch(request: Request): Promise<Response> };
  /** Where the Node API listens, e.g. https://api.example.com (no trailing path). */
  ORIGIN_URL: string;
}

/** Hop-by-hop headers a proxy must not forward (RFC 9110 §7.6.1). */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer'];

const app = new Hono<{ Bindings: Env }>();

async function forward(request: Request, origin: string | undefined): Promise<Response> {
  if (!origin) {
    return Response.json(
      { error: { code: 'unavailable', message: 'ORIGIN_URL is not configured on the edge' } },
      { status: 503 },
    );
  }
  const url = new URL(request.url);
  const target = new URL(url.pathname + url.search, origin);
  const headers = new Headers(request.headers);
  for (const h of HOP_BY_HOP) headers.delete(h);
  headers.set('x-forwarded-host', url.host);
  // The client's address, for the API's per-address login limits (TRUST_PROXY_HOPS=1 behind the edge).
  const client = request.headers.get('cf-connecting-ip');
  if (client) headers.set('x-forwarded-for', client);
  headers.set('x-forwarded-proto', url.protocol.replace(':', ''));
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
  const init: RequestInit & { duplex?: 'half' } = {
    method: request.method,
    headers,
    body: hasBody ? request.body : null,
    redirect: 'manual',
  };
  if (hasBody) init.duplex = 'half';
  let res: Response;
  try {
    res = await fetch(target, init);
  } catch (err) {
    return Response.json(
      { error: { code: 'bad_gateway', message: `the origin did not answer: ${(err as Error).message}` } },
      { status: 502 },
    );
  }
  // The body is passed through as a stream (SSE included); headers copied so they can be changed.
  const out = new Headers(res.headers);
  for (const h of HOP_BY_HOP) out.delete(h);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers: out });
}

app.all('/api/*', (c) => forward(c.req.raw, c.env.ORIGIN_URL));
app.all('/healthz', (c) => forward(c.req.raw, c.env.ORIGIN_URL));
app.all('/readyz', (c) => forward(c.req.raw, c.env.ORIGIN_URL));

// Everything else is the web app. The asset server answers unknown paths with index.html
// (`not_found_handling = "single-page-application"`); this sets the cache headers.
app.on(['GET', 'HEAD'], '*', async (c) => {
  const res = await c.env.ASSETS.fetch(c.req.raw);
  // A model the build does not carry (an operator's, `twinlens models add`): the origin serves its files.
  const isModel = new URL(c.req.url).pathname.startsWith('/models/');
  if (isModel && (res.status === 404 || (res.headers.get('content-type') ?? '').startsWith('text/html'))) {
    return forward(c.req.raw, c.env.ORIGIN_URL);
  }
  const out = new Response(res.body, res);
  const url = new URL(c.req.url);
  const isHtml = (res.headers.get('content-type') ?? '').startsWith('text/html');
  const cache = isHtml ? NO_CACHE : cacheControlFor(url.pathname);
  if (cache && res.status === 200) out.headers.set('cache-control', cache);
  // The same policy as the API sends with the app (shared/web-headers.ts), and the usual hardening.
  out.headers.set('content-security-policy', APP_CONTENT_SECURITY_POLICY);
  out.headers.set('permissions-policy', APP_PERMISSIONS_POLICY);
  for (const [name, value] of Object.entries(APP_ISOLATION_HEADERS)) out.headers.set(name, value);
  out.headers.set('x-content-type-options', 'nosniff');
  out.headers.set('referrer-policy', 'no-referrer');
  out.headers.set('x-frame-options', 'DENY');
  return out;
});

app.all('*', (c) =>
  c.json({ error: { code: 'method_not_allowed', message: `${c.req.method} is not allowed here` } }, 405),
);

export default app;
