/**
 * `npx tsx bench/enrich.ts [flows]` (or `npm run bench -- enrich [flows]`; default 30 000 flows,
 * about 45 s on 2 cores): the enrich core with 50 000 live pods and 200 000 IP intervals (claims)
 * in its identity table.
 *
 * - Enrichment throughput in flows/s: decode a RawFlow batch, `EnrichCore.enrich(flows, true)`,
 *   encode the output as the worker does (`enrichedMessages`: one EnrichedFlow batch per source
 *   workload), at aggregation levels 0/0 (the headline: one record out per record in) and at the
 *   default 2/1.
 * - Beside them, in the same run, the decode+encode floor: decode the same batches, build an
 *   EnrichedFlow literal per flow from identities prepared before the timing (no lookup), encode
 *   with the same grouping. Its output is byte for byte the level-0 enrich output (checked), so
 *   the ratio enrich / floor is the cost of the join alone. Goal: ≥ 0.7.
 * - Memory: heap used after GC by a table of 10k and of 50k pods (no address reuse), per 10k
 *   pods; and by the full table (50k live pods, 150k deleted ones whose claims are kept).
 * - One full retention scan (`IdentityTable.expire`) of the full table, which the core runs
 *   inline every tenth of the retention period of event time.
 *
 * Inventory: 100 Nodes, 200 namespaces, 2 000 Deployments (ReplicaSet owner, pod-template-hash,
 * 3–6 labels). Pods are created and deleted over ~1 h of simulated time on a pool of 56 000
 * addresses (a freed address goes to a pod of another namespace later) until 200 000 pods have
 * existed and 50 000 are alive. Every InventoryEvent goes through Avro encode+decode before
 * `applyInventory`, as the worker reads them from the inventory topic. Retention is 30 days:
 * nothing expires during the bench.
 *
 * Flows: conntrack RawFlow batches of 200 (one node, one 10 s interval each; no identity fields):
 * one end a pod of the reporting node (95%, some pods much busier) or the node itself; the other a
 * pod of one of three peer Deployments (72%), a node (8%), a public address (17%) or an unknown
 * private address (3%).
 *
 * The level 2/1 figure runs `aggregateFlows` with the default levels on the level-0 core's output
 * (what `EnrichCore.enrich` does with those levels, plus one copy of the array), so that one
 * table serves every case. Deterministic (LCG). One warm-up, then the median of 5; within a
 * sample the cases take turns every 5 000 flows, so a shared machine's slow spells hit all alike. Heap figures need GC: `--expose-gc` is set at run time (or run
 * `node --expose-gc --import tsx bench/enrich.ts`).
 */
import { aggregateFlows, defaultAggregationLevels } from '../enrich/aggregation.js';
import { EnrichCore } from '../enrich/enrich-core.js';
import { buildEnrichedFlow, destServiceOf, endOf, type DestService, type FlowEnd } from '../enrich/enriched-flow.js';
import { enrichedMessages } from '../enrich/enrich-worker.js';
import { topics } from '../runtime/topics.js';
import { codecFor } from '../schemas/codec.js';
import { noEndpointIdentity, noFlowExtras } from '../schemas/defaults.js';
import type { EnrichedFlow, InventoryEvent, Labels, RawFlow } from '../schemas/types.js';
import { heapAfterGc, median, random } from './measure.js';
import { report, withBaseline, type Figure } from './report.js';

const totalFlows = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 30_000);
const BATCH = 200;
const warmups = 1;
const samples = 5;
/** Batches each case runs before the next takes its turn (5 000 flows). */
const CHUNK = 25;

const NODES = 100;
const NAMESPACES = 200;
const DEPLOYMENTS = 2_000;
const LIVE_PODS = 50_000;
const PODS_CREATED = 200_000;
const ADDRESS_POOL = 56_000;
const MEMORY_PODS = [10_000, 50_000] as const;
const EVENT_STEP_MS = 10;
const INTERVAL_MS = 10_000;
const RETENTION_MS = 30 * 24 * 3_600_000;
const GRACE_MS = 2_000;
const T0 = 1_767_225_600_000;
const mib = 2 ** 20;




const rawCodec = codecFor('RawFlow');
const inventoryCodec = codecFor('InventoryEvent');

// ---------------------------------------------------------------------------------------------
// The cluster

