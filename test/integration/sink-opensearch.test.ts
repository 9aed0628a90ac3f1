import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@opensearch-project/opensearch';
import { enrichedMessages } from '../../enrich/enrich-worker.js';
import { KafkaBus } from '../../runtime/bus/kafka-bus.js';
import { endpointsFromEnv } from '../../runtime/endpoints.js';
import { MetricsRegistry } from '../../runtime/metrics.js';
import { codecFor } from '../../schemas/codec.js';
import type { Alert, DeadLetter, EnrichedFlow, ResponseAction } from '../../schemas/types.js';
import { flowDocument, indexPatternOf, type IndexNaming } from '../../sink/opensearch/documents.js';
import { openSearchClient } from '../../sink/opensearch/opensearch-client.js';
import { OpenSearchOutlet } from '../../sink/opensearch/opensearch-outlet.js';
import { deleteExpiredIndices } from '../../sink/opensearch/opensearch-setup.js';
import type { SinkItem } from '../../sink/outlet.js';
import { SinkWorker } from '../../sink/sink-worker.js';
import { deploymentPod, enrichedFlow, publicAddress } from '../support/enriched-flows.js';
import { FaultProxy, pass } from '../support/fault-proxy.js';
import { TcpOutage } from '../support/tcp-outage.js';
import { requiredEnv, uniqueName, waitFor } from '../support/wait.js';

const T = Date.UTC(2026, 10, 20, 10, 0, 0);
const day = 24 * 3600_000;

/** `count` distinct flows from one pod to a public address, a second apart. */
function sampleFlows(count: number, start = T): EnrichedFlow[] {
  const pod = deploymentPod('shop', 'frontend', '10.0.1.5');
  return Array.from({ length: count }, (_, i) => enrichedFlow(pod, publicAddress('203.0.113.9'), { at: start + i * 1000, port: 443, bytesOut: 100 + i }));
}

const flowItems = (flows: readonly EnrichedFlow[]): SinkItem[] => flows.map((record) => ({ record: { kind: 'flow', record } }));

const alertOf = (revision: number, severity: Alert['severity']): Alert => ({
  alert_id: `port_scan:00ff:${T}`,
  fingerprint: 'port_scan:00ff',
  detector: 'port_scan',
  severity,
  start_time: T,
  end_time: T + 60_000 * (revision + 1),
  revision,
  status: 'open',
  source_ip: '10.0.1.5',
  source_namespace: 'shop',
  summary: `scan revision ${revision}`,
  count: 10 * (revision + 1),
});

const action: ResponseAction = {
  action_id: 'quarantine-1',
  alert_id: `port_scan:00ff:${T}`,
  kind: 'quarantine',
  target: { kind: 'Pod', namespace: 'shop', name: 'frontend-7d9f8c6b5-x1' },
  dry_run: true,
  status: 'skipped',
  reason: 'dry run',
  requested_at: T + 1000,
};

async function countOf(client: Client, index: string): Promise<number> {
  if (!index.includes('*') && !(await client.indices.exists({ index })).body) return 0;
  await client.indices.refresh({ index });
  const response = await client.count({ index });
  return (response.body as { count: number }).count;
}

