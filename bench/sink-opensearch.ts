/**
 * `npm run bench -- sink-opensearch [flows]` (default 60 000 flows; needs OPENSEARCH_URL, e.g.
 * `eval "$(npm run -s services -- env)"` after `npm run services -- up`).
 *
 * - **Sink throughput** in documents/s: EnrichedFlow batches as the enrich stage writes them
 *   (Avro, 200 flows a message) on the in-process bus, read by the SinkWorker, turned into
 *   documents and written by the OpenSearch outlet, until every batch is acknowledged: three
 *   group members (the worker's default) over six partitions, batches of 2 000 flows (one bulk
 *   request each), at most 2 requests in flight (the outlet's default).
 * - **Baseline, same run:** a raw `_bulk` load of the same documents: the NDJSON bodies are built
 *   before the timing, and posted with the same request size and concurrency. The ratio sink /
 *   raw is what decoding, building documents, ids and per-item checking cost. Goal: ≥ 0.9.
 * - **Sink CPU per document** (the bench process's user+system time while the sink ran / docs):
 *   on a small machine OpenSearch indexes on the same cores, so this is what the ratio pays.
 *
 * Each run writes into fresh indices (same template: 1 shard, no replica, refresh every 5 s) that
 * are deleted afterwards; every run's document count is checked. The cases take turns, 3 times
 * each after a warm-up of both; the median is reported.
 */
import type { Client } from '@opensearch-project/opensearch';
import { MemoryBus } from '../runtime/bus/memory-bus.js';
import { MetricsRegistry } from '../runtime/metrics.js';
import { codecFor } from '../schemas/codec.js';
import { noFlowExtras } from '../schemas/defaults.js';
import type { EnrichedFlow } from '../schemas/types.js';
import { bulkLines } from '../sink/opensearch/bulk-writer.js';
import { flowDocument, type IndexNaming } from '../sink/opensearch/documents.js';
import { openSearchClient } from '../sink/opensearch/opensearch-client.js';
import { OpenSearchOutlet } from '../sink/opensearch/opensearch-outlet.js';
import { putIndexTemplates } from '../sink/opensearch/opensearch-setup.js';
import { SinkWorker } from '../sink/sink-worker.js';
import { median, random } from './measure.js';
import { report, withBaseline } from './report.js';

const totalFlows = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 60_000);
const REQUEST_DOCS = 2_000;
const CONCURRENCY = 2;
const MESSAGE_FLOWS = 200;
const flowBatches = codecFor('EnrichedFlow');
const templateSettings = { shards: 1, replicas: 0, refreshInterval: '5s' };
const url = process.env.OPENSEARCH_URL;
if (!url) {
  console.error('sink-opensearch: OPENSEARCH_URL is not set (npm run services -- up; eval "$(npm run -s services -- env)")');
  process.exit(2);
}

function flows(count: number): EnrichedFlow[] {
  const next = random(7);
  const start = Date.UTC(2026, 10, 27, 10);
  const namespaces = ['shop', 'payments', 'search', 'identity', 'batch'];
  return Array.from({ length: count }, (_, i) => {
    const ns = namespaces[Math.floor(next() * namespaces.length)]!;
    const app = `app${Math.floor(next() * 40)}`;
    const peer = `svc${Math.floor(next() * 40)}`;
    const denied = next() < 0.05;
    const bytes = Math.floor(next() * 100_000);
    return {
      start_time: start + i * 10,
      end_time: start + i * 10 + 10_000,
      origin: 'conntrack',
      host: `node-${i % 20}`,
      source_ip: `10.1.${Math.floor(next() * 255)}.${Math.floor(next() * 255)}`,
      source_port: 30_000 + Math.floor(next() * 30_000),
      source_type: 'wep',
      source_namespace: ns,
      source_name: `${app}-5d8f7-${i % 97}`,
      source_name_aggr: `${app}-5d8f7-*`,
      source_labels: { app, tier: 'backend', team: ns },
      source_service_account: app,
      source_node: `node-${i % 20}`,
      source_workload: `deployment/${app}`,
      source_resolution: 'inventory',
      dest_ip: `10.2.${Math.floor(next() * 255)}.${Math.floor(next() * 255)}`,
      dest_port: [80, 443, 5432, 6379, 9000][i % 5]!,
      dest_type: 'wep',
      dest_namespace: namespaces[(i * 7) % namespaces.length]!,
      dest_name: `${peer}-7c9b-${i % 89}`,
      dest_name_aggr: `${peer}-7c9b-*`,
      dest_labels: { app: peer },
      dest_service_account: peer,
      dest_node: `node-${(i + 3) % 20}`,
      dest_workload: `deployment/${peer}`,
      dest_resolution: 'inventory',
      dest_service_namespace: null,
      dest_service_name: null,
      dest_service_port: null,
      dest_service_port_num: null,
      proto: 6,
      reporter: 'src',
      action: denied ? 'deny' : 'allow',
      policies: [],
      bytes_in: Math.floor(bytes / 3),
      bytes_out: bytes,
      packets_in: 10,
      packets_out: 12,
      num_flows: 1,
      num_flows_started: 1,
      num_flows_completed: 1,
      ...noFlowExtras,
    };
  });
}

