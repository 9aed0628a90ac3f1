import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PostResult } from '../../../../detect/notify/http-post.js';
import { backoffDelay, defaultRetryPolicy, describeResult, nextDelay, retryAfterMs, verdictOf } from '../../../../detect/notify/retry-policy.js';

const response = (status: number, retryAfter: string | null = null): PostResult => ({ kind: 'response', status, statusText: '', retryAfter, bodyStart: '' });
const NOW = Date.parse('2026-03-01T12:00:00.000Z');

describe('Detect > notify > retry policy', () => {
  it('delivers on 2xx, disables on 410, retries 408, 429, 5xx and transport errors, and gives up on the rest', () => {
    const verdicts = Object.fromEntries([200, 202, 204, 301, 400, 401, 403, 404, 408, 410, 413, 422, 429, 500, 502, 503, 504].map((status) => [status, verdictOf(response(status))]));
    assert.deepEqual(verdicts, {
      200: 'delivered',
      202: 'delivered',
      204: 'delivered',
      301: 'rejected',
      400: 'rejected',
      401: 'rejected',
      403: 'rejected',
      404: 'rejected',
      408: 'retry',
      410: 'gone',
      413: 'rejected',
      422: 'rejected',
      429: 'retry',
      500: 'retry',
      502: 'retry',
      503: 'retry',
      504: 'retry',
    });
    assert.equal(verdictOf({ kind: 'error', error: 'network', detail: 'ECONNREFUSED' }), 'retry');
    assert.equal(verdictOf({ kind: 'error', error: 'timeout', detail: '' }), 'retry');
    assert.equal(verdictOf({ kind: 'error', error: 'aborted', detail: '' }), 'aborted');
  });

  it('backs off exponentially with full jitter, capped', () => {
    const policy = { ...defaultRetryPolicy, baseDelayMs: 100, maxDelayMs: 1_000 };
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((retry) => backoffDelay(retry, policy, () => 0.999999)), [99, 199, 399, 799, 999, 999]);
    assert.deepEqual([1, 2, 3].map((retry) => backoffDelay(retry, policy, () => 0)), [0, 0, 0]);
    assert.equal(backoffDelay(3, policy, () => 0.5), 200);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    assert.equal(retryAfterMs('3', NOW), 3_000);
    assert.equal(retryAfterMs(' 0 ', NOW), 0);
    assert.equal(retryAfterMs(new Date(NOW + 5_000).toUTCString(), NOW), 5_000);
    assert.equal(retryAfterMs(new Date(NOW - 5_000).toUTCString(), NOW), 0);
    assert.equal(retryAfterMs('soon', NOW), undefined);
    assert.equal(retryAfterMs(null, NOW), undefined);
  });

  it('waits what Retry-After asks on 429 and 503 only, else the back-off', () => {
    const policy = { ...defaultRetryPolicy, baseDelayMs: 10, maxDelayMs: 100 };
    const half = () => 0.5;
    assert.equal(nextDelay(response(429, '120'), 1, policy, NOW, half), 120_000);
    assert.equal(nextDelay(response(503, '2'), 1, policy, NOW, half), 2_000);
    assert.equal(nextDelay(response(500, '2'), 1, policy, NOW, half), 5);
    assert.equal(nextDelay(response(503, 'later'), 2, policy, NOW, half), 10);
  });

  it('describes a result for a dead-letter message', () => {
    assert.equal(describeResult({ kind: 'response', status: 400, statusText: 'Bad Request', retryAfter: null, bodyStart: 'invalid_payload' }), 'HTTP 400 Bad Request: invalid_payload');
    assert.equal(describeResult({ kind: 'error', error: 'network', detail: 'ECONNREFUSED' }), 'network error ECONNREFUSED');
  });
});
