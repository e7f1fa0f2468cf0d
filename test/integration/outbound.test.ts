/**
 * The guarded outbound client on its own, against real sockets on this machine: what it refuses
 * before and at connect time (names are resolved by a resolver the test controls, as DNS would
 * answer), how much of an answer it reads, and how long it waits.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboundClient, OutboundError } from '../../server/net/outbound.ts';

let server: http.Server;
let port = 0;
let connections = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/endless') {
      res.writeHead(200);
      const chunk = Buffer.alloc(16 * 1024, 'x');
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) {}
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    } else if (req.url === '/silent') {
      // headers never come
    } else if (req.url === '/redirect') {
      res.writeHead(302, { location: 'http://169.254.169.254/' }).end();
    } else {
      res.writeHead(201).end('created');
    }
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** A client that may reach the test server (127.0.0.1 exempted, as an operator could), resolving names with `answers`. */
function client(
  answers: (host: string) => string[],
  opts: Partial<ConstructorParameters<typeof OutboundClient>[0]> = {},
) {
  return new OutboundClient({
    allowHttp: true,
    allowAddresses: ['127.0.0.1/32'],
    resolve: async (host) => answers(host).map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    ...opts,
  });
}

async function refusal(p: Promise<unknown>): Promise<OutboundError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OutboundError);
  return err as OutboundError;
}

describe('the guarded outbound client', () => {
  it('reads at most its cap of an answer that never ends, and hangs up', async () => {
    const res = await client(() => []).request(`http://127.0.0.1:${port}/endless`);
    expect(res.status).toBe(200);
    expect(res.truncated).toBe(true);
    expect(res.body.length).toBe(64 * 1024);
  });

  it('gives up on an endpoint that never answers after its total timeout', async () => {
    const err = await refusal(client(() => [], { totalTimeoutMs: 500 }).request(`http://127.0.0.1:${port}/silent`));
    expect(err.kind).toBe('timeout');
  });

  it('returns a redirect as it is, without following it', async () => {
    const res = await client(() => []).request(`http://127.0.0.1:${port}/redirect`);
    expect(res.status).toBe(302);
  });

  it('a name that resolved outside when registered but inside when sent (DNS rebinding) is refused at connect time', async () => {
    let calls = 0;
    const rebinding = client(() => (calls++ === 0 ? ['93.184.216.34'] : ['10.0.0.7']), { allowAddresses: [] });
    await rebinding.checkDestination('https://rebind.example/push'); // passes: outside, then
    const before = connections;
    const err = await refusal(rebinding.request('https://rebind.example/push'));
    expect(err.kind).toBe('refused');
    expect(err.message).toContain('10.0.0.7');
    expect(connections).toBe(before);
  });

  it('a name with one address inside among public ones is refused', async () => {
    const mixed = client(() => ['93.184.216.34', '127.0.0.1'], { allowAddresses: [] });
    expect((await refusal(mixed.checkDestination('https://mixed.example/'))).message).toContain('127.0.0.1');
    expect((await refusal(mixed.request('https://mixed.example/'))).kind).toBe('refused');
  });

  it('a name resolving to an exempted address is reached; the same name without the exemption is not', async () => {
    const res = await client(() => ['127.0.0.1']).request(`http://local.test:${port}/`);
    expect(res.status).toBe(201);
    expect(res.body.toString()).toBe('created');
    const before = connections;
    const strict = client(() => ['127.0.0.1'], { allowAddresses: [] });
    expect((await refusal(strict.request(`http://local.test:${port}/`))).kind).toBe('refused');
    expect(connections).toBe(before);
  });

  it('refuses plain http unless allowed, and credentials in the URL', async () => {
    const strict = client(() => [], { allowHttp: false });
    expect((await refusal(strict.request(`http://127.0.0.1:${port}/`))).message).toContain('https');
    expect((await refusal(client(() => []).request(`http://u:p@127.0.0.1:${port}/`))).message).toContain('credentials');
  });
});
