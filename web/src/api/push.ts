/**
 * Web Push: asks for permission, subscribes with the server's VAPID key and registers the
 * subscription, so the server can say when a task ends even with no page open.
 */
import { PushSubscriptionSchema } from '../../../shared/contract.ts';
import { client } from './client.ts';

function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const b64 = base64url
    .replace(/-/g, '+')
    .replace(/_/g, '/')
    .padEnd(Math.ceil(base64url.length / 4) * 4, '=');
  const raw = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/** Turns notifications on; returns what happened, for the status line. */
export async function enablePush(): Promise<string> {
  if (!('PushManager' in window) || !('serviceWorker' in navigator)) return 'This browser has no Web Push.';
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') return 'Notifications are blocked for this site.';
  const reg = await navigator.serviceWorker.ready;
  const publicKey = await client.pushPublicKey().catch(() => null);
  if (!publicKey) return 'The server does not offer push notifications.';
  let sub: PushSubscription;
  try {
    sub =
      (await reg.pushManager.getSubscription()) ??
      (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) }));
  } catch (err) {
    return `The browser's push service is unreachable: ${(err as Error).message}`;
  }
  const parsed = PushSubscriptionSchema.safeParse(sub.toJSON());
  if (!parsed.success) return 'The browser gave a push subscription the server cannot use.';
  return client.addPushSubscription(parsed.data).then(
    () => 'You will be notified when server tasks finish.',
    () => 'The server refused the subscription.',
  );
}
