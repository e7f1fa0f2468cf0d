/**
 * Typed calls across a worker boundary (a Web Worker, a Node worker thread), one implementation for
 * every such boundary in the project.
 *
 * The worker side `expose`s an object of functions; the caller's side `connect`s and gets an object
 * of the same methods, typed from that object's own type (`Remote<typeof api>`), each returning a
 * promise. A call can carry a transfer list (bitmaps, pixel buffers) and an AbortSignal; a result can
 * be sent back with a transfer list (`transferred`). The worker can also `emit` events (progress).
 *
 * On the wire a call is `{type: <method>, id, args}` — the method's name as the message type, which
 * keeps the traffic readable in a debugger and lets a test intercept one kind of call — and the answer
 * `{type: '@reply', id, ok, value | error}`; an event is `{type: '@event', name, data}`.
 *
 * comlink does most of this too, but it puts the method in `path` and a generated `type`: the page's
 * tests and tools already select a detection by `type === 'detect'`. What this adds over the old
 * hand-rolled clients is one home for the pending calls: a call that is aborted, or whose worker
 * ended, is settled and forgotten, never left behind.
 */

/** Anything postMessage can move rather than copy (ArrayBuffer, ImageBitmap, VideoFrame, MessagePort…). */
export type Transfer = object;

/** The two directions of a worker boundary, whatever the platform calls them. */
export interface Endpoint {
  post(message: unknown, transfer: readonly Transfer[]): void;
  /** Starts listening; returns the function that stops. */
  listen(onMessage: (message: unknown) => void): () => void;
}

// biome-ignore lint/suspicious/noExplicitAny: the constraint every exposed method meets
type AnyFunction = (...args: any[]) => unknown;
export type Api = Record<string, AnyFunction>;

/** The caller's view of an exposed object: the same methods, each answering with a promise. */
export type Remote<T extends Api> = {
  [K in keyof T]: (...args: Parameters<T[K]>) => Promise<Unwrapped<Awaited<ReturnType<T[K]>>>>;
};

export interface CallOptions {
  /** Moved, not copied, to the worker; the caller no longer has them. */
  transfer?: readonly Transfer[];
  /** Aborting rejects the call at once (what the worker does with it is the `onAbort` of `connect`). */
  signal?: AbortSignal;
}

const TRANSFERRED = Symbol('transferred');
interface Transferred<T> {
  [TRANSFERRED]: true;
  value: T;
  transfer: readonly Transfer[];
}
type Unwrapped<T> = T extends Transferred<infer V> ? V : T;

/** A worker method's answer that moves `transfer` back to the caller. */
export function transferred<T>(value: T, transfer: readonly Transfer[]): Transferred<T> {
  return { [TRANSFERRED]: true, value, transfer };
}

function isTransferred(v: unknown): v is Transferred<unknown> {
  return typeof v === 'object' && v !== null && TRANSFERRED in v;
}

interface CallMessage {
  type: string;
  id: number;
  args: unknown[];
}
type ReplyMessage =
  | { type: '@reply'; id: number; ok: true; value: unknown }
  | { type: '@reply'; id: number; ok: false; error: { name: string; message: string } };
interface EventMessage {
  type: '@event';
  name: string;
  data: unknown;
}

/** Serves `api` on `endpoint`. Returns `emit`, for events the caller's side listens to. */
export function expose<T extends Api>(api: T, endpoint: Endpoint): { emit(name: string, data: unknown): void } {
  endpoint.listen(async (raw) => {
    const m = raw as CallMessage;
    if (typeof m?.type !== 'string' || typeof m.id !== 'number' || m.type.startsWith('@')) return;
    const method = Object.hasOwn(api, m.type) ? api[m.type] : undefined;
    try {
      if (!method) throw new Error(`no method ${m.type}`);
      const out = await method(...m.args);
      const [value, transfer] = isTransferred(out) ? [out.value, out.transfer] : [out, []];
      endpoint.post({ type: '@reply', id: m.id, ok: true, value } satisfies ReplyMessage, transfer);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      endpoint.post({ type: '@reply', id: m.id, ok: false, error: { name: e.name, message: e.message } }, []);
    }
  });
  return { emit: (name, data) => endpoint.post({ type: '@event', name, data } satisfies EventMessage, []) };
}

export class RemoteError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name === 'Error' ? 'RemoteError' : name;
  }
}

/** Why a call ended without an answer: aborted by the caller, or the worker went away. */
export class CallAbortedError extends Error {
  override name = 'AbortError';
}

export interface Connection<T extends Api> {
  remote: Remote<T>;
  /** The same methods, sending with a transfer list and/or an abort signal: `with({transfer}).detect(…)`. */
  with(opts: CallOptions): Remote<T>;
  /** Events the worker emits. */
  on(name: string, listener: (data: unknown) => void): () => void;
  /** Rejects every call still waiting (the worker was terminated or crashed) and stops listening. */
  close(reason?: Error): void;
}

/**
 * The caller's side. `methods` names the exposed methods (types cannot be read at run time; the
 * compiler checks the list against `T`).
 */
export function connect<T extends Api>(endpoint: Endpoint, methods: readonly (keyof T & string)[]): Connection<T> {
  let nextId = 1;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  const listeners = new Map<string, Set<(data: unknown) => void>>();
  const stop = endpoint.listen((raw) => {
    const m = raw as ReplyMessage | EventMessage;
    if (m?.type === '@event') {
      for (const l of listeners.get(m.name) ?? []) l(m.data);
    } else if (m?.type === '@reply') {
      const p = pending.get(m.id);
      if (!p) return; // aborted meanwhile: nobody waits for it
      pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(new RemoteError(m.error.name, m.error.message));
    }
  });

  const call = (type: string, args: unknown[], opts: CallOptions): Promise<unknown> => {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      if (opts.signal?.aborted) return reject(new CallAbortedError('aborted before it was sent'));
      const onAbort = () => {
        pending.delete(id);
        reject(new CallAbortedError(String(opts.signal?.reason ?? 'aborted')));
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const settle =
        <V>(f: (v: V) => void) =>
        (v: V) => {
          opts.signal?.removeEventListener('abort', onAbort);
          f(v);
        };
      pending.set(id, { resolve: settle(resolve), reject: settle(reject) });
      try {
        endpoint.post({ type, id, args } satisfies CallMessage, opts.transfer ?? []);
      } catch (err) {
        // postMessage itself can throw (a detached buffer, an uncloneable value, a worker gone).
        pending.get(id)?.reject(err instanceof Error ? err : new Error(String(err)));
        pending.delete(id);
      }
    });
  };

  const bind = (opts: CallOptions) =>
    Object.fromEntries(
      methods.map((name) => [name, (...args: unknown[]) => call(name, args, opts)]),
    ) as unknown as Remote<T>;
  return {
    remote: bind({}),
    with: bind,
    on(name, listener) {
      const set = listeners.get(name) ?? new Set();
      set.add(listener);
      listeners.set(name, set);
      return () => set.delete(listener);
    },
    close(reason = new CallAbortedError('the worker ended')) {
      stop();
      for (const p of pending.values()) p.reject(reason);
      pending.clear();
    },
  };
}
