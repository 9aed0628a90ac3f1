import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EnrichWorker } from '../../enrich/enrich-worker.js';
import { inventoryEventOf } from '../../enrich/kubernetes-objects.js';
import type { IncomingBatch } from '../../runtime/bus/bus.js';
import { KafkaBus } from '../../runtime/bus/kafka-bus.js';
import { endpointsFromEnv } from '../../runtime/endpoints.js';
import { MetricsRegistry } from '../../runtime/metrics.js';
import { codecFor } from '../../schemas/codec.js';
import { toJson } from '../../schemas/json.js';
import type { EnrichedFlow, InventoryEvent, RawFlow } from '../../schemas/types.js';
import { addressOnlyFlow } from '../support/flows.js';
import { pod } from '../support/kubernetes-objects.js';
import { uniqueName, waitFor } from '../support/wait.js';

const T0 = Date.parse('2026-11-27T12:00:00Z');
const s = (seconds: number) => T0 + seconds * 1000;
const rawFlows = codecFor('RawFlow');
const enrichedFlows = codecFor('EnrichedFlow');
const inventoryEvents = codecFor('InventoryEvent');

const kafkaBus = () =>
  new KafkaBus({ brokers: endpointsFromEnv().kafkaBrokers ?? [], clientId: 'flowsentry-enrich-test', sessionTimeoutMs: 10_000, heartbeatIntervalMs: 500, retryBackoffMs: 50, logLevel: 'nothing' });

const flow = (host: string, source: string, dest: string, destPort: number, at: number, sourcePort: number): RawFlow =>
  addressOnlyFlow({ host, start_time: at, source_ip: source, source_port: sourcePort, dest_ip: dest, dest_port: destPort, bytes_out: sourcePort, packets_out: 1 });

/** 40 pods in 8 namespaces; and 10.9.0.5, held by payments/api until 60 s, then 20 s later by attacker/shell. */
function inventory(): InventoryEvent[] {
  const events: InventoryEvent[] = [];
  for (let i = 0; i < 40; i++) {
    const object = pod({ name: `app-${i}-5d8b7c9f4-abcde`, namespace: `ns-${i % 8}`, ip: `10.9.1.${i}`, labels: { app: `app-${i}`, 'pod-template-hash': '5d8b7c9f4' }, owner: { kind: 'ReplicaSet', name: `app-${i}-5d8b7c9f4` } });
    events.push(inventoryEventOf('ADDED', object, s(-600))!);
  }
  const api = pod({ name: 'api', namespace: 'payments', ip: '10.9.0.5' });
  const shell = pod({ name: 'shell', namespace: 'attacker', ip: '10.9.0.5' });
  events.push(inventoryEventOf('ADDED', api, s(0))!, inventoryEventOf('DELETED', api, s(60))!, inventoryEventOf('ADDED', shell, s(80))!);
  return events;
}

/** Flows from the reused address: api's (5 s, 20 s, 45 s), nobody's (65 s), shell's (90 s). */
const reusedAt = [5, 20, 45, 65, 90].map(s);

/** 60 messages, one per node interval, of 21 flows each. */
function rawMessages(): { key: string; value: Buffer }[] {
  const messages: { key: string; value: Buffer }[] = [];
  for (let m = 0; m < 60; m++) {
    const host = `node-${m % 12}`;
    const at = s(10 * Math.floor(m / 12) + 20);
    const flows = Array.from({ length: 20 }, (_, i) => flow(host, `10.9.1.${(m + i) % 40}`, `10.9.1.${(m * 7 + i) % 40}`, 8080 + (i % 3), at, 30_000 + m * 100 + i));
    flows.push(flow(host, '10.9.0.5', '10.9.1.1', 22, reusedAt[Math.floor(m / 12)]!, 40_000 + m));
    messages.push({ key: host, value: rawFlows.encodeBatch(flows) });
  }
  return messages;
}

async function readAll(bus: KafkaBus, topic: string, until: (records: EnrichedFlow[]) => boolean): Promise<EnrichedFlow[]> {
  const records: EnrichedFlow[] = [];
  const consumer = bus.consumer({ groupId: uniqueName('enrich-read'), topics: [topic] });
  await consumer.start(async (batch: IncomingBatch) => {
    for (const message of batch.messages) records.push(...enrichedFlows.decodeAll(message.value));
  });
  try {
    await waitFor(() => until(records), { timeoutMs: 90_000, description: `enriched records on ${topic}` });
    return records;
  } finally {
    await consumer.close();
  }
}

