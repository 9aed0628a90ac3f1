/**
 * `npm run bench -- pipeline-kafka [flows] [--seconds S] [--rate R]` (defaults: 60 000 flows,
 * 40 s, 2 000 flows/s; about 2 minutes on 2 cores): the whole pipeline on the real services —
 * collectors → Kafka → enrich → detect → sink → OpenSearch. Needs KAFKA_BROKERS and
 * OPENSEARCH_URL (`npm run bench` starts the test services when they are not set).
 *
 * How it is composed. enrich, detect and sink each run as a process of their own, as they are
 * deployed (bench/support/pipeline-stage.ts builds each the way its `flowsentry` command does:
 * the CLI's option parsing and defaults, `runUntilStopped`), so each stage has its own event loop
 * and garbage collector and the cores are shared as in production. The commands themselves are
 * not used because they only use the fixed topic names every other user of the broker shares;
 * this bench uses topics, groups and indices of its own and deletes them afterwards. The
 * collectors run in this process, one per node (`runCollector`, messages keyed by node), each
 * fed by a source that parses VPC Flow Log lines with the VPC parser. Stage options: enrich and
 * sink at their command defaults (aggregation 2/1; 3 sink members; templates with 1 shard and a
 * refresh every 5 s, replicas 0 as the test OpenSearch is one node); detect with a threat feed of
 * ~108 000 entries, `--window 10s --learn 30s` (with the defaults, 60 s and an hour, no baseline
 * would be learned within a run).
 *
 * Data: bench/support/vpc-cluster.ts — 4 nodes, 99 pods, their inventory on the inventory topic
 * before enrich starts (so enrich resolves both ends of every cluster flow); ordinary traffic;
 * attacks: port scans, and calls to listed addresses. Flows end 10 s before they are handed
 * over: VPC Flow Logs reach a collector a while after the capture window closes, so enrich's
 * inventory grace (2 s after a flow's end) never holds them (conntrack flows, fresh at the
 * flush, would wait it out).
 *
 * 1. Throughput (flows/s). After a warm-up of 10 000 flows, `flows` lines are handed to the
 *    collectors at once (1 000-line batches, as the file source reads), event times spread at
 *    `rate`. The clock runs from the hand-over until the sink's consumer group has committed
 *    every enriched record and alert (collector → OpenSearch), and until detect's has (collector
 *    → alerts topic). A stage commits an offset only once its writes were acknowledged, so
 *    committed = done; offsets are read every 100 ms with Kafka's admin API. The OpenSearch
 *    document count is checked against the records the sink acknowledged, and enrich's flow count
 *    against the flows collected. Baseline, same run, before the stages start: the very messages
 *    the collectors produce (same bytes, keys and sends per node) through one topic of as many
 *    partitions with the same bus code (KafkaBus producers → one consumer), from the first send
 *    to the last message consumed: the ratio is what the stages cost over moving the flows
 *    through Kafka once.
 * 2. Latency (ms, p50/p99) under a steady load of the lesser of `rate` and a quarter of the
 *    measured throughput, for `seconds`. Batches of a second cost about twice the CPU per flow of
 *    the throughput run's, so this keeps the pipeline near half its capacity: the figures are
 *    latency, not the queue of a saturated pipeline (how long it takes to catch up after the load
 *    is kept in the settings; over 10 s, a warning says the latencies include a queue). Each
 *    node's collector is handed a second of its traffic once a second (as a Kinesis source
 *    polls), the nodes 250 ms apart, and every batch holds one marker flow — a call to an address
 *    the feed lists, each marker its own address. From the moment the batch is handed over:
 *    (a) until the marker's ioc alert reaches a reader of the alerts topic (a consumer group of
 *    this process); (b) until its flow document answers a search by its address (one search for
 *    all outstanding markers every 100 ms, so ± 100 ms). Baselines at the same moments, under
 *    the same load: (a) one message produced and consumed through a topic of its own with the
 *    same bus code (one Kafka hop); (b) a flow document indexed directly, a `_bulk` of one
 *    document into indices with the same template, found by the same search. Three port scans
 *    (at a quarter, half and three quarters of the run) must raise port_scan alerts.
 *
 * Every marker and scan must arrive (else the bench fails). Settings of the results keep drain
 * times, record and document counts, alerts opened by detector, and CPU µs per flow of every
 * process — the stages, this process, Kafka and OpenSearch (when run by the services script) and
 * the rest of the machine (on a shared machine, other users).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@opensearch-project/opensearch';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { runCollector } from '../ingest/collector.js';
import type { FlowSource, SourceBatch } from '../ingest/source.js';
import { defaultVpcFormat, parseVpcLine } from '../ingest/vpc-flow-log.js';
import type { BusConsumer, BusProducer, OutgoingMessage, TopicSpec } from '../runtime/bus/bus.js';
import type { KafkaBus } from '../runtime/bus/kafka-bus.js';
import { createBus } from '../runtime/bus/select.js';
import { kafkaService } from '../services/kafka/service.js';
import { status } from '../services/manager.js';
import { openSearchService } from '../services/opensearch/service.js';
import { delay, Signal } from '../runtime/bus/signal.js';
import { endpointsFromEnv } from '../runtime/endpoints.js';
import { MetricsRegistry } from '../runtime/metrics.js';
import { topics, topicSpecs } from '../runtime/topics.js';
import { codecFor } from '../schemas/codec.js';
import type { Alert, RawFlow } from '../schemas/types.js';
import { bulkLines } from '../sink/opensearch/bulk-writer.js';
import { flowDocument, indexPatternOf, type IndexNaming } from '../sink/opensearch/documents.js';
import { templateNameOf } from '../sink/opensearch/index-templates.js';
import { openSearchClient, openSearchConnectionFromEnv } from '../sink/opensearch/opensearch-client.js';
import { putIndexTemplates } from '../sink/opensearch/opensearch-setup.js';
import { sinkRecordKinds } from '../sink/outlet.js';
import { deploymentPod, enrichedFlow, publicAddress } from '../test/support/enriched-flows.js';
import { report, withBaseline, type Figure } from './report.js';
import type { StageConfig, StageName, StageReport } from './support/pipeline-stage.js';
import { feedText, listed, LISTED, unlisted, VpcCluster, type ClusterPod } from './support/vpc-cluster.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  const value = at >= 0 ? Number(args[at + 1]) : fallback;
  if (!(Number.isFinite(value) && value > 0)) throw new Error(`--${name}: '${args[at + 1]}' is not a positive number`);
  return value;
};
const FLOWS = Number(args.find((arg, i) => /^\d+$/.test(arg) && !args[i - 1]?.startsWith('--')) ?? 60_000);
const LATENCY_SECONDS = option('seconds', 40);
const RATE = option('rate', 2_000);
const WARMUP_FLOWS = 10_000;
const CHUNK_LINES = 1_000;
/** Each node's collector is handed a batch a second (as a Kinesis source polls), the nodes 250 ms apart; each batch holds a marker. */
const HANDOVER_MS = 1_000;
const POLL_MS = 100;
const DELIVERY_DELAY_MS = 10_000;
const PARTITIONS = 6;
const LEARN = '30s';
const WINDOW = '10s';
const FEED_DECOYS = 100_000;
const PROBE_BYTES = 1_024;
const DRAIN_TIMEOUT_MS = 10 * 60_000;
const ARRIVAL_TIMEOUT_MS = 90_000;
/** The template `flowsentry sink --replicas 0` puts: what the direct baseline writes into too. */
const TEMPLATE = { shards: 1, replicas: 0, refreshInterval: '5s' };

