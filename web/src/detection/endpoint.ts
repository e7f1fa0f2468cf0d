/** A Web Worker, or a worker's own global scope, as an endpoint of shared/rpc.ts. */
import type { Endpoint } from '../../../shared/rpc.ts';

export function messageEndpoint(target: Worker | DedicatedWorkerGlobalScope): Endpoint {
  return {
    post: (message, transfer) => target.postMessage(message, transfer as Transferable[]),
    listen(onMessage) {
      const handler = (e: MessageEvent) => onMessage(e.data);
      target.addEventListener('message', handler as EventListener);
      return () => target.removeEventListener('message', handler as EventListener);
    },
  };
}
