/**
 * A feed's text → its entries and problems. Pure; a bad line is a problem, never an error.
 *
 * Plain text: one IPv4/IPv6 address or CIDR block per line. Blank lines and lines starting with
 * `#` or `;` are skipped; surrounding blanks and a `\r` are ignored. Anything after the block
 * (after blanks, or from a `#` or `;`) is the entry's note, the comment marker removed:
 * `203.0.113.0/24 ; SBL123` (Spamhaus DROP), `198.51.100.7  # emotet C2`, `192.0.2.1<TAB>5`.
 *
 * CSV: see csv-feed.ts.
 *
 * Either way: a bare address is a block of one; a block with bits set after its prefix
 * (`10.0.0.1/8`) is kept as its network (`10.0.0.0/8`) with a FEED_HOST_BITS problem, since the
 * publisher most likely meant the network; an IPv4-mapped IPv6 block is its IPv4 block.
 */
import { FeedCollector, type ParsedFeed } from './feed-collector.js';
import { csvFeedSteps } from './csv-feed.js';
import type { FeedFormat } from './feed.js';
import { runToEnd, type Steps } from './slices.js';

export type { ParsedFeed } from './feed-collector.js';

const RETURN = 13;
const SPACE = 32;
const TAB = 9;
const HASH = 35;
const SEMICOLON = 59;

const isBlank = (code: number) => code === SPACE || code === TAB || code === RETURN;
const isComment = (code: number) => code === HASH || code === SEMICOLON;

/** Lines read between two slices. */
const sliceLines = 16_384;

export function parseFeed(feedName: string, text: string, format: FeedFormat = 'auto'): ParsedFeed {
  return runToEnd(parseFeedSteps(feedName, text, format));
}

/** `parseFeed` in slices, for `runInSlices`. */
export function* parseFeedSteps(feedName: string, text: string, format: FeedFormat = 'auto'): Steps<ParsedFeed> {
  const resolved = format === 'auto' ? detectFormat(text) : format;
  // About one entry per 16 characters; the columns grow if there are more.
  const into = new FeedCollector(feedName, Math.max(64, text.length >>> 4));
  if (resolved === 'csv') yield* csvFeedSteps(text, into);
  else yield* textFeedSteps(text, into);
  return into.result(resolved);
}

/**
 * `csv` when the first line that is not blank or a comment starts with a quote or has a comma
 * before any comment marker; `text` otherwise (an address never holds a comma).
 */
export function detectFormat(text: string): 'text' | 'csv' {
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).replace(/^\uFEFF/, '').trim();
    start = end + 1;
    if (line === '' || isComment(line.charCodeAt(0))) continue;
    if (line.startsWith('"')) return 'csv';
    const comment = line.search(/[#;]/);
    return (comment < 0 ? line : line.slice(0, comment)).includes(',') ? 'csv' : 'text';
  }
  return 'text';
}

function* textFeedSteps(text: string, into: FeedCollector): Steps<void> {
  let start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (let line = 1; start <= text.length; line++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    readTextLine(text, start, end, line, into);
    start = end + 1;
    if (line % sliceLines === 0) yield;
  }
}

function readTextLine(text: string, start: number, end: number, line: number, into: FeedCollector): void {
  let from = start;
  while (from < end && isBlank(text.charCodeAt(from))) from++;
  if (from === end || isComment(text.charCodeAt(from))) return;
  let to = from;
  while (to < end) {
    const code = text.charCodeAt(to);
    if (isBlank(code) || isComment(code)) break;
    to++;
  }
  let noteFrom = to;
  while (noteFrom < end && isBlank(text.charCodeAt(noteFrom))) noteFrom++;
  let note: string | undefined;
  if (noteFrom < end) {
    if (isComment(text.charCodeAt(noteFrom))) noteFrom++;
    note = text.slice(noteFrom, end).trim() || undefined;
  }
  into.add(text.slice(from, to), line, note);
}
