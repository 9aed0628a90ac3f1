import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { decodeSubscriptionPayload, encodeSubscriptionPayload, type CloudWatchSubscription } from '../../../ingest/cloudwatch-subscription.js';
import { IngestError } from '../../../ingest/problems.js';

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`fixtures/vpc/${name}`, import.meta.url)));

function refused(data: Uint8Array, message: RegExp, maxDecodedBytes?: number): void {
  assert.throws(
    () => decodeSubscriptionPayload(data, maxDecodedBytes ? { maxDecodedBytes } : {}),
    (error: unknown) => {
      assert.ok(error instanceof IngestError, String(error));
      assert.equal(error.code, 'INGEST_BAD_ENVELOPE');
      assert.match(error.message, message);
      return true;
    },
  );
}

describe('Ingest > CloudWatch Logs subscription > payload', () => {
  it('decodes a DATA_MESSAGE as Kinesis carries it (gzip)', () => {
    const payload = decodeSubscriptionPayload(fixture('subscription-data.gz'));
    assert.equal(payload.messageType, 'DATA_MESSAGE');
    assert.deepEqual([payload.owner, payload.logGroup, payload.logStream], ['123456789010', 'vpc-flow-logs', 'eni-1235b8ca123456789-all']);
    assert.deepEqual(payload.subscriptionFilters, ['to-kinesis']);
    assert.equal(payload.logEvents.length, 6);
    assert.equal(payload.logEvents[0]!.id.length, 56);
    assert.equal(payload.logEvents[0]!.timestamp, 1418530070000);
    assert.match(payload.logEvents[0]!.message, /^2 123456789010 eni-1235b8ca123456789 172\.31\.16\.139/);
  });

  it('decodes the same payload base64-encoded, as Lambda and some relays see it', () => {
    assert.deepEqual(decodeSubscriptionPayload(fixture('subscription-data.b64')), decodeSubscriptionPayload(fixture('subscription-data.gz')));
    assert.deepEqual(decodeSubscriptionPayload(Buffer.from(`${fixture('subscription-data.b64').toString()}\n`)).logEvents.length, 6);
  });

  it('decodes a CONTROL_MESSAGE to no events', () => {
    const payload = decodeSubscriptionPayload(fixture('subscription-control.gz'));
    assert.equal(payload.messageType, 'CONTROL_MESSAGE');
    assert.deepEqual(payload.logEvents, []);
  });

  it('round-trips through its encoder, gzip and base64', () => {
    const subscription: CloudWatchSubscription = {
      messageType: 'DATA_MESSAGE',
      owner: '1',
      logGroup: 'g',
      logStream: 's',
      subscriptionFilters: ['f'],
      logEvents: [{ id: '1', timestamp: 2, message: 'm' }],
    };
    assert.deepEqual(decodeSubscriptionPayload(encodeSubscriptionPayload(subscription)), subscription);
    assert.deepEqual(decodeSubscriptionPayload(encodeSubscriptionPayload(subscription, { base64: true })), subscription);
    assert.deepEqual(decodeSubscriptionPayload(Buffer.from(JSON.stringify(subscription))), subscription, 'JSON already decompressed');
    const numbered = { ...subscription, logEvents: [{ id: 17, timestamp: 2, message: 'm' }] };
    assert.equal(decodeSubscriptionPayload(gzipSync(JSON.stringify(numbered))).logEvents[0]!.id, '17', 'a numeric id, as moto writes it');
  });

  it('refuses what is not a payload, saying why', () => {
    const good = fixture('subscription-data.gz');
    const gz = (value: unknown) => gzipSync(JSON.stringify(value));
    const base = { ...decodeSubscriptionPayload(good) };
    refused(Buffer.alloc(0), /empty/);
    refused(Buffer.from('hello'), /neither gzip, base64 gzip nor JSON/);
    refused(good.subarray(0, good.length - 12), /bad gzip data/);
    refused(Buffer.concat([good.subarray(0, 20), Buffer.alloc(40, 0x55)]), /bad gzip data/);
    refused(gzipSync('{"messageType":'), /bad JSON/);
    refused(gz([1, 2]), /not a JSON object/);
    refused(gz({ ...base, messageType: 'OTHER' }), /messageType "OTHER" is not DATA_MESSAGE or CONTROL_MESSAGE/);
    refused(gz({ ...base, owner: 7 }), /owner is not a string/);
    refused(gz({ ...base, subscriptionFilters: 'f' }), /subscriptionFilters is not a list/);
    refused(gz({ ...base, logEvents: {} }), /logEvents is not an array/);
    refused(gz({ ...base, logEvents: [{ id: '1', timestamp: 1, message: 5 }] }), /logEvents\[0\]\.message is not a string/);
    refused(gz({ ...base, logEvents: [{ id: '1', timestamp: '1', message: '' }] }), /logEvents\[0\]\.timestamp is not an integer/);
    refused(gzipSync(Buffer.alloc(100_000, 0x20)), /larger than 1000 bytes once decompressed/, 1_000);
  });
});
