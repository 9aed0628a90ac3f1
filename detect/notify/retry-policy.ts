/**
 * When to try a delivery again, and after how long. Pure: the sender brings the clock and the
 * random numbers.
 *
 * - 2xx: delivered. 410 Gone: the endpoint is disabled. 408, 429, 5xx, network errors and
 *   timeouts: retried. Any other status (other 4xx, redirects): permanent.
 * - Back-off: exponential with full jitter, `random() * min(maxDelayMs, baseDelayMs * 2^(retry-1))`.
 * - A Retry-After (seconds or an HTTP date) on 429 or 503 replaces the back-off: no attempt comes
 *   sooner. When it points past the delivery's time budget, the sender gives up instead.
 */
import type { RetryConfig } from './notify-config.js';
import type { PostResult } from './http-post.js';
import { backoffDelay } from '../../runtime/backoff.js';

export type RetryPolicy = Required<RetryConfig>;

export const defaultRetryPolicy: RetryPolicy = { maxAttempts: 6, baseDelayMs: 500, maxDelayMs: 30_000, maxElapsedMs: 120_000 };

export type AttemptVerdict = 'delivered' | 'retry' | 'gone' | 'rejected' | 'aborted';

export function verdictOf(result: PostResult): AttemptVerdict {
  if (result.kind === 'error') return result.error === 'aborted' ? 'aborted' : 'retry';
  const { status } = result;
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 410) return 'gone';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  return 'rejected';
}

export { backoffDelay };

/** Milliseconds a Retry-After value asks for (delay-seconds or HTTP-date), or undefined when it says nothing usable. */
export function retryAfterMs(value: string | null | undefined, now: number): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The wait before the next attempt after `result`: the endpoint's Retry-After on 429/503, else the jittered back-off. */
export function nextDelay(result: PostResult, retry: number, policy: RetryPolicy, now: number, random: () => number): number {
  if (result.kind === 'response' && (result.status === 429 || result.status === 503)) {
    const asked = retryAfterMs(result.retryAfter, now);
    if (asked !== undefined) return asked;
  }
  return backoffDelay(retry, policy, random);
}

/** `HTTP 503 Service Unavailable: <body start>` or `network error ECONNREFUSED`, for messages. */
export function describeResult(result: PostResult): string {
  if (result.kind === 'error') return result.error === 'network' ? `network error ${result.detail}` : `${result.error} (${result.detail})`;
  const status = `HTTP ${result.status}${result.statusText ? ` ${result.statusText}` : ''}`;
  return result.bodyStart ? `${status}: ${result.bodyStart.slice(0, 200)}` : status;
}
