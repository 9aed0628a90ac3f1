import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KafkaBus } from '../../runtime/bus/kafka-bus.js';
import { endpointsFromEnv } from '../../runtime/endpoints.js';
import { topics } from '../../runtime/topics.js';
import { codecFor } from '../../schemas/codec.js';
import type { RawFlow } from '../../schemas/types.js';
import { runCli } from '../support/cli.js';
import { uniqueName, waitFor } from '../support/wait.js';

const samplePath = new URL('../../../shared/data/calico-cloudwatch-flowlogs.txt', import.meta.url).pathname;

describe('CLI > collect > Kafka', () => {
  it('publishes the sample flow logs to flows.raw as RawFlow batches keyed by the node', async () => {
    const node = uniqueName('node');
    const result = await runCli(['collect', '--source', 'calico-file', '--file', samplePath, '--node', node, '--flows-per-message', '8']);
    assert.equal(result.code, 0, result.stderr);

    const bus = new KafkaBus({ brokers: endpointsFromEnv().kafkaBrokers ?? [], logLevel: 'nothing' });
    const flows: RawFlow[] = [];
    let messages = 0;
    const consumer = bus.consumer({ groupId: uniqueName('collect-check'), topics: [topics.flowsRaw] });
    await consumer.start(async (batch) => {
      for (const message of batch.messages) {
        if (message.key !== node) continue;
        messages += 1;
        flows.push(...codecFor('RawFlow').decodeAll(message.value));
      }
    });
    try {
      await waitFor(() => flows.length >= 21, { timeoutMs: 60_000, description: '21 flows of this node' });
      assert.equal(flows.length, 21);
      assert.equal(messages, 3, '21 flows in messages of 8');
      assert.ok(flows.every((flow) => flow.host === node && flow.origin === 'calico'));
      assert.equal(flows.filter((flow) => flow.action === 'deny').length, 3);
    } finally {
      await consumer.close();
      await bus.close();
    }
  });
});
