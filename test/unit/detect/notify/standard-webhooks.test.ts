import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signWebhook, verifyWebhook, webhookHeaders, webhookKey, WebhookVerificationError } from '../../../../detect/notify/standard-webhooks.js';
import { NEW_SECRET, OLD_SECRET } from './support.js';

const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TIMESTAMP = 1614265330;
const BODY = '{"test": 2432232314}';
const at = (seconds: number) => () => seconds * 1000;

function rejects(code: string, run: () => unknown): void {
  assert.throws(run, (error: unknown) => error instanceof WebhookVerificationError && error.code === code && !error.retriable);
}

describe('Detect > notify > Standard Webhooks', () => {
  it("signs the spec's example with the base64-decoded whsec_ key", () => {
    assert.equal(signWebhook([OLD_SECRET], ID, TIMESTAMP, BODY), 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('uses a secret without the whsec_ prefix as its own UTF-8 bytes', () => {
    assert.deepEqual(webhookKey('plain shared secret'), Buffer.from('plain shared secret'));
    assert.notEqual(signWebhook(['MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'], ID, TIMESTAMP, BODY), signWebhook([OLD_SECRET], ID, TIMESTAMP, BODY));
    const headers = webhookHeaders(['plain shared secret'], ID, TIMESTAMP, BODY);
    assert.deepEqual(verifyWebhook(['plain shared secret'], headers, BODY, { now: at(TIMESTAMP) }), { id: ID, timestamp: TIMESTAMP });
  });

  it('signs with every secret during a rotation, and a receiver holding either one accepts', () => {
    const headers = webhookHeaders([OLD_SECRET, NEW_SECRET], ID, TIMESTAMP, BODY);
    const entries = headers['webhook-signature'].split(' ');
    assert.equal(entries.length, 2);
    assert.ok(entries.every((entry) => entry.startsWith('v1,')));
    for (const secrets of [[OLD_SECRET], [NEW_SECRET], [NEW_SECRET, OLD_SECRET]]) {
      assert.equal(verifyWebhook(secrets, headers, Buffer.from(BODY), { now: at(TIMESTAMP) }).id, ID);
    }
  });

  it('takes fetch Headers as well as node:http headers, and ignores signature versions it does not know', () => {
    const signed = webhookHeaders([OLD_SECRET], ID, TIMESTAMP, BODY);
    const headers = new Headers({ ...signed, 'webhook-signature': `v1a,c2lnbmF0dXJl ${signed['webhook-signature']}` });
    assert.equal(verifyWebhook([OLD_SECRET], headers, BODY, { now: at(TIMESTAMP) }).timestamp, TIMESTAMP);
  });

  it('rejects a missing header, naming it', () => {
    const headers: Record<string, string> = webhookHeaders([OLD_SECRET], ID, TIMESTAMP, BODY);
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const rest = Object.fromEntries(Object.entries(headers).filter(([key]) => key !== name));
      assert.throws(
        () => verifyWebhook([OLD_SECRET], rest, BODY, { now: at(TIMESTAMP) }),
        (error: unknown) => error instanceof WebhookVerificationError && error.code === 'WEBHOOK_MISSING_HEADER' && error.header === name,
      );
    }
  });

  it('rejects a timestamp that is not whole seconds, or further from now than the tolerance either way', () => {
    const headers = webhookHeaders([OLD_SECRET], ID, TIMESTAMP, BODY);
    rejects('WEBHOOK_BAD_TIMESTAMP', () => verifyWebhook([OLD_SECRET], { ...headers, 'webhook-timestamp': '1614265330.5' }, BODY, { now: at(TIMESTAMP) }));
    rejects('WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE', () => verifyWebhook([OLD_SECRET], headers, BODY, { now: at(TIMESTAMP + 301) }));
    rejects('WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE', () => verifyWebhook([OLD_SECRET], headers, BODY, { now: at(TIMESTAMP - 301) }));
    assert.equal(verifyWebhook([OLD_SECRET], headers, BODY, { now: at(TIMESTAMP + 300) }).id, ID);
    rejects('WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE', () => verifyWebhook([OLD_SECRET], headers, BODY, { now: at(TIMESTAMP + 11), toleranceSeconds: 10 }));
  });

  it('rejects a changed body, id or timestamp, a wrong secret and a cut signature', () => {
    const headers = webhookHeaders([OLD_SECRET], ID, TIMESTAMP, BODY);
    const now = at(TIMESTAMP);
    rejects('WEBHOOK_NO_MATCHING_SIGNATURE', () => verifyWebhook([OLD_SECRET], headers, '{"test": 2432232315}', { now }));
    rejects('WEBHOOK_NO_MATCHING_SIGNATURE', () => verifyWebhook([OLD_SECRET], { ...headers, 'webhook-id': 'msg_other' }, BODY, { now }));
    rejects('WEBHOOK_NO_MATCHING_SIGNATURE', () => verifyWebhook([OLD_SECRET], { ...headers, 'webhook-timestamp': String(TIMESTAMP + 1) }, BODY, { now }));
    rejects('WEBHOOK_NO_MATCHING_SIGNATURE', () => verifyWebhook([NEW_SECRET], headers, BODY, { now }));
    rejects('WEBHOOK_NO_MATCHING_SIGNATURE', () => verifyWebhook([OLD_SECRET], { ...headers, 'webhook-signature': headers['webhook-signature'].slice(0, 20) }, BODY, { now }));
    rejects('WEBHOOK_NO_MATCHING_SIGNATURE', () => verifyWebhook([OLD_SECRET], { ...headers, 'webhook-signature': 'v1,' }, BODY, { now }));
  });

  it('refuses secrets it cannot use, to sign or to verify', () => {
    rejects('WEBHOOK_BAD_SECRET', () => webhookKey('whsec_'));
    rejects('WEBHOOK_BAD_SECRET', () => webhookKey('whsec_not base64!'));
    rejects('WEBHOOK_BAD_SECRET', () => webhookKey(''));
    rejects('WEBHOOK_BAD_SECRET', () => signWebhook([], ID, TIMESTAMP, BODY));
    rejects('WEBHOOK_BAD_SECRET', () => verifyWebhook([], webhookHeaders([OLD_SECRET], ID, TIMESTAMP, BODY), BODY));
    rejects('WEBHOOK_BAD_TIMESTAMP', () => signWebhook([OLD_SECRET], ID, 1614265330.5, BODY));
  });
});
