import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DetectWorker } from '../../detect/detect-worker.js';
import { enrichedMessages } from '../../enrich/enrich-worker.js';
import type { OutgoingMessage } from '../../runtime/bus/bus.js';
import { KafkaBus } from '../../runtime/bus/kafka-bus.js';
import { endpointsFromEnv } from '../../runtime/endpoints.js';
import { MetricsRegistry } from '../../runtime/metrics.js';
import { codecFor } from '../../schemas/codec.js';
import { toJson } from '../../schemas/json.js';
import type { Alert, EnrichedFlow } from '../../schemas/types.js';
import { deploymentPod, enrichedFlow } from '../support/enriched-flows.js';
import { uniqueName, waitFor } from '../support/wait.js';
import { afterLearning, minute, T0, testOptions } from '../unit/detect/support.js';

const alertCodec = codecFor('Alert');
const kafkaBus = () =>
  new KafkaBus({ brokers: endpointsFromEnv().kafkaBrokers ?? [], clientId: 'flowsentry-detect-test', sessionTimeoutMs: 10_000, heartbeatIntervalMs: 500, retryBackoffMs: 50, logLevel: 'nothing' });

const frontend = deploymentPod('stars', 'frontend', '10.0.1.10');
const backend = deploymentPod('stars', 'backend', '10.0.1.20');
const client = deploymentPod('client', 'client', '10.0.2.10');
const db = deploymentPod('data', 'postgres', '10.0.3.30');

/** Per minute: normal traffic; then a scan of the backend by the frontend, and a new SSH session. */
function minutes(): EnrichedFlow[][] {
  const result: EnrichedFlow[][] = [];
  for (let start = T0; start < afterLearning + 15 * minute; start += minute) {
    const flows = [
      enrichedFlow(client, frontend, { at: start + 1_000, port: 80 }),
      enrichedFlow(frontend, backend, { at: start + 2_000, port: 6379 }),
      enrichedFlow(backend, db, { at: start + 3_000, port: 5432 }),
    ];
    if (start === afterLearning + 3 * minute) {
      flows.push(...Array.from({ length: 60 }, (_, index) => enrichedFlow(frontend, backend, { at: start + 4_000 + index * 200, port: 1000 + index, action: 'deny', packets: 1 })));
    }
    if (start === afterLearning + 5 * minute) flows.push(enrichedFlow(client, db, { at: start + 20_000, port: 22 }));
    result.push(flows.sort((a, b) => a.end_time - b.end_time));
  }
  return result;
}

/**
 * One message per source workload per minute, keyed as the enrich stage keys them; the messages
 * of the scan minute are written twice, as an upstream retry would.
 */
const messagesOf = (topic: string, perMinute: EnrichedFlow[][]): OutgoingMessage[] =>
  perMinute.flatMap((flows) => {
    const messages = enrichedMessages(topic, flows);
    return flows.some((flow) => flow.action === 'deny') ? [...messages, ...messages] : messages;
  });

