/** Where a feed's text comes from: a file, an HTTP(S) URL, or memory (tests). */

/** What a source remembers of the text it last gave, to ask only for something newer. */
export interface FeedVersion {
  /** HTTP `ETag`, sent back as `If-None-Match`. */
  readonly etag?: string;
  /** HTTP `Last-Modified`, sent back as `If-Modified-Since`. */
  readonly lastModified?: string;
  /** A file's modification time and size. */
  readonly mtimeMs?: number;
  readonly size?: number;
}

export type FeedRead =
  | { readonly changed: false }
  | { readonly changed: true; readonly text: string; readonly version: FeedVersion };

export interface FeedSource {
  /** Where it reads, for messages. */
  readonly location: string;
  /**
   * The text, unless it is known to be the one of `since` (then `changed: false`). Rejects with a
   * FeedReadError when the source cannot be read; `signal` abandons the read.
   */
  read(since: FeedVersion | undefined, signal?: AbortSignal): Promise<FeedRead>;
}

/** Largest feed a source accepts unless told otherwise. */
export const defaultFeedMaxBytes = 256 * 2 ** 20;
