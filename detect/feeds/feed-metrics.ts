/** The metrics of a FeedSet, labelled by feed. */
import type { Counter, Gauge, MetricsRegistry } from '../../runtime/metrics.js';
import type { FeedProblemCode } from './feed-errors.js';
import type { ParsedFeed } from './feed-collector.js';

export class FeedMetrics {
  private readonly loads: Counter;
  private readonly unchanged: Counter;
  private readonly failures: Counter;
  private readonly problems: Counter;
  private readonly entries: Gauge;
  private readonly blocks: Gauge;

  constructor(metrics: MetricsRegistry) {
    this.loads = metrics.counter('flowsentry_feed_loads_total', 'Threat feed reads that brought new data into use, by feed.');
    this.unchanged = metrics.counter('flowsentry_feed_unchanged_total', 'Threat feed checks that found nothing new (HTTP 304, same file), by feed.');
    this.failures = metrics.counter('flowsentry_feed_refresh_failures_total', 'Threat feed reads that failed (the last good data stays in use), by feed and reason.');
    this.problems = metrics.counter('flowsentry_feed_problems_total', 'Lines of threat feeds dropped or normalised, by feed and reason.');
    this.entries = metrics.gauge('flowsentry_feed_entries', 'Entries of each threat feed in use.');
    this.blocks = metrics.gauge('flowsentry_feed_index_blocks', 'Distinct blocks in the threat feed index in use.');
  }

  loaded(parsed: ParsedFeed): void {
    this.loads.inc({ feed: parsed.feed });
    for (const [reason, count] of Object.entries(parsed.problemsByCode)) this.problems.inc({ feed: parsed.feed, reason }, count);
  }

  checkedUnchanged(feed: string): void {
    this.unchanged.inc({ feed });
  }

  failed(feed: string, reason: FeedProblemCode): void {
    this.failures.inc({ feed, reason });
  }

  inUse(entriesByFeed: ReadonlyMap<string, number>, blocks: number): void {
    for (const [feed, entries] of entriesByFeed) this.entries.set(entries, { feed });
    this.blocks.set(blocks);
  }
}
