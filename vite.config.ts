import { defineConfig } from 'vite';

// The web app lives in web/ and builds into dist/web, which the API server serves.
export default defineConfig({
  root: 'web',
  build: { outDir: '../dist/web', emptyOutDir: true },
  server: {
    // In development, Vite serves the page and forwards the API to the Node server.
    proxy: { '/api': 'http://127.0.0.1:8080', '/readyz': 'http://127.0.0.1:8080', '/healthz': 'http://127.0.0.1:8080' },
  },
});