async function count(client: Client, prefix: string): Promise<number> {
  await client.indices.refresh({ index: `${prefix}-*` });
  return (await client.count({ index: `${prefix}-*` })).body.count as number;
}

async function cleanUp(client: Client, prefix: string): Promise<void> {
  await client.indices.delete({ index: `${prefix}-*`, ignore_unavailable: true } as never);
  for (const word of ['flows', 'alerts', 'actions']) await client.indices.deleteIndexTemplate({ name: `${prefix}-${word}` }, { ignore: [404] });
}

/** Raw `_bulk`: NDJSON bodies built beforehand, posted 2 at a time. Returns docs/s. */
async function rawBulk(client: Client, data: readonly EnrichedFlow[], run: number): Promise<number> {
  const naming: IndexNaming = { prefix: `bench-raw-${run}` };
  await putIndexTemplates(client, templateSettings, naming);
  const bodies: string[] = [];
  for (let i = 0; i < data.length; i += REQUEST_DOCS) bodies.push(data.slice(i, i + REQUEST_DOCS).map((flow) => bulkLines(flowDocument(flow, naming))).join(''));
  const started = performance.now();
  let next = 0;
  const post = async () => {
    while (next < bodies.length) {
      const response = await client.bulk({ body: bodies[next++]! as never });
      if (response.body.errors) throw new Error('raw bulk: an item failed');
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, post));
  const seconds = (performance.now() - started) / 1000;
  const landed = await count(client, naming.prefix);
  if (landed !== data.length) throw new Error(`raw bulk: ${landed} documents, expected ${data.length}`);
  await cleanUp(client, naming.prefix);
  return data.length / seconds;
}

/** The sink stage over the in-process bus. Returns docs/s. */
async function sink(client: Client, data: readonly EnrichedFlow[], run: number): Promise<number> {
  const naming: IndexNaming = { prefix: `bench-sink-${run}` };
  const bus = new MemoryBus({ maxLagPerPartition: Number.MAX_SAFE_INTEGER });
  const topic = 'bench.flows.enriched';
  await bus.ensureTopics([{ name: topic, partitions: 6 }]);
  const messages = [];
  for (let i = 0; i < data.length; i += MESSAGE_FLOWS) {
    // One message per slice (as one source workload's batch would be), whatever the workloads.
    messages.push({ key: String(i), value: flowBatches.encodeBatch(data.slice(i, i + MESSAGE_FLOWS)) });
  }
  const producer = bus.producer();
  await producer.send(topic, messages);
  const outlet = new OpenSearchOutlet({ client, naming, templateSettings, maxRequestDocs: REQUEST_DOCS, concurrency: CONCURRENCY });
  await outlet.start();
  const metrics = new MetricsRegistry();
  const worker = new SinkWorker({ bus, metrics, outlets: [outlet], kinds: ['flow'], groupId: 'bench-sink', topics: { flowsEnriched: topic }, maxBatchMessages: REQUEST_DOCS / MESSAGE_FLOWS });
  const written = metrics.counter('flowsentry_sink_records_total', '');
  const cpu = process.cpuUsage();
  const started = performance.now();
  await worker.start();
  while ((written.get({ outlet: 'opensearch', kind: 'flow' }) ?? 0) < data.length) await new Promise((resolveWait) => setTimeout(resolveWait, 2));
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  cpuPerDoc.push((used.user + used.system) / data.length);
  await worker.close();
  await bus.close();
  const landed = await count(client, naming.prefix);
  if (landed !== data.length) throw new Error(`sink: ${landed} documents, expected ${data.length}`);
  await cleanUp(client, naming.prefix);
  return data.length / seconds;
}

const cpuPerDoc: number[] = [];
const client = openSearchClient({ url, requestTimeoutMs: 120_000 });
const data = flows(totalFlows);
await rawBulk(client, data.slice(0, 10_000), 0);
await sink(client, data.slice(0, 10_000), 0);
const raw: number[] = [];
const sunk: number[] = [];
for (let run = 1; run <= 3; run++) {
  raw.push(await rawBulk(client, data, run));
  sunk.push(await sink(client, data, run));
  console.error(`run ${run}: raw ${Math.round(raw.at(-1)!)} docs/s, sink ${Math.round(sunk.at(-1)!)} docs/s, sink CPU ${cpuPerDoc.at(-1)!.toFixed(1)} µs/doc`);
}
await client.close();
report('sink-opensearch', [withBaseline('sink throughput', median(sunk), 'docs/s', 'raw _bulk', median(raw)), { name: 'sink CPU per document', value: median(cpuPerDoc), unit: 'µs/doc' }], {
  flows: totalFlows,
  requestDocs: REQUEST_DOCS,
  concurrency: CONCURRENCY,
  messageFlows: MESSAGE_FLOWS,
});
