/**
 * What a CloudWatch Logs call's outcome means for the outlet. Pure: errors are read by shape
 * (`name`, `code`, `$metadata.httpStatusCode`), so no AWS client is imported.
 *
 * - `classifyFailure`: retry (with the cause counted, and whether the request may have been
 *   carried out: `ambiguous`), a permanent rejection with a reason code, or an unexpected error
 *   the outlet rethrows.
 * - `rejectedEvents`: the events of a batch that PutLogEvents accepted the call for but did not
 *   store, from its `rejectedLogEventsInfo`.
 * - `missingFromStream`: how many events of a batch a read-back of the stream lacks.
 */
import type { LogEvent } from './log-batches.js';

export const cloudWatchReasons = {
  tooNew: 'CLOUDWATCH_TOO_NEW',
  tooOld: 'CLOUDWATCH_TOO_OLD',
  expired: 'CLOUDWATCH_EXPIRED',
} as const;

export type TimeRejection = (typeof cloudWatchReasons)[keyof typeof cloudWatchReasons];

export type RetryCause = 'throttling' | 'server_error' | 'network' | 'timeout' | 'missing_resource' | 'auth' | 'conflict';

export type Failure =
  | { readonly kind: 'retry'; readonly cause: RetryCause; readonly ambiguous: boolean; readonly message: string }
  | { readonly kind: 'permanent'; readonly reason: string; readonly message: string }
  | { readonly kind: 'unexpected' };

/** Errors that mean the request never reached the service. */
const notSentCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
/** Errors after which the service may or may not have carried the request out. */
const cutOffCodes = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']);
const throttlingNames = new Set(['ThrottlingException', 'Throttling', 'ThrottledException', 'TooManyRequestsException', 'RequestLimitExceeded']);
const authNames = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'ExpiredTokenException',
  'InvalidSignatureException',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'CredentialsProviderError',
]);

interface ErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
  readonly cause?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
  readonly $fault?: unknown;
}

const shape = (error: unknown): ErrorShape => (typeof error === 'object' && error !== null ? (error as ErrorShape) : {});

function codeOf(error: ErrorShape): string | undefined {
  if (typeof error.code === 'string') return error.code;
  const cause = shape(error.cause);
  return typeof cause.code === 'string' ? cause.code : undefined;
}

/** `InvalidParameterException` → `CLOUDWATCH_INVALID_PARAMETER`. */
export function reasonOfErrorName(name: string): string {
  const base = name.replace(/Exception$/, '') || 'ERROR';
  return `CLOUDWATCH_${base.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()}`;
}

export function classifyFailure(error: unknown): Failure {
  const e = shape(error);
  const name = typeof e.name === 'string' ? e.name : '';
  const message = typeof e.message === 'string' ? e.message : String(error);
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  const code = codeOf(e);
  if (throttlingNames.has(name) || status === 429) return { kind: 'retry', cause: 'throttling', ambiguous: false, message };
  if (name === 'ServiceUnavailableException' || (status !== undefined && status >= 500)) return { kind: 'retry', cause: 'server_error', ambiguous: true, message };
  // The SDK names a cut connection TimeoutError too (code ECONNRESET): the code decides first.
  if (code !== undefined && notSentCodes.has(code)) return { kind: 'retry', cause: 'network', ambiguous: false, message };
  if ((code !== undefined && cutOffCodes.has(code)) || /socket hang up/i.test(message)) return { kind: 'retry', cause: 'network', ambiguous: true, message };
  if (name === 'TimeoutError' || name === 'RequestTimeout' || status === 408) return { kind: 'retry', cause: 'timeout', ambiguous: true, message };
  if (name === 'ResourceNotFoundException') return { kind: 'retry', cause: 'missing_resource', ambiguous: false, message };
  if (name === 'OperationAbortedException') return { kind: 'retry', cause: 'conflict', ambiguous: false, message };
  if (authNames.has(name) || status === 401 || status === 403) return { kind: 'retry', cause: 'auth', ambiguous: false, message };
  if (status !== undefined || e.$fault === 'client') return { kind: 'permanent', reason: reasonOfErrorName(name || `Http${status ?? ''}`), message };
  return { kind: 'unexpected' };
}

