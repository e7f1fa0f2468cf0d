/**
 * The typed calls across a worker boundary (shared/rpc.ts), over a real MessageChannel: answers and
 * errors come back to the call that asked, transfers move, events arrive, and a call that is aborted
 * or whose worker ended is settled at once and forgotten (never left behind).
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { CallAbortedError, connect, type Endpoint, expose, RemoteError, transferred } from '../../shared/rpc.ts';

function endpoint(port: MessagePort): Endpoint {
  return {
    post: (m, transfer) => port.postMessage(m, transfer as ArrayBuffer[]),
    listen(onMessage) {
      const h = (m: unknown) => onMessage(m);
      port.on('message', h);
      return () => port.off('message', h);
    },
  };
}

const ports: MessagePort[] = [];
afterEach(() => {
  for (const p of ports.splice(0)) p.close();
});

function pair() {
  let release: () => void = () => undefined;
  const api = {
    add: (a: number, b: number) => a + b,
    async fail(message: string): Promise<never> {
      throw new TypeError(message);
    },
    sum(buffer: ArrayBuffer) {
      return new Uint8Array(buffer).reduce((a, b) => a + b, 0);
    },
    back(n: number) {
      const b = new Uint8Array(n).fill(1).buffer;
      return transferred(b, [b]);
    },
    hang: () => new Promise<string>((r) => (release = () => r('late'))),
    progress() {
      events.emit('progress', 0.5);
      return 'done';
    },
  };
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  const events = expose(api, endpoint(port2));
  const conn = connect<typeof api>(endpoint(port1), ['add', 'fail', 'sum', 'back', 'hang', 'progress']);
  return { conn, release: () => release() };
}

describe('rpc', () => {
  it('answers each call, with its own answer, typed from the exposed object', async () => {
    const { conn } = pair();
    const [a, b] = await Promise.all([conn.remote.add(1, 2), conn.remote.add(40, 2)]);
    expect([a, b]).toEqual([3, 42]);
  });

  it('an error in the worker rejects the call with its name and message', async () => {
    const { conn } = pair();
    const err = await conn.remote.fail('bad input').catch((e: Error) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({ name: 'TypeError', message: 'bad input' });
  });

  it('moves a transfer list both ways (the sender no longer has the buffer)', async () => {
    const { conn } = pair();
    const buffer = new Uint8Array([1, 2, 3]).buffer;
    expect(await conn.with({ transfer: [buffer] }).sum(buffer)).toBe(6);
    expect(buffer.byteLength).toBe(0);
    const back = await conn.remote.back(4);
    expect(back.byteLength).toBe(4);
  });

  it('delivers the worker’s events', async () => {
    const { conn } = pair();
    const seen: unknown[] = [];
    conn.on('progress', (d) => seen.push(d));
    expect(await conn.remote.progress()).toBe('done');
    expect(seen).toEqual([0.5]);
  });

  it('an aborted call rejects at once; its late answer is dropped', async () => {
    const { conn, release } = pair();
    const abort = new AbortController();
    const call = conn.with({ signal: abort.signal }).hang();
    abort.abort('a photo arrived');
    await expect(call).rejects.toBeInstanceOf(CallAbortedError);
    release();
    expect(await conn.remote.add(1, 1)).toBe(2);
  });

  it('closing the connection (the worker ended) rejects every call still waiting', async () => {
    const { conn } = pair();
    const waiting = [conn.remote.hang(), conn.remote.hang()];
    conn.close();
    for (const w of waiting) await expect(w).rejects.toBeInstanceOf(CallAbortedError);
  });

  it('a postMessage that throws rejects the call (an uncloneable argument)', async () => {
    const { conn } = pair();
    await expect(conn.remote.add((() => 1) as unknown as number, 1)).rejects.toThrow();
  });
});
