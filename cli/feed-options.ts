import { basename } from 'node:path';
import { FeedSet } from '../detect/feeds/feed-set.js';
import type { FeedSpec } from '../detect/feeds/feed.js';
import type { FeedIndex } from '../detect/feeds/feed-index.js';
import { logger } from '../runtime/log.js';
import type { MetricsRegistry } from '../runtime/metrics.js';

export const feedOptionUsage = `  --feed [NAME=]FILE|URL   a threat feed (repeatable): addresses and CIDR blocks, plain text (one per
                           line, # comments) or CSV; NAME (default: the file's name) is what alerts cite`;

/** Feed specs from `--feed` values: `name=location`, or a location named after its last path segment. */
export function feedSpecsOf(values: readonly string[], refreshMs: number): FeedSpec[] {
  return values.map((value) => {
    const named = /^([\w.-]+)=(.+)$/.exec(value);
    if (named && !/^[a-z]+:\/\//i.test(value)) return { name: named[1]!, location: named[2]!, refreshMs };
    const path = /^https?:\/\//i.test(value) ? new URL(value).pathname : value;
    const name = basename(path).replace(/\.(txt|csv|list|netset|ipset)$/i, '') || new URL(value).host;
    return { name, location: value, refreshMs };
  });
}

export interface LoadedFeeds {
  readonly index?: FeedIndex;
  /** Feeds that could not be read, or configuration problems: the command stops. */
  readonly problems: string[];
}

/** Reads the feeds once (replay): every feed must load. */
export async function loadFeedsOnce(values: readonly string[]): Promise<LoadedFeeds> {
  if (values.length === 0) return { problems: [] };
  let set: FeedSet;
  try {
    set = new FeedSet(feedSpecsOf(values, 0));
  } catch (error) {
    return { problems: [(error as Error).message] };
  }
  try {
    const refreshes = await set.refresh();
    const problems = refreshes.filter((refresh) => refresh.outcome === 'failed').map((refresh) => `--feed ${refresh.feed}: ${refresh.failure?.message ?? 'could not be read'}`);
    for (const refresh of refreshes) if (refresh.outcome !== 'failed') console.error(`feed ${refresh.feed}: ${refresh.entries} entries${refresh.problems > 0 ? `, ${refresh.problems} lines skipped` : ''}`);
    return problems.length > 0 ? { problems } : { index: set.current(), problems };
  } finally {
    await set.close();
  }
}

/** Reads the feeds and keeps refreshing them (the detect stage); `current` gives the index in use. */
export async function startFeeds(values: readonly string[], refreshMs: number, metrics: MetricsRegistry): Promise<FeedSet | undefined> {
  if (values.length === 0) return undefined;
  const set = new FeedSet(feedSpecsOf(values, refreshMs), { metrics });
  const log = logger('feeds');
  for (const refresh of await set.start()) {
    (refresh.failure ? log.warn : log.info)(`feed ${refresh.feed}: ${refresh.outcome}, ${refresh.entries} entries${refresh.failure ? ` (${refresh.failure.message})` : ''}`, {
      feed: refresh.feed,
      outcome: refresh.outcome,
      entries: refresh.entries,
      ...(refresh.failure ? { error: refresh.failure } : {}),
    });
  }
  return set;
}
