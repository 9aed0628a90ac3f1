import { createBus } from '../runtime/bus/select.js';
import { MetricsRegistry } from '../runtime/metrics.js';
import { topicSpecs } from '../runtime/topics.js';
import { sinkRecordKinds, type SinkRecordKind } from '../sink/outlet.js';
import { SinkWorker } from '../sink/sink-worker.js';
import { optionProblems, parseOptions, type CliCommand } from './command.js';
import { outletOptionSpecs, outletsFromOptions, outletUsage } from './outlet-options.js';
import { kafkaStageSettings, runUntilStopped } from './stage-process.js';

const usage = `flowsentry sink [options]

Consumes enriched flows, alerts and response actions from the bus and writes each to OpenSearch
(daily and monthly indices with explicit mappings, document ids from the record itself) and/or
CloudWatch Logs (the Calico flow-log line, a stream per node). A batch is committed only once
every outlet wrote or refused each of its records; a refused record goes to the dead-letter topic
with the outlet's reason. While an outlet is slow or down the stage retries and takes no more
input, then catches up. Runs until SIGTERM or SIGINT, then finishes the batch in hand (up to 10 s),
commits and exits 0. Needs KAFKA_BROKERS; with neither --opensearch nor --cloudwatch, writes to
OpenSearch at OPENSEARCH_URL.

options:
${outletUsage}
  --kinds LIST             records to write: flows,alerts,actions (default all three)
  --members N              group members in this process (default 3)
  --group NAME             consumer group (default flowsentry-sink)
  --partitions N           partitions of topics it creates when missing (default 6)

examples:
  KAFKA_BROKERS=localhost:9092 OPENSEARCH_URL=https://search:9200 flowsentry sink
  KAFKA_BROKERS=localhost:9092 flowsentry sink --cloudwatch prod --cloudwatch-naming tigera --kinds flows`;

const kindWords: Readonly<Record<string, SinkRecordKind>> = { flows: 'flow', alerts: 'alert', actions: 'action' };

/** `flows,alerts`: the kinds named, every problem added to `problems`. */
export function parseKinds(text: string | undefined, problems: string[]): SinkRecordKind[] {
  if (text === undefined) return [...sinkRecordKinds];
  const kinds = text.split(',').map((word) => word.trim());
  const unknown = kinds.filter((word) => !kindWords[word]);
  if (unknown.length > 0 || kinds.length === 0) problems.push(`--kinds: '${text}' is not a list of flows, alerts, actions`);
  return [...new Set(kinds.filter((word) => kindWords[word]).map((word) => kindWords[word]!))];
}

const sinkOptions = {
  ...outletOptionSpecs,
  kinds: { type: 'string' },
  members: { type: 'string' },
  group: { type: 'string' },
  partitions: { type: 'string' },
} as const;

export const sinkCommand: CliCommand = {
  name: 'sink',
  summary: 'write flows, alerts and actions to OpenSearch and CloudWatch Logs, from the bus',
  usage,
  options: sinkOptions,
  async run(args) {
    const values = parseOptions('sink', usage, args, sinkOptions);
    if (!values) return 2;
    const problems: string[] = [];
    const metrics = new MetricsRegistry();
    const kinds = parseKinds(values.kinds, problems);
    const members = Number(values.members ?? 3);
    if (!Number.isInteger(members) || members < 1) problems.push(`--members: '${values.members}' is not a positive integer`);
    const { partitions, endpoints } = kafkaStageSettings('sink', values.partitions, problems);
    const outlets = outletsFromOptions(values, problems, metrics, true);
    if (outlets.outlets.length === 0 && problems.length === 0) problems.push('no outlet: give --opensearch URL or --cloudwatch CLUSTER, or set OPENSEARCH_URL');
    if (problems.length > 0) {
      console.error(optionProblems('sink', problems));
      await Promise.all(outlets.outlets.map((outlet) => outlet.close()));
      return 2;
    }
    const bus = createBus(endpoints, { kind: 'kafka', clientId: 'flowsentry-sink' });
    const worker = new SinkWorker({ bus, metrics, outlets: outlets.outlets, kinds, members, ...(values.group ? { groupId: values.group } : {}) });
    return runUntilStopped({
      name: 'sink',
      bus,
      metrics,
      start: async () => {
        await bus.ensureTopics(topicSpecs(partitions));
        await outlets.start();
        await worker.start();
      },
      started: () => `writing ${kinds.join(', ')} to ${outlets.describe()}`,
      close: () => worker.close(),
    });
  },
};
