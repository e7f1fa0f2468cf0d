/**
 * The web app's Content-Security-Policy, sent with the page and its scripts by the API and by the
 * edge alike (one policy). Only the app's own origin is trusted for anything: scripts, workers
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
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Powerful features the app does not use (the camera button is a file input, not getUserMedia). */
export const APP_PERMISSIONS_POLICY = 'camera=(), microphone=(), geolocation=(), payment=(), usb=()';
