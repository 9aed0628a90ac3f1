/**
 * `npm run bench -- pipeline-memory`: flows per second through the whole in-process pipeline of
 * `flowsentry run` (collector → enrich → detect → respond → sink into the embedded store), on
 * the demo cluster's traffic played as fast as it goes, beside a baseline measured in the same
 * run: the same flows through the collector onto the in-process bus and decoded by one consumer,
 * with no stage in between. The ratio is what the stages cost over moving the flows at all.
 *
 *   npm run bench -- pipeline-memory [requests-per-minute]     (default 1000: about 85,000 flows)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InProcessPipeline } from '../cli/run/in-process-pipeline.js';
import { runCollector } from '../ingest/collector.js';
import { demoInventoryObjects, minuteMs } from '../ingest/demo/demo-cluster.js';
import { DemoSource } from '../ingest/demo/demo-source.js';
import { inventoryEventOf } from '../enrich/kubernetes-objects.js';
import { MemoryBus } from '../runtime/bus/memory-bus.js';
import { MetricsRegistry } from '../runtime/metrics.js';
import { topics, topicSpecs } from '../runtime/topics.js';
import { codecFor } from '../schemas/codec.js';
import type { InventoryEvent } from '../schemas/types.js';
import { EmbeddedStore } from '../sink/embedded/embedded-store.js';
import { report, withBaseline } from './report.js';

const requestsPerMinute = Number(process.argv[2] ?? 1_000);
const minutes = 20;
const start = Math.floor(Date.now() / minuteMs) * minuteMs - minutes * minuteMs;
const source = () => new DemoSource({ start, attackMinute: 13, requestsPerMinute, fastMinutes: minutes, msPerMinute: 0, minutes });

async function busOnly(): Promise<{ flows: number; seconds: number }> {
  const bus = new MemoryBus();
  await bus.ensureTopics(topicSpecs(2));
  const codec = codecFor('RawFlow');
  let decoded = 0;
  const consumer = bus.consumer({ groupId: 'bench', topics: [topics.flowsRaw] });
  await consumer.start(async (batch) => {
    for (const message of batch.messages) decoded += codec.decodeAll(message.value).length;
  });
  const metrics = new MetricsRegistry();
  const began = performance.now();
  const producer = bus.producer();
  await runCollector({ source: source(), producer, node: 'bench', flowsTopic: topics.flowsRaw, deadLetterTopic: topics.deadLetters, metrics });
  const flows = metrics.counter('flowsentry_ingest_flows_total', '').get({ source: 'demo' });
  while (decoded < flows) await new Promise((wait) => setTimeout(wait, 5));
  const seconds = (performance.now() - began) / 1000;
  await consumer.close();
  await producer.close();
  await bus.close();
  return { flows, seconds };
}

async function wholePipeline(): Promise<{ flows: number; seconds: number; stored: number; alerts: number; peakRssMb: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'flowsentry-bench-'));
  const store = EmbeddedStore.open(join(dir, 'store.db'), { synchronous: 'normal' });
  const observedAt = start - 10 * minuteMs;
  const inventory = demoInventoryObjects(observedAt)
    .map((object) => inventoryEventOf('ADDED', object, observedAt))
    .filter((event): event is InventoryEvent => event !== undefined);
  const metrics = new MetricsRegistry();
  let alerts = 0;
  const pipeline = new InProcessPipeline({
    source: source(),
    node: 'bench',
    inventory,
    enrich: { levels: { allowed: 1, denied: 1 } },
    detect: { learnMs: 12 * minuteMs },
    outlets: [store.outlet()],
    metrics,
    onAlert: () => alerts++,
  });
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  try {
    await pipeline.start();
    const began = performance.now();
    await pipeline.collect();
    await pipeline.idle({ pollMs: 5 });
    const seconds = (performance.now() - began) / 1000;
    const flows = metrics.counter('flowsentry_ingest_flows_total', '').get({ source: 'demo' });
    return { flows, seconds, stored: store.counts().flows, alerts, peakRssMb: peakRss / 2 ** 20 };
  } finally {
    clearInterval(sampler);
    await pipeline.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const baseline = await busOnly();
const whole = await wholePipeline();
const rate = (run: { flows: number; seconds: number }) => run.flows / run.seconds;
report(
  'pipeline-memory',
  [
    withBaseline('in-process pipeline', rate(whole), 'flows/s', 'collector → bus only', rate(baseline)),
    { name: 'flows through the pipeline', value: whole.flows, unit: 'flows' },
    { name: 'enriched records stored', value: whole.stored, unit: 'records' },
    { name: 'alert revisions', value: whole.alerts, unit: 'alerts' },
    { name: 'peak resident memory', value: whole.peakRssMb, unit: 'MiB' },
  ],
  { requestsPerMinute, minutes },
);
