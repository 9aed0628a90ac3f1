/**
 * Threat feeds (lists of known-bad IPv4/IPv6 addresses and CIDR blocks): the shapes shared by the
 * parser, the index and the loader.
 */
import type { FeedProblemCode } from './feed-errors.js';

/** How a feed's text is laid out; `auto` looks at the first line that is not blank or a comment. */
export type FeedFormat = 'text' | 'csv' | 'auto';

/** One indicator of a feed, as read. */
export interface FeedEntry {
  /** The block in its one spelling: `203.0.113.0/24`, `198.51.100.7` (a single address has no suffix), `2001:db8::/32`. */
  readonly text: string;
  /** 1-based line of the source where the entry starts. */
  readonly line: number;
  /** The CSV description column, or the text after the address on a plain-text line. */
  readonly note?: string;
}

/** What matched an address: the feed, its entry, the entry's note. */
export interface FeedMatch {
  readonly feed: string;
  readonly entry: string;
  readonly note?: string;
}

/** A line that was dropped or changed while reading a feed, or a source that could not be read. Never fatal. */
export interface FeedProblem {
  readonly feed: string;
  /** 1-based line, or 0 when the problem is the whole source (a failed download). */
  readonly line: number;
  readonly code: FeedProblemCode;
  /** `<feed>:<line>: <why>` (or `<feed>: <why>` for the whole source). */
  readonly message: string;
}

/** Where a feed comes from and how often it is read again. */
export interface FeedSpec {
  /** Named in every alert and metric; unique in a FeedSet. */
  readonly name: string;
  /** A file path, a `file:` URL, or an `http:`/`https:` URL. */
  readonly location: string;
  /** Default `auto`. */
  readonly format?: FeedFormat;
  /** Period between refreshes in ms; 0 reads the feed once. Default `defaultRefreshMs` (10 minutes). */
  readonly refreshMs?: number;
}

export const defaultRefreshMs = 10 * 60_000;
