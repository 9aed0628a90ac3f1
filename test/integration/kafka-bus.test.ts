import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import { KafkaBus, type KafkaBusOptions } from '../../runtime/bus/kafka-bus.js';
import { endpointsFromEnv } from '../../runtime/endpoints.js';
import { busContract } from '../support/bus-contract.js';
import { uniqueName } from '../support/wait.js';

const kafkaBus = (options: Partial<KafkaBusOptions> = {}) =>
  new KafkaBus({
    brokers: endpointsFromEnv().kafkaBrokers ?? [],
    clientId: 'flowsentry-contract',
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 500,
    retryBackoffMs: 50,
    logLevel: 'nothing',
    ...options,
  });

busContract({ name: 'Kafka', create: async () => kafkaBus(), partitions: 3, timeoutMs: 60_000, endOffsets: true });

// The idempotent producer is off by default; this keeps the evidence that it works when enabled.
busContract({ name: 'Kafka, idempotent producer', create: async () => kafkaBus({ idempotent: true }), partitions: 3, timeoutMs: 60_000, endOffsets: true });

describe('Runtime > bus > Kafka > topic provisioning', () => {
  it('creates topics with their partitions, compaction and retention, and leaves existing ones alone', async () => {
    const bus = kafkaBus();
    const compacted = uniqueName('inventory');
    const retained = uniqueName('flows');
    await bus.ensureTopics([
      { name: compacted, partitions: 2, compacted: true },
      { name: retained, partitions: 3, retentionMs: 3_600_000 },
    ]);
    await bus.ensureTopics([{ name: retained, partitions: 3, retentionMs: 3_600_000 }]);
    const admin = new kafkajs.Kafka({ brokers: [...(endpointsFromEnv().kafkaBrokers ?? [])], logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [compacted, retained] });
      assert.deepEqual(
        metadata.topics.map((topic) => [topic.name, topic.partitions.length]).sort(),
        [[compacted, 2], [retained, 3]].sort(),
      );
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [compacted, retained].map((name) => ({ type: kafkajs.ConfigResourceTypes.TOPIC, name, configNames: ['cleanup.policy', 'retention.ms'] })),
      });
      const config = (name: string, key: string) =>
        described.resources.find((resource) => resource.resourceName === name)?.configEntries.find((entry) => entry.configName === key)?.configValue;
      assert.equal(config(compacted, 'cleanup.policy'), 'compact');
      assert.equal(config(retained, 'cleanup.policy'), 'delete');
      assert.equal(config(retained, 'retention.ms'), '3600000');
      await admin.deleteTopics({ topics: [compacted, retained] });
    } finally {
      await admin.disconnect();
      await bus.close();
    }
  });
});
