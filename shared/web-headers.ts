/**
 * The headers the web app's files are served with, by the API and by the edge alike: one policy.
 *
 * The Content-Security-Policy, sent with the page and its scripts. Only the app's own origin is trusted for anything: scripts, workers
 * (the detection worker, the service worker), styles, fetches (the API, the model, the wasm
 * binaries). `'wasm-unsafe-eval'` lets TensorFlow.js compile its WebAssembly backend and nothing
 * else (no `eval`); images are also `blob:`/`data:` (photos the user picked, thumbnails). The page
 * may not be framed, and forms and <base> cannot point elsewhere.
 */
export const APP_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  // The Live view plays a video file the user picked through the same pipeline as the camera (a blob: URL).
  "media-src 'self' blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Powerful features: the camera for the app's own origin only (the Live view's getUserMedia; never a
 * framed third party), and none of the others, which the app does not use.
 */
export const APP_PERMISSIONS_POLICY = 'camera=(self), microphone=(), geolocation=(), payment=(), usb=()';

/**
 * Cross-origin isolation, sent with every file of the web app by the API, the edge and the dev server
 * alike (and checked by the page: `crossOriginIsolated`, shown on the route line). Why: only an
 * isolated page and its workers get `SharedArrayBuffer`, and without it TensorFlow.js's WebAssembly
 * backend runs on one core (its threaded build needs shared memory between its threads).
 * - COOP `same-origin`: no window of another origin keeps a handle on ours (popups, openers).
 * - COEP `require-corp`: everything the page and its workers load must be same-origin or say it may be
 *   embedded (CORP/CORS). The app loads only its own origin (the CSP above says so too), so nothing
 *   needs `credentialless`. A worker's isolation comes from its own script's response: the detection
 *   worker's and the wasm threads' scripts are app files, sent with these headers too.
 * - CORP `same-origin`: the app's files are not embeddable by other origins.
 * Not sent with the API's own documents (/api/docs loads Swagger UI from its CDN, which says nothing
 * about embedding): that page is no part of the app and needs no isolation.
 */
export const APP_ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
} as const;

/** Content-hashed (assets) or versioned (models, wasm) files: they never change under one URL. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
/** The entry points that name the hashed files: always revalidated, so a new build is seen at once. */
export const NO_CACHE = 'no-cache';
/** Unhashed files that rarely change (icons, robots.txt): a day, then revalidated in the background. */
export const A_DAY = 'public, max-age=86400, stale-while-revalidate=604800';

/** Cache-Control for a path of the web app (null: the server's default). */
export function cacheControlFor(pathname: string): string | null {
  if (/^\/(assets|models\/[^/]+|tfjs\/[^/]+)\//.test(pathname)) return IMMUTABLE;
  if (pathname === '/' || pathname.endsWith('.html') || pathname === '/sw.js' || pathname.endsWith('.webmanifest')) {
    return NO_CACHE;
  }
  if (/^\/workbox-[\w-]+\.js$/.test(pathname)) return NO_CACHE;
  if (/^\/(icons\/[\w.-]+\.png|favicon\.png|robots\.txt)$/.test(pathname)) return A_DAY;
  return null;
}
