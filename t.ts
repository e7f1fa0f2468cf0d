import http from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';

const app = new Hono();
app.post('/up', bodyLimit({ maxSize: 1024 * 1024, onError: (c) => c.json({ e: 'big' }, 413) }), async (c) =>
  c.json({ ok: true }),
);
const t0 = performance.now();
const server = serve({ fetch: app.fetch, port: 18999 }, () => {});
server.on('connection', (s) => {
  s.on('close', () => console.log('server socket closed', Math.round(performance.now() - t0), 'ms'));
});
await new Promise((r) => setTimeout(r, 200));
let answered = false;
let sent = 0;
const req = http.request(
  'http://127.0.0.1:18999/up',
  { method: 'POST', headers: { 'transfer-encoding': 'chunked' }, agent: false },
  (res) => {
    answered = true;
    console.log('response', res.statusCode, Math.round(performance.now() - t0), 'ms, sent', sent);
    res.resume();
    res.on('end', () => {
      req.destroy();
      server.close();
    });
  },
);
req.on('error', (e) =>
  console.log('client error', e.message, Math.round(performance.now() - t0), 'ms, sent', sent, 'answered', answered),
);
const chunk = Buffer.alloc(64 * 1024, 1);
for (let i = 0; i < 1000 && !answered && !req.destroyed; i++) {
  if (i * chunk.length > 2 * 1024 * 1024) await new Promise((r) => setTimeout(r, 10));
  sent += chunk.length;
  if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
}
setTimeout(() => process.exit(0), 1500);
