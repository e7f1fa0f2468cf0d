/** Our Standard Webhooks signature against the reference library's, for the same message. */
import { Webhook } from 'standardwebhooks';
import { expect, it } from 'vitest';
import { newSecret, signatureHeaders } from '../../server/webhooks/signature.ts';

it('signs exactly as the standardwebhooks package does, and its verify accepts it', () => {
  const secret = newSecret();
  expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
  expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(24);
  const body = JSON.stringify({ type: 'task.succeeded', data: { ü: 'non-ASCII too' } });
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = signatureHeaders(secret, 'msg_abc', timestamp, body);
  const reference = new Webhook(secret);
  expect(headers['webhook-signature']).toBe(reference.sign('msg_abc', new Date(timestamp * 1000), body));
  expect(reference.verify(body, headers)).toEqual(JSON.parse(body));
  expect(() => new Webhook(newSecret()).verify(body, headers)).toThrow();
});

it('known vector: the Standard Webhooks specification’s example', () => {
  // From the specification's reference implementations' tests.
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const body = '{"test": 2432232314}';
  const h = signatureHeaders(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body);
  expect(h['webhook-signature']).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
});
