import { defineConfig } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { DEFAULT_MODEL_ID } from './shared/models/builtin.ts';
import { APP_ISOLATION_HEADERS } from './shared/web-headers.ts';
import { assetsPlugin } from './web/build/assets-plugin.ts';
import { wasmThreadsPlugin, wasmThreadsTransform } from './web/build/wasm-threads-plugin.ts';
import { WEB_BUILTINS } from './web/src/detection/models.ts';

const api = 'http://127.0.0.1:8080';

// The web app lives in web/ and builds into dist/web, which the API server serves.
export default defineConfig({
  root: 'web',
  build: { outDir: '../dist/web', emptyOutDir: true, target: 'es2022' },
  // The detection worker imports the wasm backend: its threads' scripts are rewritten to our own files there.
  worker: { format: 'es', plugins: () => [wasmThreadsPlugin()] },
  // The dev server pre-bundles tfjs: the same rewrites there (threads from /tfjs/, as many as asked).
  optimizeDeps: { rolldownOptions: { plugins: [{ name: 'twinlens-wasm-threads', transform: wasmThreadsTransform }] } },
  server: {
    // Cross-origin isolated in development too (the wasm backend's threads): the same headers as the API and the edge.
    headers: { ...APP_ISOLATION_HEADERS },
    // In development, Vite serves the page and forwards the API to the Node server.
    proxy: { '/api': api, '/readyz': api, '/healthz': api },
  },
  preview: { headers: { ...APP_ISOLATION_HEADERS } },
  plugins: [
    assetsPlugin(),
    VitePWA({
      strategies: 'injectManifest',
      srcDir: 'src',
      filename: 'sw.ts',
      // Registered by web/src/main.ts with workbox-window.
      injectRegister: false,
      injectManifest: {
        // The model's weights are ~4 MB and the wasm binaries ~2 MB each: over workbox's 2 MiB default.
        maximumFileSizeToCacheInBytes: 16 * 1024 * 1024,
        globPatterns: ['**/*.{js,css,html,png,svg,webmanifest,json,bin,wasm}'],
        // The default model is precached; the others are kept per model and version when first used (sw.ts).
        globIgnores: WEB_BUILTINS.filter((id) => id !== DEFAULT_MODEL_ID).map((id) => `models/${id}/**`),
        rollupFormat: 'es',
      },
      manifest: {
        name: 'Twinlens',
        short_name: 'Twinlens',
        description: 'Find objects in your photos, on your device or on the server.',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        background_color: '#f8fafc',
        theme_color: '#0f766e',
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png' },
          { src: '/icons/maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
    }),
  ],
});
