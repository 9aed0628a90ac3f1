/**
 * What the text and CSV readers of a feed share: indicator text in, entries and problems out.
 */
import { FeedEntries } from './feed-entries.js';
import { newBlock, readBlock } from './feed-block.js';
import type { FeedProblemCode } from './feed-errors.js';
import type { FeedProblem } from './feed.js';

/** One feed, read: its entries and what was wrong with some of its lines. */
export interface ParsedFeed {
  readonly feed: string;
  /** The format the text was read as (`auto` resolved). */
  readonly format: 'text' | 'csv';
  readonly entries: FeedEntries;
  /** The first `maxListedProblems` problems, in line order. */
  readonly problems: readonly FeedProblem[];
  /** Every problem, listed or not. */
  readonly problemCount: number;
  /** Every problem, by code. */
  readonly problemsByCode: Readonly<Partial<Record<FeedProblemCode, number>>>;
}

/** A garbled feed of a million lines must not cost a million problem objects. */
export const maxListedProblems = 1_000;

/** How much of an indicator a problem message quotes. */
const quoteLength = 80;

export const quote = (text: string) => JSON.stringify(text.length > quoteLength ? `${text.slice(0, quoteLength)}…` : text);

export class FeedCollector {
  readonly entries: FeedEntries;
  private readonly problems: FeedProblem[] = [];
  private problemCount = 0;
  private readonly problemsByCode: Partial<Record<FeedProblemCode, number>> = {};
  private readonly block = newBlock();

  constructor(
    readonly feed: string,
    capacity: number,
  ) {
    this.entries = new FeedEntries(capacity);
  }

  /** Adds the entry `indicator` (already trimmed) of `line`, or a problem saying why not. */
  add(indicator: string, line: number, note: string | undefined): void {
    const { block } = this;
    if (indicator === '') {
      this.problem(line, 'FEED_BAD_ENTRY', 'no indicator');
      return;
    }
    if (!readBlock(indicator, block)) {
      this.problem(line, 'FEED_BAD_ENTRY', `${quote(indicator)} is not an IPv4/IPv6 address or CIDR block`);
      return;
    }
    if (block.family === 4) this.entries.addV4(block.v4, block.prefix, line, note);
    else this.entries.addV6(block.v6, block.prefix, line, note);
    if (block.hostBits) {
      const kept = this.entries.textAt(this.entries.length - 1);
      this.problem(line, 'FEED_HOST_BITS', `${quote(indicator)} has bits set after its prefix; read as ${kept}`);
    }
  }

  problem(line: number, code: FeedProblemCode, why: string): void {
    this.problemCount++;
    this.problemsByCode[code] = (this.problemsByCode[code] ?? 0) + 1;
    if (this.problems.length < maxListedProblems) this.problems.push({ feed: this.feed, line, code, message: `${this.feed}:${line}: ${why}` });
  }

  result(format: 'text' | 'csv'): ParsedFeed {
    return { feed: this.feed, format, entries: this.entries.finish(), problems: this.problems, problemCount: this.problemCount, problemsByCode: this.problemsByCode };
  }
}
