import { DetectWorker } from '../detect/detect-worker.js';
import type { FeedSet } from '../detect/feeds/feed-set.js';
import { createBus } from '../runtime/bus/select.js';
import { MetricsRegistry } from '../runtime/metrics.js';
import { topicSpecs } from '../runtime/topics.js';
import { optionProblems, parseOptions, type CliCommand } from './command.js';
import { detectArgOptions, detectOptionsOf, detectOptionsUsage, parseDuration } from './detect-options.js';
import { feedOptionUsage, startFeeds } from './feed-options.js';
import { kafkaStageSettings, runUntilStopped } from './stage-process.js';

const usage = `flowsentry detect [options]

Consumes EnrichedFlow from flowsentry.flows.enriched.v1, runs the detectors (threat feeds,
port_scan, ip_sweep, lateral_movement, denied_spike, exfiltration) in event time, and publishes
Alert records to flowsentry.alerts.v1, keyed by fingerprint. Detector state goes to the compacted
flowsentry.detect.state.v1 with every batch and is restored when a partition is taken over.
Runs until SIGTERM or SIGINT, then finishes the batch in hand, commits and exits 0. Needs
KAFKA_BROKERS.

options:
  --group NAME             consumer group; workers of one group share the partitions (default flowsentry-detect)
  --partitions N           partitions of topics it creates when missing (default 6)
${feedOptionUsage}
  --feed-refresh DURATION  how often feeds are read again (default 10m; HTTP asks if anything changed)
${detectOptionsUsage}

example:
  KAFKA_BROKERS=localhost:9092 flowsentry detect --feed blocklist=https://example.org/drop.txt --learn 24h`;

const detectOptions = {
  group: { type: 'string' },
  partitions: { type: 'string' },
  feed: { type: 'string', multiple: true },
  'feed-refresh': { type: 'string' },
  ...detectArgOptions,
} as const;

export const detectCommand: CliCommand = {
  name: 'detect',
  summary: 'flag threat-feed hits, scans, sweeps, lateral movement, denied spikes and exfiltration, on the bus',
  usage,
  options: detectOptions,
  async run(args) {
    const values = parseOptions('detect', usage, args, detectOptions);
    if (!values) return 2;
    const problems: string[] = [];
    const options = detectOptionsOf(values, problems);
    const refreshMs = parseDuration(values['feed-refresh'], '--feed-refresh', problems) ?? 600_000;
    const { partitions, endpoints } = kafkaStageSettings('detect', values.partitions, problems);
    if (problems.length > 0) {
      console.error(optionProblems('detect', problems));
      return 2;
    }
    const metrics = new MetricsRegistry();
    let feeds: FeedSet | undefined;
    try {
      feeds = await startFeeds(values.feed ?? [], refreshMs, metrics);
    } catch (error) {
      console.error(optionProblems('detect', [(error as Error).message]));
      return 2;
    }
    const bus = createBus(endpoints, { kind: 'kafka', clientId: 'flowsentry-detect' });
    const worker = new DetectWorker({ ...options, bus, metrics, ...(feeds ? { feeds: () => feeds.current() } : {}), ...(values.group ? { groupId: values.group } : {}) });
    return runUntilStopped({
      name: 'detect',
      bus,
      metrics,
      start: async () => {
        await bus.ensureTopics(topicSpecs(partitions));
        await worker.start();
      },
      started: () => `taking enriched flows${feeds ? ` (feeds: ${feeds.current().size} blocks)` : ''}`,
      close: async () => {
        await worker.close();
        await feeds?.close();
      },
    });
  },
};