interface Deployment {
  readonly namespace: string;
  readonly replicaSet: string;
  readonly replicaSetUid: string;
  readonly labels: Labels;
  readonly serviceAccount: string;
}

interface Pod {
  readonly uid: string;
  readonly name: string;
  readonly deployment: number;
  readonly node: number;
  readonly address: number;
}

const hashAlphabet = 'bcdfghjklmnpqrstvwxz2456789';
const words = ['checkout', 'cart', 'payments', 'search', 'catalog', 'auth', 'ledger', 'notify', 'render', 'ingest', 'billing', 'profile', 'gateway', 'orders', 'reports', 'media'];
const tiers = ['frontend', 'backend', 'worker', 'cache', 'api'];

function token(next: () => number, length: number, alphabet = hashAlphabet): string {
  let text = '';
  for (let i = 0; i < length; i++) text += alphabet[Math.floor(next() * alphabet.length)];
  return text;
}

function uuidOf(next: () => number): string {
  const hex = '0123456789abcdef';
  return `${token(next, 8, hex)}-${token(next, 4, hex)}-4${token(next, 3, hex)}-a${token(next, 3, hex)}-${token(next, 12, hex)}`;
}

const nodeName = (node: number) => `ip-10-0-${1 + (node % 3)}-${10 + node}.ec2.internal`;
const nodeIp = (node: number) => `10.0.${1 + (node % 3)}.${10 + node}`;
/** Pod address number `n` of the pool, in 10.64.0.0/12. */
const podIp = (n: number) => `10.${64 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;

function deploymentsOf(next: () => number): Deployment[] {
  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `${words[i % words.length]}-${i}`);
  return Array.from({ length: DEPLOYMENTS }, (_, d) => {
    const namespace = namespaces[Math.floor(d / (DEPLOYMENTS / NAMESPACES))]!;
    const name = `${words[(d * 7) % words.length]}-${tiers[d % tiers.length]}-${d}`;
    const hash = token(next, 10);
    const all: [string, string][] = [
      ['app', name],
      ['pod-template-hash', hash],
      ['app.kubernetes.io/part-of', namespace],
      ['tier', tiers[d % tiers.length]!],
      ['version', `v${1 + (d % 4)}.${d % 10}.0`],
      ['team', `team-${d % 37}`],
    ];
    const labels = Object.fromEntries(all.slice(0, 3 + Math.floor(next() * 4)));
    return { namespace, replicaSet: `${name}-${hash}`, replicaSetUid: uuidOf(next), labels, serviceAccount: next() < 0.5 ? name : 'default' };
  });
}

let resourceVersion = 1_000_000;

function podEvent(type: InventoryEvent['type'], pod: Pod, deployments: readonly Deployment[], time: number): InventoryEvent {
  const d = deployments[pod.deployment]!;
  return {
    type,
    kind: 'Pod',
    uid: pod.uid,
    namespace: d.namespace,
    name: pod.name,
    labels: d.labels,
    ips: [podIp(pod.address)],
    owners: [{ kind: 'ReplicaSet', name: d.replicaSet, uid: d.replicaSetUid, controller: true }],
    node: nodeName(pod.node),
    service_account: d.serviceAccount,
    host_network: false,
    selector: {},
    ports: [],
    phase: 'Running',
    resource_version: String(resourceVersion++),
    observed_time: time,
  };
}

function nodeEvent(node: number, time: number, next: () => number): InventoryEvent {
  return {
    type: 'ADDED',
    kind: 'Node',
    uid: uuidOf(next),
    namespace: null,
    name: nodeName(node),
    labels: { 'kubernetes.io/hostname': nodeName(node), 'topology.kubernetes.io/zone': `us-east-1${'abc'[node % 3]}`, 'node.kubernetes.io/instance-type': 'm6i.2xlarge' },
    ips: [nodeIp(node)],
    owners: [],
    node: null,
    service_account: null,
    host_network: false,
    selector: {},
    ports: [],
    phase: null,
    resource_version: String(resourceVersion++),
    observed_time: time,
  };
}

/** Through Avro and back, as the worker gets it from the inventory topic: every event its own strings and maps. */
function apply(core: EnrichCore, event: InventoryEvent): void {
  core.applyInventory(inventoryCodec.decode(inventoryCodec.encode(event)));
}

function newCore(): EnrichCore {
  return new EnrichCore({ graceMs: GRACE_MS, levels: { allowed: 0, denied: 0 }, retentionMs: RETENTION_MS });
}

function newPod(next: () => number, deployment: number, address: number): Pod {
  return { uid: uuidOf(next), name: `${deploymentName(deployment)}-${token(next, 5)}`, deployment, node: Math.floor(next() * NODES), address };
}

let deploymentNames: readonly string[] = [];
const deploymentName = (d: number) => deploymentNames[d]!;

/** A table of `pods` pods on distinct addresses, nothing deleted (for memory per pod). */
function loadPods(core: EnrichCore, pods: number, deployments: readonly Deployment[]): void {
  const next = random(7);
  for (let i = 0; i < pods; i++) apply(core, podEvent('ADDED', newPod(next, Math.floor(next() * DEPLOYMENTS), i), deployments, T0 + i * EVENT_STEP_MS));
}

interface Cluster {
  /** Live pods' addresses (pool numbers), node and deployment. */
  readonly liveAddress: Uint32Array;
  readonly liveNode: Uint8Array;
  readonly liveDeployment: Uint16Array;
  readonly endTime: number;
  readonly events: number;
}

/**
 * Nodes, then 50 000 pods, then churn: delete a random live pod, create one on a random free
 * address (of a namespace other than the address's last holder), until 200 000 pods have existed.
 */
function buildChurned(core: EnrichCore, deployments: readonly Deployment[]): Cluster {
  const next = random(11);
  let time = T0;
  let events = 0;
  for (let node = 0; node < NODES; node++, events++) apply(core, nodeEvent(node, time, next));
  const lastNamespace = new Int32Array(ADDRESS_POOL).fill(-1);
  const free: number[] = Array.from({ length: ADDRESS_POOL }, (_, i) => ADDRESS_POOL - 1 - i);
  const live: Pod[] = [];
  const namespaceOf = (d: number) => Math.floor(d / (DEPLOYMENTS / NAMESPACES));
  const create = () => {
    const slot = Math.floor(next() * free.length);
    const address = free[slot]!;
    free[slot] = free[free.length - 1]!;
    free.pop();
    let deployment = Math.floor(next() * DEPLOYMENTS);
    if (namespaceOf(deployment) === lastNamespace[address]) deployment = (deployment + DEPLOYMENTS / 2) % DEPLOYMENTS;
    lastNamespace[address] = namespaceOf(deployment);
    const pod = newPod(next, deployment, address);
    live.push(pod);
    apply(core, podEvent('ADDED', pod, deployments, (time += EVENT_STEP_MS)));
    events++;
  };
  for (let i = 0; i < LIVE_PODS; i++) create();
  for (let created = LIVE_PODS; created < PODS_CREATED; created++) {
    const slot = Math.floor(next() * live.length);
    const pod = live[slot]!;
    live[slot] = live[live.length - 1]!;
    live.pop();
    apply(core, podEvent('DELETED', pod, deployments, (time += EVENT_STEP_MS)));
    events++;
    free.push(pod.address);
    create();
  }
  return {
    liveAddress: Uint32Array.from(live, (pod) => pod.address),
    liveNode: Uint8Array.from(live, (pod) => pod.node),
    liveDeployment: Uint16Array.from(live, (pod) => pod.deployment),
    endTime: time,
    events,
  };
}

// ---------------------------------------------------------------------------------------------
// Flows

const ports = [443, 80, 8080, 5432, 6379, 9090, 53, 8443];
/** The deployments a deployment's pods talk to. */
const peersOf = (d: number) => [(d * 13 + 1) % DEPLOYMENTS, (d * 29 + 7) % DEPLOYMENTS, (d * 31 + 500) % DEPLOYMENTS];

/** RawFlow batches as the conntrack collector writes them (Avro). */
function flowBatches(cluster: Cluster, batches: number): Buffer[] {
  const next = random(23);
  const pick = (n: number) => Math.floor(next() * n);
  const { liveAddress, liveNode, liveDeployment } = cluster;
  const byNode: number[][] = Array.from({ length: NODES }, () => []);
  const byDeployment: number[][] = Array.from({ length: DEPLOYMENTS }, () => []);
  for (let i = 0; i < liveAddress.length; i++) {
    byNode[liveNode[i]!]!.push(i);
    byDeployment[liveDeployment[i]!]!.push(i);
  }
  const publicIp = () => `${[52, 54, 3, 34, 35, 104][pick(6)]}.${pick(256)}.${pick(256)}.${1 + pick(254)}`;
  /** The other end: most often a pod of a peer deployment, with that deployment's port. */
  const remote = (local: number | undefined): { ip: string; port: number } => {
    const r = next();
    if (r < 0.72) {
      const peers = local === undefined ? [pick(DEPLOYMENTS)] : peersOf(liveDeployment[local]!);
      const peer = peers[pick(peers.length)]!;
      const pods = byDeployment[peer]!.length > 0 ? byDeployment[peer]! : [pick(liveAddress.length)];
      return { ip: podIp(liveAddress[pods[pick(pods.length)]!]!), port: ports[peer % ports.length]! };
    }
    if (r < 0.8) return { ip: nodeIp(pick(NODES)), port: 10_250 };
    if (r < 0.97) return { ip: publicIp(), port: 443 };
    return { ip: `10.250.${pick(256)}.${1 + pick(254)}`, port: ports[pick(ports.length)]! };
  };
  const out: Buffer[] = [];
  const firstStart = cluster.endTime + 60_000;
  for (let b = 0; b < batches; b++) {
    const node = b % NODES;
    const host = nodeName(node);
    const start = firstStart + Math.floor(b / NODES) * INTERVAL_MS;
    const end = start + INTERVAL_MS;
    const locals = byNode[node]!;
    const flows: RawFlow[] = [];
    for (let i = 0; i < BATCH; i++) {
      // Some local pods are much busier than others.
      const local = next() < 0.95 && locals.length > 0 ? locals[Math.floor(locals.length * next() ** 3)]! : undefined;
      const localIp = local === undefined ? nodeIp(node) : podIp(liveAddress[local]!);
      const reporter = next() < 0.5 ? 'src' : 'dst';
      const other = remote(local);
      const destPort = reporter === 'src' ? other.port : local === undefined ? 10_250 : ports[liveDeployment[local]! % ports.length]!;
      const packets = 1 + pick(200);
    flows.push({
        start_time: start,
        end_time: end,
        origin: 'conntrack',
        host,
        source_ip: reporter === 'src' ? localIp : other.ip,
        source_port: 32_768 + pick(28_000),
        dest_ip: reporter === 'src' ? other.ip : localIp,
        dest_port: destPort,
        ...noEndpointIdentity,
        proto: destPort === 53 ? 17 : 6,
        reporter,
        action: next() < 0.02 ? 'deny' : 'allow',
        policies: [],
        bytes_in: packets * (60 + pick(1_400)),
        bytes_out: packets * (60 + pick(1_400)),
        packets_in: packets,
        packets_out: packets + pick(10),
        num_flows: 1,
        num_flows_started: next() < 0.3 ? 1 : 0,
        num_flows_completed: next() < 0.3 ? 1 : 0,
        ...noFlowExtras,
      });
    }
    out.push(rawCodec.encodeBatch(flows));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The measured paths

/** The worker's output: one EnrichedFlow batch per source workload (`enrichedMessages`); returns records written. */
function encodeGrouped(records: readonly EnrichedFlow[], sink: (bytes: Buffer) => void): number {
  for (const message of enrichedMessages(topics.flowsEnriched, records)) sink(message.value);
  return records.length;
}

let outputBytes = 0;
const countBytes = (bytes: Buffer) => {
  outputBytes += bytes.length;
};

function enrichRun(core: EnrichCore, batches: readonly Buffer[], aggregate: boolean): number {
  let records = 0;
  for (const batch of batches) {
    const enriched = core.enrich(rawCodec.decodeBatch(batch), true);
    records += encodeGrouped(aggregate ? aggregateFlows(enriched, defaultAggregationLevels) : enriched, countBytes);
  }
  return records;
}

/** What the floor copies into each record: both ends and the Service, prepared before the timing. */
interface PreparedIdentity {
  readonly source: FlowEnd;
  readonly dest: FlowEnd;
  readonly service: DestService;
}

const preparedOf = (record: EnrichedFlow): PreparedIdentity => ({ source: endOf(record, 'source'), dest: endOf(record, 'dest'), service: destServiceOf(record) });

/** The floor's EnrichedFlow: counters from the decoded flow, identity prepared before the timing, the same literal builder. */
function floorRecord(flow: RawFlow, id: PreparedIdentity): EnrichedFlow {
  return buildEnrichedFlow(flow, id.source, id.dest, id.service);
}

function floorRun(batches: readonly Buffer[], prepared: readonly (readonly PreparedIdentity[])[], offset: number): number {
  let records = 0;
  for (let b = 0; b < batches.length; b++) {
    const ids = prepared[offset + b]!;
    const flows = rawCodec.decodeBatch(batches[b]!);
    const out: EnrichedFlow[] = new Array(flows.length);
    for (let i = 0; i < flows.length; i++) out[i] = floorRecord(flows[i]!, ids[i]!);
    records += encodeGrouped(out, countBytes);
  }
  return records;
}

interface Case {
  readonly name: string;
  /** Runs the case over batches [from, to); returns the records written. */
  readonly run: (from: number, to: number) => number;
  readonly expected: number;
  readonly rates: number[];
}


/**
 * One sample of every case. The cases take turns on slices of CHUNK batches (in rotating order),
 * so that on a shared machine a slow spell falls on all of them alike, not on one case's sample.
 */
function sampleAll(cases: readonly Case[], batchCount: number, flows: number): number[] {
  const nanos = cases.map(() => 0n);
  const records = cases.map(() => 0);
  for (let from = 0, turn = 0; from < batchCount; from += CHUNK, turn++) {
    const to = Math.min(batchCount, from + CHUNK);
    for (let k = 0; k < cases.length; k++) {
      const i = (k + turn) % cases.length;
      const start = process.hrtime.bigint();
      records[i]! += cases[i]!.run(from, to);
      nanos[i]! += process.hrtime.bigint() - start;
    }
  }
  return cases.map((c, i) => {
    if (records[i] !== c.expected) throw new Error(`${c.name}: ${records[i]} records out, expected ${c.expected}`);
    return flows / (Number(nanos[i]) / 1e9);
  });
}

function main(): void {
  const began = performance.now();
  const next = random(3);
  const deployments = deploymentsOf(next);
  deploymentNames = deployments.map((d) => d.replicaSet.slice(0, d.replicaSet.lastIndexOf('-')));
  const figures: Figure[] = [];
  const settings: Record<string, unknown> = { flows: 0, batch: BATCH, turnBatches: CHUNK, warmups, samples, graceMs: GRACE_MS, retentionMs: RETENTION_MS };

  // Codecs compiled and scratch buffers grown before any heap is measured.
  loadPods(newCore(), 100, deployments);

  // Memory per pod: tables of distinct pods, no reuse.
  for (const pods of MEMORY_PODS) {
    const before = heapAfterGc();
    const core = newCore();
    loadPods(core, pods, deployments);
    const bytes = heapAfterGc() - before;
    if (core.table.stats.objects !== pods) throw new Error(`memory table: ${core.table.stats.objects} objects, expected ${pods}`);
    figures.push({ name: `table heap per 10k pods (${pods / 1000}k)`, value: bytes / (pods / 10_000) / mib, unit: 'MiB' });
    settings[`heapBytes${pods / 1000}kPods`] = bytes;
  }

  // The full table: 50k live pods, 200k claims.
  const before = heapAfterGc();
  const core = newCore();
  const buildStart = performance.now();
  const cluster = buildChurned(core, deployments);
  const buildSeconds = (performance.now() - buildStart) / 1000;
  const tableBytes = heapAfterGc() - before;
  const table = core.table.stats;
  if (cluster.liveAddress.length !== LIVE_PODS || table.claims < PODS_CREATED) throw new Error(`table: ${cluster.liveAddress.length} live pods, ${table.claims} claims`);
  figures.push({ name: 'table heap per 10k live pods (full)', value: tableBytes / (LIVE_PODS / 10_000) / mib, unit: 'MiB' });
  Object.assign(settings, {
    table: { ...table, livePods: cluster.liveAddress.length, nodes: NODES, namespaces: NAMESPACES, deployments: DEPLOYMENTS, addressPool: ADDRESS_POOL },
    tableHeapBytes: tableBytes,
    tableHeapBytesPerClaim: Math.round(tableBytes / table.claims),
    buildEvents: cluster.events,
    buildSeconds: Number(buildSeconds.toFixed(2)),
  });

  // One retention scan of the full table (cutoff 30 days back: it walks everything, drops nothing).
  const expireStart = performance.now();
  core.table.expire(cluster.endTime);
  figures.push({ name: 'retention scan of the full table', value: performance.now() - expireStart, unit: 'ms' });
  if (core.table.stats.claims !== table.claims) throw new Error('retention scan dropped claims');

  // Flows, and the identities the floor copies (one enrich pass, also the cores' first run).
  const batchCount = Math.max(1, Math.round(totalFlows / BATCH));
  const flows = batchCount * BATCH;
  settings['flows'] = flows;
  const batches = flowBatches(cluster, batchCount);
  settings['rawFlowBytes'] = Math.round(batches.reduce((sum, batch) => sum + batch.length, 0) / flows);
  const firstPass = batches.map((batch) => core.enrich(rawCodec.decodeBatch(batch), true));
  const prepared = firstPass.map((records) => records.map(preparedOf));
  const enrichOut: Buffer[] = [];
  const floorOut: Buffer[] = [];
  for (const records of firstPass) encodeGrouped(records, (bytes) => enrichOut.push(bytes));
  for (let b = 0; b < batches.length; b++) {
    const decoded = rawCodec.decodeBatch(batches[b]!);
    encodeGrouped(
      decoded.map((flow, i) => floorRecord(flow, prepared[b]![i]!)),
      (bytes) => floorOut.push(bytes),
    );
  }
  if (enrichOut.length !== floorOut.length || enrichOut.some((bytes, i) => !bytes.equals(floorOut[i]!))) throw new Error('floor output differs from the enrich output');
  const aggregated = firstPass.reduce((sum, records) => sum + aggregateFlows(records, defaultAggregationLevels).length, 0);
  const ends = core.stats.ends;
  const endTotal = ends.reported + ends.inventory + ends.network + ends.unknown;
  Object.assign(settings, {
    ends: { inventory: Number((ends.inventory / endTotal).toFixed(3)), network: Number((ends.network / endTotal).toFixed(3)), unknown: Number((ends.unknown / endTotal).toFixed(3)) },
    outputMessagesPerBatch: Number((enrichOut.length / batchCount).toFixed(1)),
    enrichedFlowBytes: Math.round(enrichOut.reduce((sum, bytes) => sum + bytes.length, 0) / flows),
    level21RecordsPerFlow: Number((aggregated / flows).toFixed(3)),
    conflicts: core.table.stats.conflicts,
  });

  const cases: Case[] = [
    { name: 'floor', run: (from, to) => floorRun(batches.slice(from, to), prepared, from), expected: flows, rates: [] },
    { name: 'enrich 0/0', run: (from, to) => enrichRun(core, batches.slice(from, to), false), expected: flows, rates: [] },
    { name: 'enrich 2/1', run: (from, to) => enrichRun(core, batches.slice(from, to), true), expected: aggregated, rates: [] },
  ];
  for (let i = 0; i < warmups; i++) sampleAll(cases, batchCount, flows);
  for (let i = 0; i < samples; i++) sampleAll(cases, batchCount, flows).forEach((rate, c) => cases[c]!.rates.push(rate));
  const [floor, level0, level2] = cases.map((c) => median(c.rates)) as [number, number, number];
  if (outputBytes <= 0) throw new Error('nothing encoded');
  figures.unshift(
    { name: 'decode+encode floor', value: floor, unit: 'flows/s' },
    withBaseline('enrich, levels 0/0', level0, 'flows/s', 'decode+encode floor', floor),
    withBaseline('enrich, levels 2/1', level2, 'flows/s', 'decode+encode floor', floor),
  );
  // Every sample's rates, and the median of the per-sample ratios (the cases of a sample ran side by side).
  settings['rates'] = Object.fromEntries(cases.map((c) => [c.name, c.rates.map(Math.round)]));
  settings['medianRoundRatio'] = Object.fromEntries(cases.slice(1).map((c) => [c.name, Number(median(c.rates.map((rate, i) => rate / cases[0]!.rates[i]!)).toFixed(3))]));
  settings['seconds'] = Number(((performance.now() - began) / 1000).toFixed(1));
  report('enrich', figures, settings);
}

main();
