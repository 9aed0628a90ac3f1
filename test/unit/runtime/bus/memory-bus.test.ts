import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBus } from '../../../../runtime/bus/memory-bus.js';
import { murmur2, partitionForKey } from '../../../../runtime/bus/partitioner.js';
import { busContract } from '../../../support/bus-contract.js';
import { waitFor } from '../../../support/wait.js';

busContract({ name: 'in-process', create: async () => new MemoryBus({ retryBackoffMs: 10 }), partitions: 3, timeoutMs: 5_000, endOffsets: true });

describe('Runtime > bus > in-process', () => {
  it('makes a producer wait while a group lags too far behind, and lets it go once the group catches up', async () => {
    const bus = new MemoryBus({ maxLagPerPartition: 5 });
    await bus.ensureTopics([{ name: 't', partitions: 1 }]);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolveGate) => (release = resolveGate));
    let delivered = 0;
    const consumer = bus.consumer({ groupId: 'g', topics: ['t'], maxBatchMessages: 100 });
    await consumer.start(async (batch) => {
      await gate;
      delivered += batch.messages.length;
    });
    const producer = bus.producer();
    let sent = false;
    const sending = producer
      .send('t', Array.from({ length: 20 }, (_, i) => ({ key: 'k', value: Buffer.from(String(i)) })))
      .then(() => (sent = true));
    await new Promise((resolveTimer) => setImmediate(resolveTimer));
    assert.equal(sent, false, 'the producer waits on the lagging group');
    release();
    await sending;
    await waitFor(() => delivered === 20);
    await bus.close();
  });

  it('refuses a topic it does not have, naming it', async () => {
    const bus = new MemoryBus();
    await assert.rejects(bus.producer().send('nope', []), /topic 'nope' does not exist/);
  });

  it('partitions keys as Kafka does (murmur2), so a key keeps its partition number across transports', () => {
    // Reference values printed by Kafka 4.4's org.apache.kafka.common.utils.Utils.murmur2 (Java).
    const reference: Array<[string, number, number]> = [
      ['node-1', -1972720102, 10],
      ['ip-10-0-3-7.ec2.internal', 1898863139, 11],
      ['a', -1563381124, 4],
      ['abc', 479470107, 3],
      ['payments/frontend-7d9f8c-*', 1702697062, 10],
      ['', 275646681, 9],
    ];
    for (const [key, hash, partitionOf12] of reference) {
      assert.equal(murmur2(Buffer.from(key)), hash, key);
      assert.equal(partitionForKey(key, 12), partitionOf12, key);
    }
    const spread = new Set(Array.from({ length: 100 }, (_, i) => partitionForKey(`pod-${i}`, 6)));
    assert.equal(spread.size, 6);
  });
});

describe('Runtime > bus > in-process > two producers held back at once', () => {
  it('wait without waking each other, so timers still run and both finish once the readers catch up', async () => {
    const bus = new MemoryBus({ retainedMessagesPerPartition: 100, maxLagPerPartition: 2 });
    await bus.ensureTopics([
      { name: 'a', partitions: 1 },
      { name: 'b', partitions: 1 },
    ]);
    // Slow readers: each batch takes a timer, which never fires if the producers spin in microtasks.
    let handled = 0;
    const readers = ['a', 'b'].map((topic) => bus.consumer({ groupId: `slow-${topic}`, topics: [topic], maxBatchMessages: 1 }));
    for (const reader of readers) {
      await reader.start(async (batch) => {
        await new Promise((resolveLater) => setTimeout(resolveLater, 5));
        handled += batch.messages.length;
      });
    }
    const message = (i: number) => ({ key: 'k', value: Buffer.from(String(i)) });
    const sends = ['a', 'b'].map((topic) => bus.producer().send(topic, Array.from({ length: 10 }, (_, i) => message(i))));
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    await Promise.all(sends);
    await waitFor(() => (handled === 20 ? true : undefined), { timeoutMs: 10_000, description: 'every message handled' });
    clearInterval(ticker);
    assert.ok(ticks > 0, 'a timer ran while the producers waited');
    for (const reader of readers) await reader.close();
    await bus.close();
  });
});
