/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com, "symmetric" scheme):
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">`, keyed
 * with the bytes of the secret after its `whsec_` prefix (base64). Receivers verify with any
 * Standard Webhooks library (the tests use the `standardwebhooks` package).
 */
import { createHmac, randomBytes } from 'node:crypto';

const PREFIX = 'whsec_';

/** A new secret: `whsec_` + base64 of 24 random bytes (the spec wants 24 to 64). */
export function newSecret(): string {
  return `${PREFIX}${randomBytes(24).toString('base64')}`;
}

/** The headers that sign `body` (sent byte for byte as given). `timestamp`: Unix seconds. */
export function signatureHeaders(
  secret: string,
  messageId: string,
  timestamp: number,
  body: string,
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  const key = Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
  const mac = createHmac('sha256', key).update(`${messageId}.${timestamp}.${body}`).digest('base64');
  return { 'webhook-id': messageId, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${mac}` };
}
