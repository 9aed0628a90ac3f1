/**
 * A feed over HTTP(S) with Node's fetch: a conditional GET (`If-None-Match` from the last ETag,
 * `If-Modified-Since` from the last Last-Modified), 304 meaning "what you have", a time limit on
 * the whole exchange and a size limit on the body.
 */
import { FeedReadError } from './feed-errors.js';
import { defaultFeedMaxBytes, type FeedRead, type FeedSource, type FeedVersion } from './feed-source.js';

export interface HttpFeedSourceOptions {
  /** Limit on the request and the body together. Default 30 s. */
  readonly timeoutMs?: number;
  /** Largest body accepted. Default 256 MiB. */
  readonly maxBytes?: number;
}

export const defaultFeedTimeoutMs = 30_000;

const messageOf = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
};

/** Statuses a later attempt may get past. */
const isRetriableStatus = (status: number) => status >= 500 || status === 408 || status === 429;

export class HttpFeedSource implements FeedSource {
  private readonly timeoutMs: number;
  private readonly maxBytes: number;

  constructor(
    readonly feed: string,
    readonly location: string,
    options: HttpFeedSourceOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? defaultFeedTimeoutMs;
    this.maxBytes = options.maxBytes ?? defaultFeedMaxBytes;
  }

  async read(since: FeedVersion | undefined, signal?: AbortSignal): Promise<FeedRead> {
    const headers: Record<string, string> = { accept: 'text/plain, text/csv;q=0.9, */*;q=0.5', 'user-agent': 'flowsentry-feeds' };
    if (since?.etag !== undefined) headers['if-none-match'] = since.etag;
    if (since?.lastModified !== undefined) headers['if-modified-since'] = since.lastModified;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const abort = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      const response = await fetch(this.location, { headers, signal: abort, redirect: 'follow' });
      if (response.status === 304 && since !== undefined) {
        await response.body?.cancel();
        return { changed: false };
      }
      if (response.status !== 200) {
        await response.body?.cancel();
        throw this.error(`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`, isRetriableStatus(response.status), response.status);
      }
      const text = await this.body(response);
      const etag = response.headers.get('etag') ?? undefined;
      const lastModified = response.headers.get('last-modified') ?? undefined;
      return { changed: true, text, version: { etag, lastModified } };
    } catch (error) {
      if (error instanceof FeedReadError) throw error;
      if (timeout.aborted) throw this.error(`no complete answer within ${this.timeoutMs} ms`, true, undefined, error);
      if (signal?.aborted) throw this.error('read abandoned (feed set closed)', false, undefined, error);
      throw this.error(`request failed: ${messageOf(error)}`, true, undefined, error);
    }
  }

  private async body(response: Response): Promise<string> {
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (declared > this.maxBytes) {
      await response.body?.cancel();
      throw this.error(`body of ${declared} bytes is over the limit of ${this.maxBytes}`, false);
    }
    if (!response.body) return '';
    const chunks: Uint8Array[] = [];
    let total = 0;
    for await (const chunk of response.body) {
      total += chunk.byteLength;
      if (total > this.maxBytes) throw this.error(`body is over the limit of ${this.maxBytes} bytes`, false);
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, total).toString('utf8');
  }

  private error(message: string, retriable: boolean, status?: number, cause?: unknown): FeedReadError {
    return new FeedReadError(this.feed, this.location, message, retriable, status, cause === undefined ? undefined : { cause });
  }
}