describe('Sink > OpenSearch', () => {
  const client = openSearchClient({ url: requiredEnv('OPENSEARCH_URL') });
  const naming: IndexNaming = { prefix: uniqueName('fs-sink') };
  const flows = () => `${naming.prefix}-*`;
  let outlet: OpenSearchOutlet;

  before(async () => {
    outlet = new OpenSearchOutlet({ client, naming, templateSettings: { shards: 1, replicas: 0, refreshInterval: '1s' }, backoff: { baseDelayMs: 50, maxDelayMs: 500 } });
    await outlet.start();
  });

  after(async () => {
    await client.indices.delete({ index: flows(), ignore_unavailable: true } as never);
    for (const word of ['flows', 'alerts', 'actions']) await client.indices.deleteIndexTemplate({ name: `${naming.prefix}-${word}` }, { ignore: [404] });
    await client.close();
  });

  it('puts templates whose explicit mappings every new index gets: ip, keyword, date, long', async () => {
    assert.equal(outlet.retentionMode, 'deletion-job', 'the test node has no ISM plugin');
    const [flow] = sampleFlows(1);
    assert.deepEqual(await outlet.write(flowItems([flow!])), []);
    const index = flowDocument(flow!, naming).index;
    const response = await client.indices.getMapping({ index });
    const properties = (response.body as Record<string, { mappings: { properties: Record<string, { type?: string }> } }>)[index]!.mappings.properties;
    assert.deepEqual(
      ['source_ip', 'dest_ip', 'source_namespace', 'source_label', 'start_time', '@timestamp', 'bytes_out', 'dest_port'].map((field) => properties[field]?.type),
      ['ip', 'ip', 'keyword', 'keyword', 'date', 'date', 'long', 'integer'],
    );
    await client.indices.refresh({ index });
    const found = await client.search({ index, body: { query: { bool: { filter: [{ term: { source_ip: '10.0.0.0/16' } }, { term: { source_label: 'app=frontend' } }] } } } });
    assert.equal((found.body.hits.total as { value: number }).value, 1);
  });

  it('leaves the same document count when the same batch is written twice', async () => {
    const batch = sampleFlows(300, T + day);
    const index = flowDocument(batch[0]!, naming).index;
    const before = await countOf(client, index);
    assert.deepEqual(await outlet.write(flowItems(batch)), []);
    const once = await countOf(client, index);
    assert.deepEqual(await outlet.write(flowItems(batch)), []);
    // The same records decoded from Avro again, as a re-produced message would be.
    const again = batch.map((flow) => codecFor('EnrichedFlow').decode(codecFor('EnrichedFlow').encode(flow)));
    assert.deepEqual(await outlet.write(flowItems(again)), []);
    assert.equal(once - before, 300);
    assert.equal(await countOf(client, index), once);
  });

  it('refuses a poison document with the mapping error while its batch-mates land', async () => {
    const batch = sampleFlows(20, T + 2 * day);
    const poison: EnrichedFlow = { ...batch[7]!, source_ip: 'not-an-address' };
    batch[7] = poison;
    const rejections = await outlet.write(flowItems(batch));
    assert.equal(rejections.length, 1);
    assert.equal(rejections[0]!.item.record.record, poison);
    assert.equal(rejections[0]!.reason, 'OPENSEARCH_MAPPER_PARSING_EXCEPTION');
    assert.match(rejections[0]!.message, /source_ip/);
    assert.equal(await countOf(client, flowDocument(batch[0]!, naming).index), 19);
  });

  it('keeps the newest revision of an alert when an older one arrives late', async () => {
    const items = (revisions: readonly [number, Alert['severity']][]): SinkItem[] => revisions.map(([revision, severity]) => ({ record: { kind: 'alert', record: alertOf(revision, severity) } }));
    assert.deepEqual(await outlet.write(items([[0, 'medium'], [2, 'critical']])), []);
    assert.deepEqual(await outlet.write(items([[1, 'high']])), [], 'a late older revision counts as written');
    assert.deepEqual(await outlet.write(items([[2, 'critical']])), [], 'the same revision again rewrites itself');
    await client.indices.refresh({ index: indexPatternOf('alert', naming) });
    const found = await client.search({ index: indexPatternOf('alert', naming), body: { query: { match_all: {} } } });
    const hits = found.body.hits.hits as unknown as { _source: Alert }[];
    assert.deepEqual(hits.map((hit) => [hit._source.revision, hit._source.severity]), [[2, 'critical']]);
  });

  it('retries bulk requests answered 429 by a proxy in front of OpenSearch, and loses nothing', async () => {
    let bulks = 0;
    const proxy = await FaultProxy.start(requiredEnv('OPENSEARCH_URL'), (request) =>
      request.url.includes('_bulk') && bulks++ % 2 === 0 && bulks < 12
        ? { kind: 'respond', status: 429, body: '{"error":{"type":"es_rejected_execution_exception","reason":"rejected execution"},"status":429}', headers: { 'content-type': 'application/json' } }
        : pass,
    );
    const throttled = new OpenSearchOutlet({ client: openSearchClient({ url: proxy.url }), ownsClient: true, naming, maxRequestDocs: 200, backoff: { baseDelayMs: 20, maxDelayMs: 200 } });
    try {
      const batch = sampleFlows(2000, T + 4 * day);
      assert.deepEqual(await throttled.write(flowItems(batch)), []);
      assert.ok(proxy.log.filter((entry) => entry.action === 'respond').length >= 5, 'the proxy refused requests');
      assert.equal(await countOf(client, flowDocument(batch[0]!, naming).index), 2000);
    } finally {
      await throttled.close();
      await proxy.close();
    }
  });

  it('on Kafka: waits out OpenSearch being unreachable without taking more input, then writes everything once it is back', async () => {
    const outage = await TcpOutage.start(requiredEnv('OPENSEARCH_URL'));
    const bus = new KafkaBus({ brokers: endpointsFromEnv().kafkaBrokers ?? [], logLevel: 'nothing' });
    const names = { flowsEnriched: uniqueName('sink-outage'), deadLetters: uniqueName('sink-outage-dl') };
    const patient = new OpenSearchOutlet({ client: openSearchClient({ url: outage.url }), ownsClient: true, naming, backoff: { baseDelayMs: 50, maxDelayMs: 400 } });
    const metrics = new MetricsRegistry();
    const worker = new SinkWorker({ bus, metrics, outlets: [patient], kinds: ['flow'], groupId: uniqueName('sink-outage'), topics: names, maxBatchMessages: 50 });
    try {
      await bus.ensureTopics([{ name: names.flowsEnriched, partitions: 2 }, { name: names.deadLetters, partitions: 1 }]);
      const batch = sampleFlows(1000, T + 5 * day);
      const producer = bus.producer();
      await producer.send(names.flowsEnriched, batch.map((flow, i) => enrichedMessages(names.flowsEnriched, [flow]).map((message) => ({ ...message, key: String(i) }))).flat());
      await producer.close();
      await outage.down();
      await worker.start();
      await new Promise((resolveWait) => setTimeout(resolveWait, 2000));
      assert.doesNotMatch(metrics.render(), /flowsentry_stage_records_total\{[^}]*\} [1-9]/, 'no batch was acknowledged while OpenSearch could not be reached');
      await outage.up();
      await waitFor(async () => (await countOf(client, flowDocument(batch[0]!, naming).index)) === 1000, { timeoutMs: 60_000, description: 'every flow once OpenSearch is back' });
      await worker.close();
      // At least once: a batch in flight while the group rebalanced is handled again (and lands on itself).
      assert.ok(counterValue(metrics, 'flowsentry_stage_records_total{outcome="ok",stage="sink"}') >= 1000);
    } finally {
      await outage.down();
      await bus.close();
    }
  });

  it('starts once OpenSearch can be reached: templates put after an outage', async () => {
    const outage = await TcpOutage.start(requiredEnv('OPENSEARCH_URL'));
    const later: IndexNaming = { prefix: uniqueName('fs-later') };
    const starting = new OpenSearchOutlet({ client: openSearchClient({ url: outage.url }), ownsClient: true, naming: later, backoff: { baseDelayMs: 50, maxDelayMs: 300 } });
    try {
      await outage.down();
      let started = false;
      const start = starting.start().then(() => (started = true));
      await new Promise((resolveWait) => setTimeout(resolveWait, 1000));
      assert.equal(started, false);
      await outage.up();
      await start;
      const template = await client.indices.existsIndexTemplate({ name: `${later.prefix}-flows` });
      assert.equal(template.body, true);
    } finally {
      await starting.close();
      await outage.down();
      for (const word of ['flows', 'alerts', 'actions']) await client.indices.deleteIndexTemplate({ name: `${later.prefix}-${word}` }, { ignore: [404] });
    }
  });

  it('deletes indices past their retention, read from their names, and keeps the rest', async () => {
    const now = Date.UTC(2026, 10, 27, 12);
    const names = [`${naming.prefix}-flows-2026.10.01`, `${naming.prefix}-flows-2026.11.26`, `${naming.prefix}-actions-2025.10`, `${naming.prefix}-actions-2026.11`];
    for (const index of names) await client.indices.create({ index });
    const deleted = await deleteExpiredIndices(client, now, { flow: 14, alert: 365, action: 365 }, naming);
    assert.deepEqual(deleted.sort(), [`${naming.prefix}-actions-2025.10`, `${naming.prefix}-flows-2026.10.01`]);
    const left = await client.indices.exists({ index: `${naming.prefix}-flows-2026.11.26` });
    assert.equal(left.body, true);
  });

  it('on Kafka: writes flows, alerts and actions, dead-letters the undecodable message and the refused document, and commits', async () => {
    const bus = new KafkaBus({ brokers: endpointsFromEnv().kafkaBrokers ?? [], logLevel: 'nothing' });
    const names = { flowsEnriched: uniqueName('sink-flows'), alerts: uniqueName('sink-alerts'), actions: uniqueName('sink-actions'), deadLetters: uniqueName('sink-dl') };
    const kafkaNaming: IndexNaming = { prefix: uniqueName('fs-kafka') };
    const metrics = new MetricsRegistry();
    const groupId = uniqueName('sink');
    const worker = () => {
      const kafkaOutlet = new OpenSearchOutlet({ client: openSearchClient({ url: requiredEnv('OPENSEARCH_URL') }), ownsClient: true, naming: kafkaNaming, templateSettings: { shards: 1, replicas: 0, refreshInterval: '1s' } });
      return { outlet: kafkaOutlet, worker: new SinkWorker({ bus, metrics, outlets: [kafkaOutlet], groupId, topics: names }) };
    };
    try {
      await bus.ensureTopics(Object.values(names).map((name) => ({ name, partitions: name === names.flowsEnriched ? 3 : 1 })));
      const batch = sampleFlows(500, T + 3 * day);
      const poison: EnrichedFlow = { ...batch[0]!, source_ip: 'bogus', bytes_out: 1 };
      const producer = bus.producer();
      await producer.send(names.flowsEnriched, [...enrichedMessages(names.flowsEnriched, [...batch, poison]), { key: 'x', value: Buffer.from('not avro') }]);
      await producer.send(names.alerts, [{ key: 'a', value: codecFor('Alert').encode(alertOf(0, 'high')) }]);
      await producer.send(names.actions, [{ key: 'q', value: codecFor('ResponseAction').encode(action) }]);
      await producer.close();

      const first = worker();
      await first.outlet.start();
      await first.worker.start();
      const expectedReasons = ['OPENSEARCH_MAPPER_PARSING_EXCEPTION', 'SCHEMA_BAD_MAGIC'];
      const letters = await readDeadLetters(bus, names.deadLetters, (read) => expectedReasons.every((reason) => read.some((letter) => letter.reason === reason)));
      const index = `${kafkaNaming.prefix}-*`;
      await waitFor(async () => (await countOf(client, index)) === 502, { timeoutMs: 60_000, description: '500 flows, an alert and an action' });
      await first.worker.close();
      // At least once: a batch handled again (a rebalance of the three members) writes its letters again.
      assert.deepEqual([...new Set(letters.map((letter) => `${letter.stage}/${letter.reason}`))].sort(), ['sink/OPENSEARCH_MAPPER_PARSING_EXCEPTION', 'sink/SCHEMA_BAD_MAGIC']);
      const refused = letters.find((letter) => letter.reason === 'OPENSEARCH_MAPPER_PARSING_EXCEPTION')!;
      assert.match(refused.message, /^opensearch: .*source_ip/);
      assert.equal(refused.record_type, 'EnrichedFlow');
      assert.equal(refused.source.topic, names.flowsEnriched);
      assert.deepEqual(codecFor('EnrichedFlow').decodeAll(refused.original), [codecFor('EnrichedFlow').decode(codecFor('EnrichedFlow').encode(poison))], 'the refused record alone, not its batch-mates');

      // Offsets were committed: a new member of the group finds nothing left to write.
      const second = worker();
      await second.outlet.start();
      await second.worker.start();
      await new Promise((resolveWait) => setTimeout(resolveWait, 3000));
      await second.worker.close();
      assert.equal(await countOf(client, index), 502);
      assert.ok(counterValue(metrics, 'flowsentry_sink_records_total{kind="flow",outlet="opensearch"}') >= 500);
      await client.indices.delete({ index, ignore_unavailable: true } as never);
      for (const word of ['flows', 'alerts', 'actions']) await client.indices.deleteIndexTemplate({ name: `${kafkaNaming.prefix}-${word}` }, { ignore: [404] });
    } finally {
      await bus.close();
    }
  });
});

/** A counter's value from the rendered metrics, 0 when absent. */
function counterValue(metrics: MetricsRegistry, series: string): number {
  const line = metrics
    .render()
    .split('\n')
    .find((candidate) => candidate.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/** The dead letters on a topic, each message once. */
async function readDeadLetters(bus: KafkaBus, topic: string, enough: (letters: readonly DeadLetter[]) => boolean): Promise<DeadLetter[]> {
  const byPosition = new Map<string, DeadLetter>();
  const consumer = bus.consumer({ groupId: uniqueName('dl-read'), topics: [topic] });
  await consumer.start(async (batch) => {
    for (const message of batch.messages) byPosition.set(`${message.partition}:${message.offset}`, codecFor('DeadLetter').decode(message.value));
  });
  try {
    await waitFor(() => enough([...byPosition.values()]), { timeoutMs: 60_000, description: `the dead letters expected on ${topic}` });
    return [...byPosition.values()];
  } finally {
    await consumer.close();
  }
}