describe('Enrich > on Kafka', () => {
  let bus: KafkaBus;
  const names = {
    flowsRaw: uniqueName('flows-raw'),
    inventory: uniqueName('inventory'),
    deadLetters: uniqueName('deadletters'),
    one: uniqueName('enriched-one'),
    two: uniqueName('enriched-two'),
  };
  const workers: EnrichWorker[] = [];
  const worker = (flowsEnriched: string, groupId: string, graceMs = 500, flowsRaw = names.flowsRaw) => {
    const created = new EnrichWorker({
      bus,
      metrics: new MetricsRegistry(),
      groupId,
      graceMs,
      levels: { allowed: 0, denied: 0 },
      clusterCidrs: ['10.9.0.0/16'],
      topics: { flowsRaw, inventory: names.inventory, flowsEnriched, deadLetters: names.deadLetters },
    });
    workers.push(created);
    return created;
  };

  before(async () => {
    bus = kafkaBus();
    await bus.ensureTopics([
      { name: names.flowsRaw, partitions: 6 },
      { name: names.inventory, partitions: 6, compacted: true },
      { name: names.deadLetters, partitions: 1 },
      { name: names.one, partitions: 6 },
      { name: names.two, partitions: 6 },
    ]);
    const producer = bus.producer();
    await producer.send(names.inventory, inventory().map((event) => ({ key: event.uid, value: inventoryEvents.encode(event) })));
    await producer.close();
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await bus.close();
  });

  it('two workers of one group over 6 partitions produce the same records as one worker', async () => {
    const single = worker(names.one, uniqueName('enrich-one'));
    const pairGroup = uniqueName('enrich-two');
    const pair = [worker(names.two, pairGroup), worker(names.two, pairGroup)];
    await Promise.all([single.start(), ...pair.map((member) => member.start())]);
    for (const member of [single, ...pair]) assert.equal(member.core.table.stats.objects, 42, 'the inventory was read to its end before any flow');

    const producer = bus.producer();
    await producer.send(names.flowsRaw, rawMessages());
    await producer.close();
    const expected = 60 * 21;
    const distinct = (records: EnrichedFlow[]) => new Set(records.map((record) => JSON.stringify(toJson('EnrichedFlow', record))));
    const fromOne = distinct(await readAll(bus, names.one, (records) => distinct(records).size >= expected));
    const fromTwo = distinct(await readAll(bus, names.two, (records) => distinct(records).size >= expected));
    assert.equal(fromOne.size, expected);
    assert.deepEqual([...fromTwo].sort(), [...fromOne].sort());

    const records = [...fromOne].map((text) => JSON.parse(text) as EnrichedFlow);
    const reused = records.filter((record) => record.source_ip === '10.9.0.5');
    const owners = new Map(reused.map((record) => [record.start_time, `${record.source_namespace}/${record.source_name}`]));
    assert.deepEqual(
      reusedAt.map((at) => owners.get(at)),
      ['payments/api', 'payments/api', 'payments/api', 'null/null', 'attacker/shell'],
      'who held 10.9.0.5 at each flow: api, nobody in the 20 s gap, then shell',
    );
    assert.ok(records.filter((record) => record.source_ip?.startsWith('10.9.1.')).every((record) => record.source_resolution === 'inventory' && record.source_workload?.startsWith('deployment/app-')));
  });

  it('holds a fresh flow for the grace: a pod shown a second later, and an address handed over just before, both count', async () => {
    const [input, output] = [uniqueName('flows-raw-late'), uniqueName('enriched-late')];
    await bus.ensureTopics([{ name: input, partitions: 1 }, { name: output, partitions: 1 }]);
    const now = Date.now();
    const old = pod({ name: 'old', namespace: 'payments', ip: '10.9.8.8' });
    const producer = bus.producer();
    const oldAdded = inventoryEventOf('ADDED', old, now - 600_000)!;
    await producer.send(names.inventory, [{ key: oldAdded.uid, value: inventoryEvents.encode(oldAdded) }]);
    const late = worker(output, uniqueName('enrich-late'), 3_000, input);
    await late.start();
    // Two flows that ended just now: one from an address whose pod the inventory shows a second
    // later; one from an address 'old' gave up 2 s before the flow and 'new' took 1.5 s before it,
    // both changes published after the flow.
    const start = now - 10_000;
    await producer.send(input, [
      {
        key: 'node-late',
        value: rawFlows.encodeBatch([flow('node-late', '10.9.7.7', '10.9.1.1', 8080, start, 50_000), { ...flow('node-late', '10.9.8.8', '10.9.1.1', 8080, now - 1_000, 50_001), end_time: now }]),
      },
    ]);
    await new Promise((resolveTimer) => setTimeout(resolveTimer, 1_000));
    const changes = [
      inventoryEventOf('ADDED', pod({ name: 'newcomer', namespace: 'batch', ip: '10.9.7.7' }), now + 1_000)!,
      inventoryEventOf('DELETED', old, now - 2_000)!,
      inventoryEventOf('ADDED', pod({ name: 'new', namespace: 'attacker', ip: '10.9.8.8' }), now - 1_500)!,
    ];
    await producer.send(names.inventory, changes.map((event) => ({ key: event.uid, value: inventoryEvents.encode(event) })));
    await producer.close();
    const records = await readAll(bus, output, (found) => found.length >= 2);
    const bySource = new Map(records.map((record) => [record.source_ip, `${record.source_namespace}/${record.source_name}/${record.source_resolution}`]));
    assert.equal(bySource.get('10.9.7.7'), 'batch/newcomer/inventory');
    assert.equal(bySource.get('10.9.8.8'), 'attacker/new/inventory', 'never the pod that had already given the address up');
  });
});
