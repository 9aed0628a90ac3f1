/** A feed in a local file (a path, or a `file:` URL): read again when its modification time or size changes. */
import { open } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { FeedReadError } from './feed-errors.js';
import { defaultFeedMaxBytes, type FeedRead, type FeedSource, type FeedVersion } from './feed-source.js';

export interface FileFeedSourceOptions {
  /** Largest file accepted. Default 256 MiB. */
  readonly maxBytes?: number;
}

const codeOf = (error: unknown) => (error instanceof Error && 'code' in error ? String(error.code) : undefined);

export class FileFeedSource implements FeedSource {
  private readonly path: string;
  private readonly maxBytes: number;

  constructor(
    readonly feed: string,
    readonly location: string,
    options: FileFeedSourceOptions = {},
  ) {
    this.path = location.startsWith('file:') ? fileURLToPath(location) : location;
    this.maxBytes = options.maxBytes ?? defaultFeedMaxBytes;
  }

  async read(since: FeedVersion | undefined): Promise<FeedRead> {
    let handle;
    try {
      handle = await open(this.path, 'r');
    } catch (error) {
      // A missing file may be written later (a sidecar downloading it): worth trying again.
      const code = codeOf(error);
      throw new FeedReadError(this.feed, this.location, `cannot open: ${code ?? String(error)}`, code === 'ENOENT' || code === 'EACCES' || code === 'EBUSY', undefined, { cause: error });
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new FeedReadError(this.feed, this.location, 'not a regular file', false);
      if (since !== undefined && since.mtimeMs === info.mtimeMs && since.size === info.size) return { changed: false };
      if (info.size > this.maxBytes) throw new FeedReadError(this.feed, this.location, `file of ${info.size} bytes is over the limit of ${this.maxBytes}`, false);
      // Size and time from the same open file as the text: a file replaced meanwhile is read whole next time.
      const text = await handle.readFile('utf8');
      return { changed: true, text, version: { mtimeMs: info.mtimeMs, size: info.size } };
    } catch (error) {
      if (error instanceof FeedReadError) throw error;
      throw new FeedReadError(this.feed, this.location, `cannot read: ${codeOf(error) ?? String(error)}`, true, undefined, { cause: error });
    } finally {
      await handle.close();
    }
  }
}