const percentile = (values: readonly number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.max(0, Math.ceil((values.length * p) / 100) - 1))]!;
const rawFlows = codecFor('RawFlow');
const alertCodec = codecFor('Alert');
const stageScript = fileURLToPath(new URL('support/pipeline-stage.ts', import.meta.url));
const progress = (line: string) => console.error(`# pipeline-kafka: ${line}`);

// ---------------------------------------------------------------------------------------------
// The collectors' input

/**
 * A collector's input: VPC Flow Log lines handed over in chunks, each parsed into one batch by
 * the VPC parser, as the file and Kinesis sources do. `acknowledged` is how many lines the
 * collector has committed (the bus acknowledged their flows).
 */
class HandedLines implements FlowSource<number> {
  readonly name = 'vpc-bench';
  private readonly queue: string[][] = [];
  private readonly arrived = new Signal();
  private ended = false;
  private handedLines = 0;
  acknowledged = 0;

  hand(lines: string[]): void {
    this.queue.push(lines);
    this.handedLines += lines.length;
    this.arrived.notify();
  }

  get handed(): number {
    return this.handedLines;
  }

  async *batches(): AsyncGenerator<SourceBatch<number>> {
    let position = 0;
    for (;;) {
      const lines = this.queue.shift();
      if (!lines) {
        if (this.ended) return;
        await this.arrived.wait();
        continue;
      }
      const flows: RawFlow[] = [];
      for (const line of lines) {
        const result = parseVpcLine(defaultVpcFormat, line);
        if (result.kind === 'flow') flows.push(result.flow);
      }
      position += lines.length;
      yield { flows, problems: [], position };
    }
  }

  async commit(position: number): Promise<void> {
    this.acknowledged = position;
  }

  async close(): Promise<void> {
    this.ended = true;
    this.arrived.notify();
  }
}

/** The same chunks as the collectors send them: RawFlow batches of 250 flows, keyed by node. */
function collectorMessages(chunk: readonly string[], node: string): OutgoingMessage[] {
  const flows: RawFlow[] = [];
  for (const line of chunk) {
    const result = parseVpcLine(defaultVpcFormat, line);
    if (result.kind === 'flow') flows.push(result.flow);
  }
  const messages: OutgoingMessage[] = [];
  for (let i = 0; i < flows.length; i += 250) messages.push({ key: node, value: rawFlows.encodeBatch(flows.slice(i, i + 250)) });
  return messages;
}

// ---------------------------------------------------------------------------------------------
// The stage processes

interface StageStats {
  readonly metrics: ReadonlyMap<string, number>;
  readonly cpuMicros: number;
}

function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\S+?(?:\{.*\})?) (\S+)$/.exec(line.trim());
    if (match) values.set(match[1]!, Number(match[2]));
  }
  return values;
}

/** The sum of a metric's values whose labels include every `label="value"` given. */
function metricSum(metrics: ReadonlyMap<string, number>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [key, value] of metrics) {
    if (key !== name && !key.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([label, wanted]) => key.includes(`${label}="${wanted}"`))) sum += value;
  }
  return sum;
}

class StageChild {
  private readonly child: ChildProcess;
  private output = '';
  private readonly waiting: ((stats: StageStats) => void)[] = [];
  readonly started: Promise<void>;
  readonly exited: Promise<number | null>;