describe('Detect > on Kafka', () => {
  let bus: KafkaBus;
  const workers: DetectWorker[] = [];
  before(async () => {
    bus = kafkaBus();
  });
  after(async () => {
    await Promise.all(workers.map((worker) => worker.close()));
    await bus.close();
  });

  /** Topics of one run, and a worker factory over them that counts what it handled and sent. */
  async function run(label: string) {
    const names = { flowsEnriched: uniqueName(`enriched-${label}`), alerts: uniqueName(`alerts-${label}`), detectState: uniqueName(`state-${label}`), deadLetters: uniqueName(`dl-${label}`) };
    await bus.ensureTopics([
      { name: names.flowsEnriched, partitions: 3 },
      { name: names.alerts, partitions: 3 },
      { name: names.detectState, partitions: 3, compacted: true },
      { name: names.deadLetters, partitions: 1 },
    ]);
    const metrics = new MetricsRegistry();
    const sent: Alert[] = [];
    const groupId = uniqueName(`detect-${label}`);
    const start = async () => {
      const worker = new DetectWorker({ ...testOptions, bus, metrics, groupId, topics: names, onAlerts: (alerts) => sent.push(...alerts) });
      workers.push(worker);
      await worker.start();
      return worker;
    };
    const handled = () => metrics.counter('flowsentry_stage_records_total', '').get({ stage: 'detect', outcome: 'ok' }) + metrics.counter('flowsentry_stage_records_total', '').get({ stage: 'detect', outcome: 'dead-letter' });
    return { names, metrics, sent, start, handled };
  }

  async function produce(topic: string, messages: readonly OutgoingMessage[]) {
    const producer = bus.producer();
    await producer.send(topic, messages);
    await producer.close();
  }

  /** The alerts on a topic, each message once: a reader's own redelivery (a rebalance of its group) is not a duplicate the worker wrote. */
  async function readAlerts(topic: string, count: number): Promise<Alert[]> {
    const byPosition = new Map<string, Alert[]>();
    const read = () => [...byPosition.values()].flat();
    const consumer = bus.consumer({ groupId: uniqueName('alerts-read'), topics: [topic] });
    await consumer.start(async (batch) => {
      for (const message of batch.messages) byPosition.set(`${message.partition}:${message.offset}`, alertCodec.decodeAll(message.value));
    });
    try {
      await waitFor(() => read().length >= count, { timeoutMs: 60_000, description: `${count} alerts on ${topic}` });
      return read();
    } finally {
      await consumer.close();
    }
  }

  const canonical = (alerts: readonly Alert[]) => alerts.map((alert) => JSON.stringify(toJson('Alert', alert))).sort();

  it('a worker replaced mid-scan by a new one restores every partition from the changelog: the same alerts, none twice', async () => {
    const perMinute = minutes();
    const scanMinute = perMinute.findIndex((flows) => flows.some((flow) => flow.action === 'deny'));

    // Reference: one worker over everything.
    const whole = await run('whole');
    const all = messagesOf(whole.names.flowsEnriched, perMinute);
    const garbage = { key: 'stars/deployment/frontend', value: Buffer.from('not an avro message') };
    await produce(whole.names.flowsEnriched, [...all, garbage]);
    const reference = await whole.start();
    await waitFor(() => whole.handled() >= all.length + 1, { timeoutMs: 60_000, description: 'the reference worker handled every message' });
    await reference.close();
    assert.equal(whole.metrics.counter('flowsentry_dead_letters_total', '').get({ stage: 'detect', reason: 'SCHEMA_BAD_MAGIC' }), 1, 'the garbage message was dead-lettered');
    const expected = await readAlerts(whole.names.alerts, whole.sent.length);
    assert.deepEqual(canonical(expected), canonical(whole.sent));
    assert.ok(whole.metrics.counter('flowsentry_detect_duplicate_messages_total', '').get() >= 3, 'the scan minute written twice was dropped the second time');
    const denied = expected.filter((alert) => alert.detector === 'denied_spike').at(-1);
    assert.equal(denied?.evidence?.denied_flows, '60', 'each refused probe counted once');
    assert.deepEqual(
      [...new Set(expected.filter((alert) => alert.revision === 0).map((alert) => `${alert.detector} ${alert.source_namespace}/${alert.source_name}`))].sort(),
      // A refused scan is also a spike of denied flows.
      ['denied_spike stars/frontend-7d9f8c6b5-x1', 'lateral_movement client/client-7d9f8c6b5-x1', 'port_scan stars/frontend-7d9f8c6b5-x1'],
    );

    // The same input, with the first worker stopped in the middle of the scan and a second one taking over.
    const split = await run('split');
    const firstPart = messagesOf(split.names.flowsEnriched, perMinute.slice(0, scanMinute + 1));
    const secondPart = messagesOf(split.names.flowsEnriched, perMinute.slice(scanMinute + 1));
    await produce(split.names.flowsEnriched, [...firstPart, garbage]);
    const first = await split.start();
    await waitFor(() => split.handled() >= firstPart.length + 1, { timeoutMs: 60_000, description: 'the first worker handled its part' });
    await first.close();
    const restores = split.metrics.counter('flowsentry_detect_restores_total', '');
    const restoredBy = () => [0, 1, 2].reduce((sum, partition) => sum + restores.get({ topic: split.names.flowsEnriched, partition: String(partition) }), 0);
    const restoredByFirst = restoredBy();
    await produce(split.names.flowsEnriched, secondPart);
    await split.start();
    await waitFor(() => split.sent.length >= whole.sent.length || undefined, { timeoutMs: 60_000, description: `the second worker's alerts (${whole.sent.length} in all)` });
    assert.ok(restoredBy() > restoredByFirst, 'the second worker restored the partitions it took over from the changelog');
    const replaced = await readAlerts(split.names.alerts, split.sent.length);
    assert.deepEqual(canonical(replaced), canonical(expected));
  });
});
