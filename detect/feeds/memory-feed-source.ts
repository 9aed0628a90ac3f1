/**
 * A feed held in memory, behind the same contract as the file and HTTP sources: for tests of
 * whatever uses a FeedSet, without files or a server. Versions work like ETags: a read after an
 * unchanged `set` answers `changed: false`.
 */
import { FeedReadError } from './feed-errors.js';
import type { FeedRead, FeedSource, FeedVersion } from './feed-source.js';

export class MemoryFeedSource implements FeedSource {
  /** How many times `read` was called. */
  reads = 0;
  private text: string | undefined;
  private version = 0;
  private failure: string | undefined;

  constructor(
    readonly feed: string,
    text?: string,
    readonly location = `memory:${feed}`,
  ) {
    if (text !== undefined) this.set(text);
  }

  /** New text, given to the next read; clears a failure. */
  set(text: string): this {
    this.text = text;
    this.version++;
    this.failure = undefined;
    return this;
  }

  /** Makes reads fail with `message` until the next `set`. */
  fail(message: string): this {
    this.failure = message;
    return this;
  }

  async read(since: FeedVersion | undefined): Promise<FeedRead> {
    this.reads++;
    if (this.failure !== undefined) throw new FeedReadError(this.feed, this.location, this.failure, true);
    if (this.text === undefined) throw new FeedReadError(this.feed, this.location, 'no text set', true);
    const etag = `"${this.version}"`;
    if (since?.etag === etag) return { changed: false };
    return { changed: true, text: this.text, version: { etag } };
  }
}
