/**
 * Reason codes of the dead letters notifiers write (stage `notify`), and the config error. A
 * notification is never dropped silently: whatever cannot be delivered becomes a DeadLetter with
 * one of these reasons, and is counted by endpoint and reason.
 */

export const notifyDeadLetterReasons = {
  NOTIFY_FAILED: 'every attempt failed (network error, timeout, 408, 429 or 5xx) until the attempts or the time budget ran out',
  NOTIFY_REJECTED: 'the endpoint answered a permanent error (a 4xx other than 408, 410 and 429, or a redirect)',
  NOTIFY_ENDPOINT_GONE: 'the endpoint answered 410 Gone, now or earlier: it is disabled until restart',
  NOTIFY_QUEUE_FULL: "the endpoint's queue was full (it is slower than the alerts coming in)",
  NOTIFY_ENCODE_FAILED: 'the alert could not be turned into the endpoint\'s message (it does not match the Alert schema)',
  NOTIFY_SHUTDOWN: 'the notifier closed before the delivery finished',
  NOTIFY_CLOSED: 'an alert was handed to a notifier that is already closed',
} as const;

export type NotifyDeadLetterReason = keyof typeof notifyDeadLetterReasons;

/** Reasons worth replaying later: the endpoint may well take the message then. */
export const retriableNotifyReasons: ReadonlySet<NotifyDeadLetterReason> = new Set(['NOTIFY_FAILED', 'NOTIFY_QUEUE_FULL', 'NOTIFY_SHUTDOWN', 'NOTIFY_CLOSED']);

/** Invalid notifier config, with every problem found (one `path: problem` per entry). Raised at start. */
export class NotifyConfigError extends Error {
  override readonly name = 'NotifyConfigError';
  readonly code = 'NOTIFY_BAD_CONFIG';
  readonly retriable = false;

  constructor(readonly problems: readonly string[]) {
    super(`invalid notify config: ${problems.join('; ')}`);
  }
}
