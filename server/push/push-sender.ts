/** Sends one encrypted Web Push message (RFC 8030/8291/8292) with web-push. */
import webpush from 'web-push';
import type { PushSubscription } from '../../shared/contract.ts';
import { isPlainHttp, PlainHttpAgent } from './plain-http-agent.ts';
import type { VapidKeys } from './vapid-keys.ts';

/** A phone that is off for a day still gets the message when it comes back; after that it is stale. */
export const PUSH_TTL_SECONDS = 24 * 3600;
const SOCKET_TIMEOUT_MS = 10_000;

export type SendResult =
  | { ok: true; statusCode: number }
  /** `gone`: the push service says the subscription no longer exists (404/410); drop it. */
  | { ok: false; gone: boolean; statusCode: number | null; error: Error };

export class PushSender {
  private readonly plainHttp = new PlainHttpAgent();

  constructor(
    private readonly vapid: VapidKeys,
    private readonly subject: string,
  ) {}

  async send(sub: PushSubscription, payload: string): Promise<SendResult> {
    try {
      const res = await webpush.sendNotification(sub, payload, {
        vapidDetails: { subject: this.subject, publicKey: this.vapid.publicKey, privateKey: this.vapid.privateKey },
        TTL: PUSH_TTL_SECONDS,
        contentEncoding: 'aes128gcm',
        timeout: SOCKET_TIMEOUT_MS,
        ...(isPlainHttp(sub.endpoint) ? { agent: this.plainHttp } : {}),
      });
      return { ok: true, statusCode: res.statusCode };
    } catch (err) {
      const statusCode = err instanceof webpush.WebPushError ? err.statusCode : null;
      return {
        ok: false,
        gone: statusCode === 404 || statusCode === 410,
        statusCode,
        error: err instanceof Error ? err : new Error(String(err)),
      };
    }
  }
}
