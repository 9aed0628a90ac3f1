import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidParameterException, ServiceUnavailableException, ThrottlingException } from '@aws-sdk/client-cloudwatch-logs';
import { classifyFailure, missingFromStream, outOfTimeRange, reasonOfErrorName, rejectedEvents } from '../../../../sink/cloudwatch/put-outcomes.js';

const meta = { $metadata: {} };
const DAY = 86_400_000;
const now = 1_800_000_000_000;

const networkError = (code: string, message = code) => Object.assign(new Error(message), { code });

describe('Sink > CloudWatch > Put outcomes', () => {
  describe('classifyFailure', () => {
    it('retries throttling, and knows nothing was written', () => {
      assert.deepEqual(classifyFailure(new ThrottlingException({ message: 'Rate exceeded', ...meta })), {
        kind: 'retry',
        cause: 'throttling',
        ambiguous: false,
        message: 'Rate exceeded',
      });
    });

    it('retries 5xx and ServiceUnavailableException as ambiguous', () => {
      const unavailable = classifyFailure(new ServiceUnavailableException({ message: 'down', ...meta }));
      assert.equal(unavailable.kind === 'retry' && unavailable.ambiguous && unavailable.cause, 'server_error');
      const status = classifyFailure(Object.assign(new Error('bad gateway'), { name: 'Unknown', $metadata: { httpStatusCode: 502 } }));
      assert.equal(status.kind === 'retry' && status.ambiguous && status.cause, 'server_error');
    });

    it('retries network errors: ambiguous once the request may have been sent', () => {
      const refused = classifyFailure(networkError('ECONNREFUSED'));
      assert.equal(refused.kind === 'retry' && !refused.ambiguous && refused.cause, 'network');
      const reset = classifyFailure(networkError('ECONNRESET', 'socket hang up'));
      assert.equal(reset.kind === 'retry' && reset.ambiguous && reset.cause, 'network');
      const cut = classifyFailure(Object.assign(new Error('socket hang up'), { name: 'TimeoutError', code: 'ECONNRESET' }));
      assert.equal(cut.kind === 'retry' && cut.ambiguous && cut.cause, 'network', 'the SDK names a cut connection TimeoutError');
      const timeout = classifyFailure(Object.assign(new Error('timed out'), { name: 'TimeoutError' }));
      assert.equal(timeout.kind === 'retry' && timeout.ambiguous && timeout.cause, 'timeout');
    });

    it('retries a missing group or stream (re-created first) and credentials problems', () => {
      const missing = classifyFailure(Object.assign(new Error('gone'), { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 400 } }));
      assert.equal(missing.kind === 'retry' && missing.cause, 'missing_resource');
      const denied = classifyFailure(Object.assign(new Error('no'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }));
      assert.equal(denied.kind === 'retry' && denied.cause, 'auth');
    });

    it('rejects for good what the service refuses, with a reason code', () => {
      assert.deepEqual(classifyFailure(new InvalidParameterException({ message: 'bad', ...meta })), {
        kind: 'permanent',
        reason: 'CLOUDWATCH_INVALID_PARAMETER',
        message: 'bad',
      });
      assert.equal(reasonOfErrorName('DataAlreadyAcceptedException'), 'CLOUDWATCH_DATA_ALREADY_ACCEPTED');
    });

    it('leaves anything else to the caller', () => {
      assert.deepEqual(classifyFailure(new TypeError('x is undefined')), { kind: 'unexpected' });
    });
  });

  describe('rejectedEvents', () => {
    const events = [-20, -16, -15, -3, 0, 0, 1].map((days, i) => ({ timestamp: now + days * DAY + (days === 1 ? 0 : i), message: `e${i}` }));
    events[6] = { timestamp: now + 3 * 3_600_000, message: 'e6' };

    it('reads the indexes as documented: too old [0, end), too new [start, n)', () => {
      const rejected = rejectedEvents({ tooOldLogEventEndIndex: 3, tooNewLogEventStartIndex: 6 }, events, { now });
      assert.deepEqual([...rejected], [
        [0, 'CLOUDWATCH_TOO_OLD'],
        [1, 'CLOUDWATCH_TOO_OLD'],
        [2, 'CLOUDWATCH_TOO_OLD'],
        [6, 'CLOUDWATCH_TOO_NEW'],
      ]);
    });

    it('also takes an index reported inclusive (the last too-old event): the boundary event is past the limit', () => {
      const rejected = rejectedEvents({ tooOldLogEventEndIndex: 2 }, events, { now });
      assert.deepEqual([...rejected.keys()], [0, 1, 2]);
      const newer = rejectedEvents({ tooNewLogEventStartIndex: 7 }, events, { now });
      assert.deepEqual([...newer.keys()], [6]);
    });

    it('marks events past the retention as expired, too old winning where both apply', () => {
      const rejected = rejectedEvents({ tooOldLogEventEndIndex: 3, expiredLogEventEndIndex: 4 }, events, { now, retentionDays: 7 });
      assert.deepEqual([...rejected], [
        [0, 'CLOUDWATCH_TOO_OLD'],
        [1, 'CLOUDWATCH_TOO_OLD'],
        [2, 'CLOUDWATCH_TOO_OLD'],
        [3, 'CLOUDWATCH_EXPIRED'],
      ]);
    });

    it('rejects nothing without the info', () => {
      assert.equal(rejectedEvents(undefined, events, { now }).size, 0);
      assert.equal(rejectedEvents({}, events, { now }).size, 0);
    });

    it('outOfTimeRange finds the same events by the clock alone', () => {
      assert.deepEqual([...outOfTimeRange(events, { now, retentionDays: 1 })], [
        [0, 'CLOUDWATCH_TOO_OLD'],
        [1, 'CLOUDWATCH_TOO_OLD'],
        [2, 'CLOUDWATCH_TOO_OLD'],
        [3, 'CLOUDWATCH_EXPIRED'],
        [6, 'CLOUDWATCH_TOO_NEW'],
      ]);
    });
  });

  describe('missingFromStream', () => {
    const batch = [
      { timestamp: 1, message: 'a' },
      { timestamp: 1, message: 'a' },
      { timestamp: 2, message: 'b' },
    ];

    it('compares as a multiset of timestamp and message', () => {
      assert.equal(missingFromStream(batch, [...batch, { timestamp: 3, message: 'c' }]), 0);
      assert.equal(missingFromStream(batch, [batch[0]!, batch[2]!]), 1);
      assert.equal(missingFromStream(batch, [{ timestamp: 2, message: 'a' }]), 3);
      assert.equal(missingFromStream(batch, []), 3);
    });
  });
});