  constructor(readonly config: StageConfig) {
    // Each stage's ops server (/metrics, /healthz) on a free loopback port: three share this machine.
    const env = { ...process.env, FLOWSENTRY_SERVER_PORT: '0', FLOWSENTRY_SERVER_HOST: '127.0.0.1' };
    this.child = fork(stageScript, [JSON.stringify(config)], { execArgv: ['--import', 'tsx'], silent: true, env });
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString('utf8')).slice(-20_000));
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolveExit) => this.child.once('exit', (code) => resolveExit(code)));
    this.child.on('message', (report: StageReport) => {
      if (report.type === 'stats') this.waiting.shift()?.({ metrics: parseMetrics(report.metrics), cpuMicros: report.cpuMicros });
    });
    this.started = new Promise((resolveStart, rejectStart) => {
      this.child.on('message', (report: StageReport) => report.type === 'started' && resolveStart());
      void this.exited.then((code) => rejectStart(new Error(`${config.stage} exited (${code}) before it started:\n${this.tail()}`)));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether the process has ended (for a stage that should be running: a failure). */
  get ended(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  tail(): string {
    return this.output.split('\n').slice(-30).join('\n');
  }

  stats(): Promise<StageStats> {
    return new Promise((resolveStats, rejectStats) => {
      const timer = setTimeout(() => rejectStats(new Error(`${this.config.stage}: no stats within 10 s\n${this.tail()}`)), 10_000);
      this.waiting.push((stats) => {
        clearTimeout(timer);
        resolveStats(stats);
      });
      this.child.send({ type: 'stats' });
    });
  }

  /** SIGTERM, as a deployment stops it; SIGKILL after 30 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await this.exited;
    clearTimeout(killer);
  }
}

// ---------------------------------------------------------------------------------------------
// Kafka positions

/** Messages of `topic` that `groupId` has not committed. */
async function lagOf(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
  const at = new Map((committed[0]?.partitions ?? []).map((entry) => [entry.partition, Number(entry.offset)] as const));
  return ends.reduce((sum, end) => sum + Math.max(0, Number(end.high) - Math.max(at.get(end.partition) ?? -1, Number(end.low))), 0);
}

async function waitForStableGroups(admin: Admin, members: Record<string, number>): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { groups } = await admin.describeGroups(Object.keys(members));
    if (groups.every((group) => group.state === 'Stable' && group.members.length === members[group.groupId])) return;
    if (Date.now() > deadline) throw new Error(`consumer groups not stable: ${groups.map((group) => `${group.groupId} ${group.state} (${group.members.length})`).join(', ')}`);
    await delay(200);
  }
}

// ---------------------------------------------------------------------------------------------
// OpenSearch

/** The addresses among `addresses` that a search of `index` finds as `dest_ip`. */
async function searchable(client: Client, index: string, addresses: readonly string[]): Promise<string[]> {
  if (addresses.length === 0) return [];
  const response = await client.search({
    index,
    ignore_unavailable: true,
    body: { size: addresses.length, _source: ['dest_ip'], query: { terms: { dest_ip: addresses } } },
  } as never);
  const hits = (response.body as { hits: { hits: { _source: { dest_ip: string } }[] } }).hits.hits;
  return hits.map((hit) => hit._source.dest_ip);
}

async function countDocuments(client: Client, index: string): Promise<number> {
  await client.indices.refresh({ index, ignore_unavailable: true } as never);
  return (await client.count({ index, ignore_unavailable: true } as never)).body.count as number;
}

async function deleteIndices(client: Client, naming: IndexNaming): Promise<void> {
  await client.indices.delete({ index: `${naming.prefix}-*`, ignore_unavailable: true } as never).catch(() => undefined);
  for (const kind of sinkRecordKinds) {
    await client.indices.deleteIndexTemplate({ name: templateNameOf(kind, naming) }, { ignore: [404] }).catch(() => undefined);
    await client.transport
      .request({ method: 'DELETE', path: `/_plugins/_ism/policies/${encodeURIComponent(templateNameOf(kind, naming))}` }, { ignore: [400, 404] })
      .catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// CPU time

/** User + system CPU of a process from /proc (clock ticks of 10 ms), or undefined. */
function processTicks(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** Busy clock ticks of the whole machine (every core), from /proc/stat. */
function machineTicks(): number | undefined {
  try {
    const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal: all but idle and iowait.
    return values.slice(0, 8).reduce((sum, value, i) => (i === 3 || i === 4 ? sum : sum + value!), 0);
  } catch {
    return undefined;
  }
}

/** CPU microseconds so far of every process of the run, of the services (when run by the services script), and of the machine. */
interface CpuSnapshot {
  readonly micros: Record<string, number | undefined>;
}

async function cpuSnapshot(children: readonly StageChild[], services: ReadonlyMap<string, number>): Promise<CpuSnapshot> {
  const stats = await Promise.all(children.map((child) => child.stats()));
  const own = process.cpuUsage();
  const micros: Record<string, number | undefined> = {};
  children.forEach((child, i) => (micros[child.config.stage] = stats[i]!.cpuMicros));
  micros['collectors (this process)'] = own.user + own.system;
  for (const [name, pid] of services) micros[name] = (processTicks(pid) ?? Number.NaN) * 10_000;
  const machine = machineTicks();
  micros['machine'] = machine === undefined ? undefined : machine * 10_000;
  return { micros };
}

/** CPU µs per flow between two snapshots, per process; `other` is the rest of the machine (other users, the kernel). */
function cpuPerFlow(before: CpuSnapshot, after: CpuSnapshot, flows: number): Record<string, number> {
  const result: Record<string, number> = {};
  let ours = 0;
  for (const [name, value] of Object.entries(after.micros)) {
    const used = (value ?? Number.NaN) - (before.micros[name] ?? Number.NaN);
    if (!Number.isFinite(used) || name === 'machine') continue;
    result[name] = Number((used / flows).toFixed(1));
    ours += used;
  }
  const machine = (after.micros['machine'] ?? Number.NaN) - (before.micros['machine'] ?? Number.NaN);
  if (Number.isFinite(machine)) result['other processes'] = Number((Math.max(0, machine - ours) / flows).toFixed(1));
  return result;
}

// ---------------------------------------------------------------------------------------------
// The run

interface Arrival {
  readonly sentAt: number;
  arrivedAt?: number;
}

interface Marker {
  readonly handedAt: number;
  alertAt?: number;
  searchableAt?: number;
}

async function main(): Promise<void> {
  const brokers = endpointsFromEnv().kafkaBrokers;
  const connection = openSearchConnectionFromEnv();
  if (!brokers || !connection) {
    console.error('pipeline-kafka: needs KAFKA_BROKERS and OPENSEARCH_URL (npm run bench starts the test services; or npm run services -- up; eval "$(npm run -s services -- env)")');
    process.exit(2);
  }
  const began = performance.now();
  const run = `bench-pipeline-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const names = Object.fromEntries(Object.entries(topics).map(([key, name]) => [key, `${run}.${name.replace(/^flowsentry\./, '')}`])) as Record<keyof typeof topics, string>;
  const specs: TopicSpec[] = topicSpecs(PARTITIONS).map((spec) => ({ ...spec, name: names[(Object.entries(topics).find(([, name]) => name === spec.name)![0]) as keyof typeof topics] }));
  const baselineTopic = `${run}.baseline`;
  const probeTopic = `${run}.probe`;
  const groups = { enrich: `${run}-enrich`, detect: `${run}-detect`, sink: `${run}-sink`, alerts: `${run}-alert-reader`, baseline: `${run}-baseline`, probe: `${run}-probe` };
  const naming: IndexNaming = { prefix: run };
  const directNaming: IndexNaming = { prefix: `${run}-direct` };
  const dir = mkdtempSync(join(tmpdir(), 'flowsentry-bench-pipeline-'));
  const feedFile = join(dir, 'blocklist.txt');
  writeFileSync(feedFile, feedText(FEED_DECOYS));

  const kafka = new Kafka({ clientId: 'flowsentry-bench', brokers: [...brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const bus = createBus({ ...endpointsFromEnv(), kafkaBrokers: brokers }, { kind: 'kafka', clientId: 'flowsentry-collect' }) as KafkaBus;
  const client = openSearchClient(connection);
  const children: StageChild[] = [];
  const consumers: BusConsumer[] = [];
  const producers: BusProducer[] = [];
  const settings: Record<string, unknown> = {};
  // The JVMs' CPU, when the endpoints are the services script's own.
  const local = [kafkaService, openSearchService].filter((service) => Object.entries(service.env).every(([variable, value]) => process.env[variable] === value));
  const servicePids = new Map((await status(local)).flatMap((service) => (service.running && service.pid ? [[service.name, service.pid] as const] : [])));
  try {
    await bus.ensureTopics([...specs, { name: baselineTopic, partitions: PARTITIONS }, { name: probeTopic, partitions: PARTITIONS }]);

    // The data: warm-up and throughput lines per node, event times at the nominal rate, ending DELIVERY_DELAY_MS ago.
    const cluster = new VpcCluster();
    const nodes = cluster.nodes.map((node) => node.name);
    const total = WARMUP_FLOWS + FLOWS;
    const lastEnd = Math.floor((Date.now() - DELIVERY_DELAY_MS) / 1000);
    const perNode = cluster.nodes.map(() => [] as string[]);
    const perSecond = Math.max(1, Math.round(RATE / nodes.length));
    for (let i = 0, second = lastEnd - Math.ceil(total / RATE); i < total; second++) {
      for (let n = 0; n < nodes.length && i < total; n++) {
        const count = Math.min(perSecond, total - i);
        perNode[n]!.push(...cluster.traffic(n, count, second));
        i += count;
      }
    }
    const chunksOf = (lines: readonly string[]) => Array.from({ length: Math.ceil(lines.length / CHUNK_LINES) }, (_, c) => lines.slice(c * CHUNK_LINES, (c + 1) * CHUNK_LINES));
    const warmupLines = perNode.map((lines) => lines.slice(0, WARMUP_FLOWS / nodes.length));
    const timedChunks = perNode.map((lines) => chunksOf(lines.slice(WARMUP_FLOWS / nodes.length)));
    const timedFlows = timedChunks.flat(2).length;

    // Baseline 1, before anything else runs: the collectors' messages through one topic, produce → consume.
    progress(`Kafka baseline: ${timedFlows} flows as the collectors send them, through one topic`);
    const sends = timedChunks.map((chunks, n) => chunks.map((chunk) => collectorMessages(chunk, nodes[n]!)));
    const baselineMessages = sends.flat(2).length;
    const kafkaBaseline = await (async () => {
      let received = 0;
      let last = 0;
      const warm = new Signal();
      const done = new Signal();
      const consumer = bus.consumer({ groupId: groups.baseline, topics: [baselineTopic] });
      consumers.push(consumer);
      await consumer.start(async (batch) => {
        for (const message of batch.messages) {
          if (message.key === 'warm-up') warm.notify();
          else received++;
        }
        last = performance.now();
        if (received >= baselineMessages) done.notify();
      });
      const senders = nodes.map(() => bus.producer());
      const warmed = warm.wait();
      await senders[0]!.send(baselineTopic, [{ key: 'warm-up', value: Buffer.alloc(1) }]);
      await warmed;
      const finished = done.wait();
      const start = performance.now();
      await Promise.all(sends.map(async (chunks, n) => {
        for (const messages of chunks) await senders[n]!.send(baselineTopic, messages);
      }));
      await finished;
      await Promise.all(senders.map((sender) => sender.close()));
      await consumer.close();
      const bytes = sends.flat(2).reduce((sum, message) => sum + message.value.length, 0);
      return { flowsPerSecond: timedFlows / ((last - start) / 1000), messages: baselineMessages, bytesPerMessage: Math.round(bytes / baselineMessages) };
    })();
    progress(`Kafka baseline: ${Math.round(kafkaBaseline.flowsPerSecond)} flows/s`);

    // The inventory, then the stages.
    const inventory = cluster.inventory(Date.now() - 3_600_000);
    const inventoryCodec = codecFor('InventoryEvent');
    const setup = bus.producer();
    await setup.send(names.inventory, inventory.map((event) => ({ key: event.uid, value: inventoryCodec.encode(event) })));
    await setup.close();
    const stage = (name: StageName, extra: Partial<StageConfig> = {}) => new StageChild({ stage: name, groupId: groups[name], topics: names, ...extra });
    children.push(stage('enrich'), stage('detect', { feedFile, learn: LEARN, window: WINDOW }), stage('sink', { indexPrefix: naming.prefix, replicas: TEMPLATE.replicas }));
    await Promise.all(children.map((child) => child.started));
    await waitForStableGroups(admin, { [groups.enrich]: 1, [groups.detect]: 1, [groups.sink]: 3 });
    progress(`stages up (pids ${children.map((child) => `${child.config.stage} ${child.pid}`).join(', ')})`);

    // The observers: the alerts topic, and the one-hop probe.
    const victim = cluster.deployment('payments/ledger')[1]!;
    const scanners = ['shop/frontend', 'search/proxy', 'batch/reports'].map((key) => cluster.deployment(key)[0]!);
    // Allowed flows leave enrich aggregated by workload (level 2): alerts name the scanner's workload.
    const isScanner = (alert: Alert, pod: ClusterPod) => alert.source_namespace === pod.namespace && alert.source_workload === `deployment/${pod.deployment}`;
    const markers = new Map<string, Marker>();
    const scans: { scanner: ClusterPod; handedAt: number; alertAt?: number }[] = [];
    /** Alerts opened (revision 0) by detector, every alert record, and what opened besides the markers' and the scans'. */
    const opened: Record<string, number> = {};
    let alertRecords = 0;
    const unexpected: string[] = [];
    const alertReader = bus.consumer({ groupId: groups.alerts, topics: [names.alerts] });
    consumers.push(alertReader);
    await alertReader.start(async (batch) => {
      const at = performance.now();
      for (const message of batch.messages) {
        for (const alert of alertCodec.decodeAll(message.value) as Alert[]) {
          alertRecords++;
          if ((alert.revision ?? 0) === 0) opened[alert.detector] = (opened[alert.detector] ?? 0) + 1;
          const marker = alert.detector === 'ioc' && alert.dest_ip ? markers.get(alert.dest_ip) : undefined;
          if (marker && marker.alertAt === undefined) marker.alertAt = at;
          const scan = alert.detector === 'port_scan' ? scans.find((entry) => isScanner(alert, entry.scanner) && entry.alertAt === undefined) : undefined;
          if (scan) scan.alertAt = at;
          const expected = alert.detector === 'ioc' || (alert.detector === 'port_scan' && scanners.some((pod) => isScanner(alert, pod)));
          if (!expected && (alert.revision ?? 0) === 0 && unexpected.length < 10) unexpected.push(`${alert.detector}: ${alert.summary}`);
        }
      }
    });
    const probes = new Map<string, Arrival>();
    const probeReader = bus.consumer({ groupId: groups.probe, topics: [probeTopic] });
    consumers.push(probeReader);
    await probeReader.start(async (batch) => {
      const at = performance.now();
      for (const message of batch.messages) {
        const probe = probes.get(message.key);
        if (probe && probe.arrivedAt === undefined) probe.arrivedAt = at;
      }
    });
    await waitForStableGroups(admin, { [groups.alerts]: 1, [groups.probe]: 1 });

    // The collectors, one per node, each with a producer of its own.
    const sources = nodes.map(() => new HandedLines());
    const metrics = new MetricsRegistry();
    const collectors = sources.map((source, n) => {
      const producer = bus.producer();
      producers.push(producer);
      return runCollector({ source, producer, node: nodes[n]!, flowsTopic: names.flowsRaw, deadLetterTopic: names.deadLetters, metrics });
    });
    const acknowledged = () => sources.every((source) => source.acknowledged === source.handed);
    let collectorFailure: unknown;
    for (const collector of collectors) collector.catch((error: unknown) => (collectorFailure ??= error));
    /** Throws when a collector or a stage process failed: waiting on would only time out. */
    const check = () => {
      if (collectorFailure) throw new Error(`a collector failed: ${(collectorFailure as Error).message}`);
      const ended = children.find((child) => child.ended);
      if (ended) throw new Error(`${ended.config.stage} ended while the pipeline ran`);
    };

    const lags = async () => {
      const unacknowledged = sources.reduce((sum, source) => sum + source.handed - source.acknowledged, 0);
      const [enrichLag, detectLag, sinkLag] = await Promise.all([lagOf(admin, groups.enrich, names.flowsRaw), lagOf(admin, groups.detect, names.flowsEnriched), lagOf(admin, groups.sink, names.flowsEnriched)]);
      return `lines not yet on Kafka ${unacknowledged}, messages behind: enrich ${enrichLag}, detect ${detectLag}, sink ${sinkLag}`;
    };

    /** Waits until every handed line was acknowledged and the stages committed everything; the times, ms after `from`. */
    async function drained(from: number): Promise<{ sink: number; detect: number }> {
      let sinkAt: number | undefined;
      let detectAt: number | undefined;
      let said = from;
      while (sinkAt === undefined || detectAt === undefined) {
        check();
        if (acknowledged() && (await lagOf(admin, groups.enrich, names.flowsRaw)) === 0) {
          const [sinkFlows, sinkAlerts, detectFlows] = await Promise.all([
            sinkAt === undefined ? lagOf(admin, groups.sink, names.flowsEnriched) : 0,
            sinkAt === undefined ? lagOf(admin, groups.sink, names.alerts) : 0,
            detectAt === undefined ? lagOf(admin, groups.detect, names.flowsEnriched) : 0,
          ]);
          const at = performance.now() - from;
          if (sinkAt === undefined && sinkFlows + sinkAlerts === 0) sinkAt = at;
          if (detectAt === undefined && detectFlows === 0) detectAt = at;
        }
        if (performance.now() - from > DRAIN_TIMEOUT_MS) throw new Error(`the pipeline did not drain within ${DRAIN_TIMEOUT_MS / 60_000} min: ${await lags()}`);
        if (performance.now() - said > 10_000) {
          said = performance.now();
          progress(`  ${((said - from) / 1000).toFixed(0)} s: ${await lags()}`);
        }
        await delay(POLL_MS);
      }
      return { sink: sinkAt, detect: detectAt };
    }

    // Warm-up, then throughput.
    progress(`warm-up: ${WARMUP_FLOWS} flows`);
    const warmupBegan = performance.now();
    warmupLines.forEach((lines, n) => sources[n]!.hand(lines));
    await drained(warmupBegan);
    progress(`throughput: ${timedFlows} flows handed to ${nodes.length} collectors at once`);
    const cpuBefore = await cpuSnapshot(children, servicePids);
    const handedAt = performance.now();
    timedChunks.forEach((chunks, n) => chunks.forEach((chunk) => sources[n]!.hand(chunk)));
    const drain = await drained(handedAt);
    const cpuAfter = await cpuSnapshot(children, servicePids);
    const statsAfter = await Promise.all(children.map((child) => child.stats()));
    const written = (stats: StageStats, kind: string) => metricSum(stats.metrics, 'flowsentry_sink_records_total', { outlet: 'opensearch', kind });
    const documents = await countDocuments(client, indexPatternOf('flow', naming));
    const sinkFlowRecords = written(statsAfter[2]!, 'flow');
    // A document's id is a hash of its record: records that came out identical (rare: same ends, second and counters) are one document by design.
    if (documents > sinkFlowRecords || documents < sinkFlowRecords * 0.999) throw new Error(`OpenSearch holds ${documents} flow documents, the sink acknowledged ${sinkFlowRecords} flow records`);
    const enrichedEnds = (stats: StageStats) => metricSum(stats.metrics, 'flowsentry_enrich_flow_ends');
    const ends = Object.fromEntries(['reported', 'inventory', 'network', 'unknown'].map((resolution) => [resolution, metricSum(statsAfter[0]!.metrics, 'flowsentry_enrich_flow_ends', { resolution })]));
    const enrichedFlows = enrichedEnds(statsAfter[0]!) / 2;
    if (enrichedFlows !== WARMUP_FLOWS + timedFlows) throw new Error(`enrich handled ${enrichedFlows} flows, ${WARMUP_FLOWS + timedFlows} were collected`);
    const pipelineRate = timedFlows / (drain.sink / 1000);
    const detectRate = timedFlows / (drain.detect / 1000);
    progress(`throughput: ${Math.round(pipelineRate)} flows/s to OpenSearch (${(drain.sink / 1000).toFixed(1)} s), ${Math.round(detectRate)} flows/s through detect (${(drain.detect / 1000).toFixed(1)} s)`);
    settings['throughput'] = {
      flows: timedFlows,
      warmupFlows: WARMUP_FLOWS,
      eventSeconds: Math.ceil(total / RATE),
      drainSeconds: { sink: Number((drain.sink / 1000).toFixed(2)), detect: Number((drain.detect / 1000).toFixed(2)) },
      // Both with the warm-up's: aggregation makes fewer records than flows.
      flowRecordsAcknowledged: sinkFlowRecords,
      flowDocuments: documents,
      cpuMicrosPerFlow: cpuPerFlow(cpuBefore, cpuAfter, timedFlows),
      enrichedEnds: ends,
      kafkaBaseline,
    };

    // Latency under a paced load.
    await putIndexTemplates(client, TEMPLATE, directNaming);
    const probeProducer = bus.producer();
    producers.push(probeProducer);
    const direct = new Map<string, Arrival>();
    const failures: string[] = [];
    const fail = (what: string) => (error: unknown) => void failures.push(`${what}: ${(error as Error).message}`);
    let polling = true;
    let searchFailingSince: number | undefined;
    const poller = (async () => {
      while (polling) {
        const waitingDocs = [...markers].filter(([, marker]) => marker.searchableAt === undefined).map(([address]) => address);
        const waitingDirect = [...direct].filter(([, arrival]) => arrival.arrivedAt === undefined).map(([address]) => address);
        try {
          const [found, foundDirect] = await Promise.all([searchable(client, indexPatternOf('flow', naming), waitingDocs), searchable(client, indexPatternOf('flow', directNaming), waitingDirect)]);
          const at = performance.now();
          for (const address of found) markers.get(address)!.searchableAt ??= at;
          for (const address of foundDirect) direct.get(address)!.arrivedAt ??= at;
          searchFailingSince = undefined;
        } catch (error) {
          // An index being created as the search comes (its shards not started yet) fails it: the next poll asks again.
          searchFailingSince ??= performance.now();
          if (performance.now() - searchFailingSince > 30_000) fail('search, for 30 s')(new Error(`${(error as Error).message} ${JSON.stringify((error as { meta?: { body?: unknown } }).meta?.body ?? '').slice(0, 500)}`));
        }
        await delay(POLL_MS);
      }
    })();
    // Below saturation: latency at a load the pipeline keeps up with, not the queue of a backlog. Batches of
    // a second cost about twice the CPU per flow of the throughput run's: a quarter of it is about half the capacity.
    const rate = Math.min(RATE, Math.max(100, Math.floor(pipelineRate / 400) * 100));
    const slotMs = HANDOVER_MS / nodes.length;
    progress(`latency: ${rate} flows/s for ${LATENCY_SECONDS} s, a batch to a collector every ${slotMs} ms, each with a marker`);
    const markerCount = Math.min(LISTED, Math.floor((LATENCY_SECONDS * 1000) / slotMs));
    const scanAt = [0.25, 0.5, 0.75].map((share) => share * LATENCY_SECONDS * 1000);
    const paced = performance.now();
    const cpuPaced = await cpuSnapshot(children, servicePids);
    let handedFlows = 0;
    for (let slot = 0; slot < markerCount; slot++) {
      const due = paced + slot * slotMs;
      await delay(Math.max(0, due - performance.now()));
      const end = Math.floor((Date.now() - DELIVERY_DELAY_MS) / 1000);
      // Slot k hands node k mod 4 its batch: a second of that node's share of the rate.
      const wanted = Math.round(((slot + 1) * rate * slotMs) / 1000) - handedFlows;
      const node = slot % nodes.length;
      const lines = cluster.traffic(node, wanted, end);
      const source = cluster.podOn(node);
      lines.push(cluster.listedCall(source, slot, end));
      // A scan in the first batch of its scanner's node after its moment.
      const scanner = scans.length < scanAt.length && scanAt[scans.length]! <= due - paced && scanners[scans.length]!.node === node ? scanners[scans.length] : undefined;
      if (scanner) lines.push(...cluster.portScan(scanner, victim, 60, end));
      const at = performance.now();
      sources[node]!.hand(lines);
      handedFlows += wanted;
      markers.set(listed(slot), { handedAt: at });
      if (scanner) scans.push({ scanner, handedAt: at });
      // The baselines, at the same moment: one Kafka hop, and one document indexed directly.
      probes.set(String(slot), { sentAt: performance.now() });
      probeProducer.send(probeTopic, [{ key: String(slot), value: Buffer.alloc(PROBE_BYTES) }]).catch(fail('probe'));
      const doc = flowDocument(enrichedFlow(deploymentPod('shop', 'frontend', '10.0.0.20'), publicAddress(unlisted(slot)), { at: end * 1000, port: 443 }), directNaming);
      direct.set(unlisted(slot), { sentAt: performance.now() });
      client.bulk({ body: bulkLines(doc) } as never).then((response) => {
        if ((response.body as { errors?: boolean }).errors) failures.push(`direct bulk: ${JSON.stringify(response.body).slice(0, 300)}`);
      }, fail('direct bulk'));
    }
    const pacedSeconds = (performance.now() - paced) / 1000;
    // A pipeline that kept up has committed everything a moment after the last batch; one that fell behind shows it here.
    const behind = await drained(performance.now());
    if (behind.sink > 10_000 || behind.detect > 10_000) {
      progress(`the pipeline fell behind at ${rate} flows/s: ${(behind.sink / 1000).toFixed(1)} s (sink) and ${(behind.detect / 1000).toFixed(1)} s (detect) to catch up after the load; the latencies include that queue`);
    }
    const complete = () =>
      [...markers.values()].every((entry) => entry.alertAt !== undefined && entry.searchableAt !== undefined) &&
      [...probes.values(), ...direct.values()].every((entry) => entry.arrivedAt !== undefined) &&
      scans.every((scan) => scan.alertAt !== undefined);
    const waitUntil = performance.now() + ARRIVAL_TIMEOUT_MS;
    while (!complete() && performance.now() < waitUntil && failures.length === 0) {
      check();
      await delay(POLL_MS);
    }
    polling = false;
    await poller;
    const cpuPacedAfter = await cpuSnapshot(children, servicePids);
    if (failures.length > 0) throw new Error(`latency run: ${failures.slice(0, 5).join('; ')}`);
    const missing = {
      alerts: [...markers.values()].filter((entry) => entry.alertAt === undefined).length,
      documents: [...markers.values()].filter((entry) => entry.searchableAt === undefined).length,
      probes: [...probes.values()].filter((entry) => entry.arrivedAt === undefined).length,
      direct: [...direct.values()].filter((entry) => entry.arrivedAt === undefined).length,
      portScans: scans.filter((scan) => scan.alertAt === undefined).length,
    };
    if (Object.values(missing).some((count) => count > 0)) throw new Error(`missing ${ARRIVAL_TIMEOUT_MS / 1000} s after the load ended: ${JSON.stringify(missing)} of ${markers.size} markers, ${scans.length} scans`);
    const toAlert = [...markers.values()].map((entry) => entry.alertAt! - entry.handedAt);
    const toDocument = [...markers.values()].map((entry) => entry.searchableAt! - entry.handedAt);
    const hop = [...probes.values()].map((entry) => entry.arrivedAt! - entry.sentAt);
    const directLatency = [...direct.values()].map((entry) => entry.arrivedAt! - entry.sentAt);
    settings['latency'] = {
      rateFlowsPerSecond: rate,
      achievedFlowsPerSecond: Math.round(handedFlows / pacedSeconds),
      seconds: LATENCY_SECONDS,
      markers: markers.size,
      handoverMs: HANDOVER_MS,
      pollMs: POLL_MS,
      deliveryDelayMs: DELIVERY_DELAY_MS,
      drainAfterLoadSeconds: { sink: Number((behind.sink / 1000).toFixed(2)), detect: Number((behind.detect / 1000).toFixed(2)) },
      portScanAlertMs: scans.map((scan) => Math.round(scan.alertAt! - scan.handedAt)),
      maxMs: { alert: Math.round(Math.max(...toAlert)), document: Math.round(Math.max(...toDocument)) },
      cpuMicrosPerFlow: cpuPerFlow(cpuPaced, cpuPacedAfter, handedFlows),
    };

    // The end: collectors, then the stages, as a deployment stops them.
    await Promise.all(sources.map((source) => source.close()));
    await Promise.all(collectors);
    const final = await Promise.all(children.map((child) => child.stats()));
    settings['alerts'] = { openedByDetector: opened, records: alertRecords, unexpected };
    settings['detectAlertRecords'] = metricSum(final[1]!.metrics, 'flowsentry_detect_alerts_total');
    settings['sinkRecords'] = Object.fromEntries(sinkRecordKinds.map((kind) => [kind, written(final[2]!, kind)]));
    settings['deadLetters'] = final.map((stats) => metricSum(stats.metrics, 'flowsentry_dead_letters_total')).reduce((a, b) => a + b, 0) + metricSum(final[2]!.metrics, 'flowsentry_sink_rejected_total');
    settings['template'] = TEMPLATE;
    settings['stageOptions'] = { enrich: 'command defaults', detect: `--window ${WINDOW} --learn ${LEARN} --feed (${LISTED + FEED_DECOYS} lines)`, sink: `command defaults, --replicas ${TEMPLATE.replicas}` };
    settings['cluster'] = { nodes: nodes.length, pods: cluster.pods.length, inventoryEvents: inventory.length, partitions: PARTITIONS };
    settings['seconds'] = Number(((performance.now() - began) / 1000).toFixed(1));
    settings['measured'] = {
      throughput: 'flows handed to the collectors at once, until the stage groups committed every record (Kafka offsets, polled every 100 ms); documents checked against the sink acknowledgements',
      kafkaBaseline: 'the same collector messages (bytes, keys, sends per node) through one topic with the same bus code, first send to last message consumed, before the stages ran',
      latency: `marker flows (calls to listed addresses) during a ${rate} flows/s load: hand-over to the collector → ioc alert at a reader of the alerts topic; → flow document found by a search polled every ${POLL_MS} ms`,
      latencyBaselines: 'at the same moments: one message through a topic of its own, produce → consume (same bus code); one flow document by a one-document _bulk into the same template → found by the same search',
    };

    console.log(`# pipeline-kafka: throughput = ${timedFlows} flows handed to ${nodes.length} collectors at once (after a warm-up), until sink (→ OpenSearch) and detect (→ alerts) committed all (polled every ${POLL_MS} ms);`);
    console.log('#   baseline = the same collector messages through one topic, produce → consume, same bus code, before the stages ran');
    console.log(`# latency = ${markers.size} marker flows at a steady ${rate} flows/s (the lesser of --rate and a quarter of the throughput): hand-over to the collector → ioc alert read from the alerts topic;`);
    console.log(`#   → flow document found by a search (polled every ${POLL_MS} ms, refresh interval ${TEMPLATE.refreshInterval}); baselines at the same moments: one Kafka hop; a direct one-document _bulk → found`);
    const figures: Figure[] = [
      withBaseline('collector → OpenSearch', pipelineRate, 'flows/s', 'Kafka produce → consume', kafkaBaseline.flowsPerSecond),
      withBaseline('collector → alerts (detect done)', detectRate, 'flows/s', 'Kafka produce → consume', kafkaBaseline.flowsPerSecond),
      withBaseline('flow → alert on topic, p50', percentile(toAlert, 50), 'ms', 'one Kafka hop p50', percentile(hop, 50)),
      withBaseline('flow → alert on topic, p99', percentile(toAlert, 99), 'ms', 'one Kafka hop p99', percentile(hop, 99)),
      withBaseline('flow → searchable document, p50', percentile(toDocument, 50), 'ms', 'direct _bulk → searchable p50', percentile(directLatency, 50)),
      withBaseline('flow → searchable document, p99', percentile(toDocument, 99), 'ms', 'direct _bulk → searchable p99', percentile(directLatency, 99)),
    ];
    report('pipeline-kafka', figures, { ...settings, flows: timedFlows, nominalRate: RATE, latencySeconds: LATENCY_SECONDS });
  } catch (error) {
    for (const child of children) if (child.tail().trim()) console.error(`# ${child.config.stage} (pid ${child.pid}), last output:\n${child.tail()}`);
    throw error;
  } finally {
    await Promise.all(producers.map((producer) => producer.close().catch(() => undefined)));
    await Promise.all(consumers.map((consumer) => consumer.close().catch(() => undefined)));
    await Promise.all(children.map((child) => child.stop()));
    await bus.close().catch(() => undefined);
    // What the stages made of their own: enrich's inventory reader and detect's restore reader groups.
    const owned = children.flatMap((child) => [`flowsentry-enrich-inventory-${hostname()}-${child.pid}-`, `flowsentry-detect-restore-${hostname()}-${child.pid}-`]);
    const listedGroups = await admin.listGroups().catch(() => ({ groups: [] as { groupId: string }[] }));
    const ours = [...Object.values(groups), ...listedGroups.groups.map((group) => group.groupId).filter((id) => owned.some((prefix) => id.startsWith(prefix)))];
    await admin.deleteGroups(ours).catch(() => undefined);
    await admin.deleteTopics({ topics: [...specs.map((spec) => spec.name), baselineTopic, probeTopic] }).catch(() => undefined);
    await admin.disconnect();
    await deleteIndices(client, naming);
    await deleteIndices(client, directNaming);
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
