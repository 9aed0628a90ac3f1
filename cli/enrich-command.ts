import { EnrichWorker } from '../enrich/enrich-worker.js';
import { createBus } from '../runtime/bus/select.js';
import { MetricsRegistry } from '../runtime/metrics.js';
import { topicSpecs } from '../runtime/topics.js';
import { optionProblems, parseOptions, type CliCommand } from './command.js';
import { enrichArgOptions, enrichCoreOptionsOf, enrichOptionsUsage } from './enrich-options.js';
import { kafkaStageSettings, runUntilStopped } from './stage-process.js';

const usage = `flowsentry enrich [options]

Consumes RawFlow from flowsentry.flows.raw.v1, joins both ends with who they were at the flow's
time (from the compacted inventory topic, read to its end before any flow), and publishes
EnrichedFlow to flowsentry.flows.enriched.v1, keyed by source workload. Runs until SIGTERM or
SIGINT, then finishes the batch in hand, commits and exits 0. Needs KAFKA_BROKERS.

options:
  --group NAME             consumer group; workers of one group share the partitions (default flowsentry-enrich)
  --partitions N           partitions of topics it creates when missing (default 6)
${enrichOptionsUsage}

example:
  KAFKA_BROKERS=localhost:9092 flowsentry enrich --cluster-cidr 10.0.0.0/16 --networks-file ip-ranges.json`;

const enrichOptions = { group: { type: 'string' }, partitions: { type: 'string' }, ...enrichArgOptions } as const;

export const enrichCommand: CliCommand = {
  name: 'enrich',
  summary: 'join flows with the Kubernetes identity of both ends at the flow time, on the bus',
  usage,
  options: enrichOptions,
  async run(args) {
    const values = parseOptions('enrich', usage, args, enrichOptions);
    if (!values) return 2;
    const problems: string[] = [];
    const core = enrichCoreOptionsOf(values, problems);
    const { partitions, endpoints } = kafkaStageSettings('enrich', values.partitions, problems);
    if (problems.length > 0) {
      console.error(optionProblems('enrich', problems));
      return 2;
    }
    const bus = createBus(endpoints, { kind: 'kafka', clientId: 'flowsentry-enrich' });
    const metrics = new MetricsRegistry();
    const worker = new EnrichWorker({ ...core, bus, metrics, ...(values.group ? { groupId: values.group } : {}) });
    return runUntilStopped({
      name: 'enrich',
      bus,
      metrics,
      start: async () => {
        await bus.ensureTopics(topicSpecs(partitions));
        await worker.start();
      },
      started: () => `inventory read (${worker.core.table.stats.objects} objects), taking flows`,
      close: () => worker.close(),
    });
  },
};
