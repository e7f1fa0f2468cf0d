/**
 * Sends one encrypted Web Push message (RFC 8030/8291/8292). web-push builds the request
 * (encryption, VAPID token, headers); the guarded outbound client sends it, since the endpoint
 * is a URL a user gave (server/net/outbound.ts): web-push's own sender follows no address rules
 * and reads any answer whole into memory, which a hostile endpoint could make endless.
 */
import webpush from 'web-push';
import type { PushSubscription } from '../../shared/contract.ts';
import type { OutboundClient } from '../net/outbound.ts';
import type { VapidKeys } from './vapid-keys.ts';

/** A phone that is off for a day still gets the message when it comes back; after that it is stale. */
export const PUSH_TTL_SECONDS = 24 * 3600;

export type SendResult =
  | { ok: true; statusCode: number }
  /** `gone`: the push service says the subscription no longer exists (404/410); drop it. */
  | { ok: false; gone: boolean; statusCode: number | null; error: Error };

export class PushSender {
  constructor(
    private readonly vapid: VapidKeys,
    private readonly subject: string,
    private readonly outbound: OutboundClient,
  ) {}

  async send(sub: PushSubscription, payload: string): Promise<SendResult> {
    try {
      const details = webpush.generateRequestDetails(sub, payload, {
        vapidDetails: { subject: this.subject, publicKey: this.vapid.publicKey, privateKey: this.vapid.privateKey },
        TTL: PUSH_TTL_SECONDS,
        contentEncoding: 'aes128gcm',
      });
      const res = await this.outbound.request(details.endpoint, {
        method: 'POST',
        headers: details.headers as Record<string, string | number>,
        body: details.body,
      });
      if (res.status >= 200 && res.status < 300) return { ok: true, statusCode: res.status };
      return {
        ok: false,
        gone: res.status === 404 || res.status === 410,
        statusCode: res.status,
        error: new Error(`the push service answered ${res.status}`),
      };
    } catch (err) {
      return { ok: false, gone: false, statusCode: null, error: err instanceof Error ? err : new Error(String(err)) };
    }
  }
}
