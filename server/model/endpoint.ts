/** A Node worker thread (or a thread's parentPort) as an endpoint of shared/rpc.ts. */
import type { MessagePort, Worker } from 'node:worker_threads';
import type { Endpoint } from '../../shared/rpc.ts';

export function threadEndpoint(target: Worker | MessagePort): Endpoint {
  return {
    post: (message, transfer) => target.postMessage(message, transfer as ArrayBuffer[]),
    listen(onMessage) {
      const handler = (m: unknown) => onMessage(m);
      target.on('message', handler);
      return () => target.off('message', handler);
    },
  };
}