export interface RejectedLogEventsInfo {
  readonly tooNewLogEventStartIndex?: number | undefined;
  readonly tooOldLogEventEndIndex?: number | undefined;
  readonly expiredLogEventEndIndex?: number | undefined;
}

export interface ServiceClock {
  /** The time of the answer, epoch ms. */
  readonly now: number;
  /** The group's retention, when set. */
  readonly retentionDays?: number | undefined;
}

const DAY = 86_400_000;
export const MAX_AGE_MS = 14 * DAY;
export const MAX_AHEAD_MS = 2 * 60 * 60 * 1000;

/**
 * The batch's events the service did not store, by index, with their reason. As documented,
 * events `[0, tooOldLogEventEndIndex)` are too old, `[0, expiredLogEventEndIndex)` past the
 * retention, `[tooNewLogEventStartIndex, n)` too new. Each range reaches on while the next event
 * is itself past the limit by `now` (14 days, the retention, 2 hours ahead): that covers a
 * service that reports the last index inclusive, and costs at worst a dead letter for an event
 * that was also stored. Too old wins over expired.
 */
export function rejectedEvents(info: RejectedLogEventsInfo | undefined, events: readonly LogEvent[], clock: ServiceClock): Map<number, TimeRejection> {
  const rejected = new Map<number, TimeRejection>();
  if (!info) return rejected;
  const n = events.length;
  const from0 = (end: number | undefined, olderThan: number | undefined, reason: TimeRejection) => {
    if (end === undefined || end === null) return;
    let i = Math.min(Math.max(end, 0), n);
    if (olderThan !== undefined) while (i < n && events[i]!.timestamp < olderThan) i++;
    for (let k = 0; k < i; k++) if (!rejected.has(k)) rejected.set(k, reason);
  };
  from0(info.tooOldLogEventEndIndex, clock.now - MAX_AGE_MS, cloudWatchReasons.tooOld);
  from0(info.expiredLogEventEndIndex, clock.retentionDays ? clock.now - clock.retentionDays * DAY : undefined, cloudWatchReasons.expired);
  const start = info.tooNewLogEventStartIndex;
  if (start !== undefined && start !== null) {
    let i = Math.min(Math.max(start, 0), n);
    while (i > 0 && events[i - 1]!.timestamp > clock.now + MAX_AHEAD_MS) i--;
    for (let k = i; k < n; k++) if (!rejected.has(k)) rejected.set(k, cloudWatchReasons.tooNew);
  }
  return rejected;
}

const eventKey = (event: LogEvent) => `${event.timestamp}\u0000${event.message}`;

/** How many of `batch`'s events `stored` lacks (as a multiset of timestamp and message). */
export function missingFromStream(batch: readonly LogEvent[], stored: readonly LogEvent[]): number {
  const counts = new Map<string, number>();
  for (const event of stored) {
    const key = eventKey(event);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  let missing = 0;
  for (const event of batch) {
    const key = eventKey(event);
    const left = counts.get(key) ?? 0;
    if (left === 0) missing++;
    else counts.set(key, left - 1);
  }
  return missing;
}

/**
 * The events the service would refuse by time at `clock.now` (older than 14 days or than the
 * retention, more than 2 hours ahead). Used only when a read-back decides whether an attempt
 * whose answer was lost stored the batch: those events cannot be in the stream.
 */
export function outOfTimeRange(events: readonly LogEvent[], clock: ServiceClock): Map<number, TimeRejection> {
  const out = new Map<number, TimeRejection>();
  const oldest = clock.now - MAX_AGE_MS;
  const retained = clock.retentionDays ? clock.now - clock.retentionDays * DAY : undefined;
  events.forEach((event, i) => {
    if (event.timestamp < oldest) out.set(i, cloudWatchReasons.tooOld);
    else if (retained !== undefined && event.timestamp < retained) out.set(i, cloudWatchReasons.expired);
    else if (event.timestamp > clock.now + MAX_AHEAD_MS) out.set(i, cloudWatchReasons.tooNew);
  });
  return out;
}
