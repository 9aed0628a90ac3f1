/**
 * Codes of what can go wrong with a threat feed, in one place. Line problems are never fatal (the
 * line is dropped or normalised, the feed loads); a failed read keeps the last good data and is
 * retried at the next period; only an invalid FeedSpec stops a start.
 */
export const feedProblemCodes = {
  FEED_BAD_ENTRY: 'a line or CSV row whose indicator is not an IPv4/IPv6 address or CIDR block; the line is dropped',
  FEED_HOST_BITS: 'a CIDR block with bits set after its prefix (10.0.0.1/8); kept as its network (10.0.0.0/8)',
  FEED_BAD_CSV: 'a CSV record that cannot be read (an unterminated quote, too few columns); the record is dropped',
  FEED_READ_FAILED: 'the source could not be read (HTTP status other than 200/304, network error, timeout, missing file); the last good data stays in use',
  FEED_NO_ENTRIES: 'a read source had problems and not one entry (an error page, a wrong format); taken as a failed read',
} as const;

export type FeedProblemCode = keyof typeof feedProblemCodes;

/** A source that could not be read. Every read failure is retried at the next period; `retriable` says whether that may help. */
export class FeedReadError extends Error {
  override readonly name = 'FeedReadError';
  readonly code = 'FEED_READ_FAILED';
  constructor(
    readonly feed: string,
    readonly location: string,
    message: string,
    readonly retriable: boolean,
    /** The HTTP status, when the server answered. */
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(`${feed}: ${location}: ${message}`, options);
  }
}

/** FeedSpecs that cannot work: every problem at once, before anything is read. */
export class FeedConfigError extends Error {
  override readonly name = 'FeedConfigError';
  readonly code = 'FEED_BAD_CONFIG';
  readonly retriable = false;
  constructor(readonly problems: readonly string[]) {
    super(`invalid threat feed configuration:\n  ${problems.join('\n  ')}`);
  }
}
