/**
 * Web Push: asks for permission, subscribes with the server's VAPID key and registers the
 * subscription, so the server can say when a task ends even with no page open.
 */
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

export async function enablePush(): Promise<string> {
  if (!('PushManager' in window) || !('serviceWorker' in navigator)) return 'This browser has no Web Push.';
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') return 'Notifications are blocked for this site.';
  const reg = await navigator.serviceWorker.ready;
  const res = await fetch('/api/v1/push/public-key');
  if (!res.ok) return 'The server does not offer push notifications.';
  const { public_key } = (await res.json()) as { public_key: string };
  let sub: PushSubscription;
  try {
    sub =
      (await reg.pushManager.getSubscription()) ??
      (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(public_key) }));
  } catch (err) {
    return `The browser's push service is unreachable: ${(err as Error).message}`;
  }
  const saved = await fetch('/api/v1/push/subscriptions', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(sub.toJSON()),
  });
  return saved.ok ? 'You will be notified when server tasks finish.' : 'The server refused the subscription.';
}
