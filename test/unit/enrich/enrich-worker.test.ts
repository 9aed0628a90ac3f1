import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnrichWorker } from '../../../enrich/enrich-worker.js';
import { inventoryEventOf } from '../../../enrich/kubernetes-objects.js';
import { MemoryBus } from '../../../runtime/bus/memory-bus.js';
import { partitionForKey } from '../../../runtime/bus/partitioner.js';
import { MetricsRegistry } from '../../../runtime/metrics.js';
import { topicSpecs, topics } from '../../../runtime/topics.js';
import { codecFor } from '../../../schemas/codec.js';
import { samples } from '../../../schemas/samples.js';
import type { DeadLetter, EnrichedFlow } from '../../../schemas/types.js';
import { addressOnlyFlow } from '../../support/flows.js';
import { node, pod } from '../../support/kubernetes-objects.js';
import { waitFor } from '../../support/wait.js';

const enriched = codecFor('EnrichedFlow');
const deadLetters = codecFor('DeadLetter');

describe('Enrich > worker on the in-process bus', () => {
  it('reads the inventory first, enriches flows, skips tombstones, and dead-letters what it cannot decode while the stream goes on', async () => {
    const bus = new MemoryBus({ retryBackoffMs: 10 });
    await bus.ensureTopics(topicSpecs(2));
    const producer = bus.producer();
    const backend = inventoryEventOf('ADDED', pod({ name: 'backend-6b9c8d7f5-7qp4z', namespace: 'stars', ip: '10.0.2.31', owner: { kind: 'ReplicaSet', name: 'backend-6b9c8d7f5' }, labels: { 'pod-template-hash': '6b9c8d7f5' } }), 0)!;
    await producer.send(topics.inventory, [
      { key: backend.uid, value: codecFor('InventoryEvent').encode(backend) },
      { key: 'garbage', value: Buffer.from('not avro') },
      { key: 'removed-uid', value: Buffer.alloc(0) },
    ]);
    const metrics = new MetricsRegistry();
    const worker = new EnrichWorker({ bus, metrics, graceMs: 10 });
    await worker.start();
    assert.equal(worker.core.table.stats.objects, 1);

    const flow = { ...samples.RawFlow, source_type: null, source_namespace: null, source_name: null, source_name_aggr: null, source_labels: null, dest_type: null, dest_namespace: null, dest_name: null, dest_name_aggr: null, dest_labels: null, dest_ip: '10.0.2.31' };
    await producer.send(topics.flowsRaw, [
      { key: 'node-a', value: Buffer.from([0xc3, 0x01, 1, 2, 3]) },
      { key: 'node-a', value: codecFor('RawFlow').encodeBatch([flow]) },
    ]);
    const out: EnrichedFlow[] = [];
    const letters: DeadLetter[] = [];
    const reader = bus.consumer({ groupId: 'check', topics: [topics.flowsEnriched, topics.deadLetters] });
    await reader.start(async (batch) => {
      for (const message of batch.messages) {
        if (batch.topic === topics.deadLetters) letters.push(deadLetters.decode(message.value));
        else out.push(...enriched.decodeAll(message.value));
      }
    });
    await waitFor(() => out.length >= 1 && letters.length >= 2, { timeoutMs: 5_000, description: 'one record and two dead letters' });
    await reader.close();
    await worker.close();
    await producer.close();
    await bus.close();
    assert.equal(out[0]?.dest_workload, 'deployment/backend');
    assert.deepEqual(letters.map((letter) => [letter.stage, letter.record_type, letter.reason, letter.source.topic]).sort(), [
      ['enrich', 'InventoryEvent', 'SCHEMA_BAD_MAGIC', topics.inventory],
      ['enrich', 'RawFlow', 'SCHEMA_CORRUPT_PAYLOAD', topics.flowsRaw],
    ]);
    assert.match(metrics.render(), /flowsentry_enrich_inventory_events_total\{outcome="dead-letter"\} 1/);
    assert.match(metrics.render(), /flowsentry_enrich_inventory_events_total\{outcome="tombstone"\} 1/, 'a tombstone is no dead letter');
  });

  it('holds a fresh flow for the grace even when one inventory partition runs far ahead', async () => {
    const bus = new MemoryBus({ retryBackoffMs: 10 });
    await bus.ensureTopics(topicSpecs(2));
    const producer = bus.producer();
    const uidOn = (partition: number) => {
      for (let i = 0; ; i++) if (partitionForKey(`uid-${i}`, 2) === partition) return `uid-${i}`;
    };
    const now = Date.now();
    // A node event stamped an hour ahead (a skewed clock), on partition 0.
    const ahead = { ...inventoryEventOf('ADDED', node('node-z', '10.0.9.9'), now + 3_600_000)!, uid: uidOn(0) };
    await producer.send(topics.inventory, [{ key: ahead.uid, value: codecFor('InventoryEvent').encode(ahead) }]);
    const worker = new EnrichWorker({ bus, metrics: new MetricsRegistry(), graceMs: 2_000, levels: { allowed: 0, denied: 0 } });
    await worker.start();
    const flow = addressOnlyFlow({ start_time: now - 10_000, source_ip: '10.3.3.3', dest_ip: '1.1.1.1', dest_port: 443 });
    await producer.send(topics.flowsRaw, [{ key: 'node-a', value: codecFor('RawFlow').encodeBatch([flow]) }]);
    await new Promise((resolveTimer) => setTimeout(resolveTimer, 500));
    // The pod that sent it, shown half a second later, on partition 1.
    const late = { ...inventoryEventOf('ADDED', pod({ name: 'late', namespace: 'ops', ip: '10.3.3.3' }), now + 500)!, uid: uidOn(1) };
    await producer.send(topics.inventory, [{ key: late.uid, value: codecFor('InventoryEvent').encode(late) }]);
    const out: EnrichedFlow[] = [];
    const reader = bus.consumer({ groupId: 'check-ahead', topics: [topics.flowsEnriched] });
    await reader.start(async (batch) => {
      for (const message of batch.messages) out.push(...enriched.decodeAll(message.value));
    });
    await waitFor(() => out.length >= 1, { timeoutMs: 5_000, description: 'the enriched flow' });
    await reader.close();
    await worker.close();
    await producer.close();
    await bus.close();
    assert.deepEqual([out[0]?.source_namespace, out[0]?.source_name], ['ops', 'late']);
  });

  it('does not hold messages stamped ahead of its clock (their holds would add up)', async () => {
    const bus = new MemoryBus({ retryBackoffMs: 10 });
    await bus.ensureTopics(topicSpecs(1));
    const metrics = new MetricsRegistry();
    const worker = new EnrichWorker({ bus, metrics, graceMs: 2_000 });
    await worker.start();
    const producer = bus.producer();
    const ahead = Date.now() + 3_600_000;
    await producer.send(topics.flowsRaw, [1, 2].map((i) => ({ key: `node-${i}`, value: codecFor('RawFlow').encodeBatch([addressOnlyFlow({ start_time: ahead, source_ip: '10.3.3.3', dest_ip: '1.1.1.1', dest_port: 443 })]) })));
    await waitFor(() => /flowsentry_enrich_waits_total\{outcome="clock-ahead"\} 2/.test(metrics.render()), { timeoutMs: 5_000, description: 'two messages passed as clock-ahead' });
    await worker.close();
    await producer.close();
    await bus.close();
    assert.doesNotMatch(metrics.render(), /outcome="grace-passed"/);
  });

  it('refuses a bus that cannot tell where the inventory ends', async () => {
    const bus = new MemoryBus();
    const withoutEnds = Object.assign(Object.create(bus) as MemoryBus, { endOffsets: undefined });
    await assert.rejects(new EnrichWorker({ bus: withoutEnds, metrics: new MetricsRegistry() }).start(), /cannot tell where the inventory topic ends/);
  });
});
