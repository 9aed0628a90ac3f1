/**
 * `npx tsx bench/detect.ts [flows]` (or `npm run bench -- detect [flows]`; default 60 000 flows):
 * the detect core with every detector on and a threat feed of 1M entries.
 *
 * - Detection throughput in flows/s: decode an EnrichedFlow batch (as the worker reads it from
 *   the enriched topic) and run `DetectCore.process` over it — ioc (the 1M-entry feed),
 *   port_scan, ip_sweep, lateral_movement, denied_spike, exfiltration — and every 5 000 flows (one
 *   consumer batch of a busy partition) take the state changes as the worker writes them to its
 *   changelog (`takeChanges`, the JSON of each changed unit). Beside it, in the same run, the
 *   decode floor: the same batches decoded only. Goal ≥ 0.5. A third case runs the detectors
 *   without taking changes, to show what the changelog costs.
 * - Memory: heap used after GC by a core that has seen 10 000 active sources (pods) over 5
 *   minutes of event time (their windows, their workloads' baselines and edges, the peers of
 *   every destination), per 10k active sources.
 *
 * Cluster: 10 000 pods of 500 Deployments in 50 namespaces; the throughput run has 2 000 of them
 * active, a flow a second each (a batch of 200 flows is 100 ms of event time; 200 000 flows are
 * 100 s, so windows close and baselines learn). Flows: 70% a pod to a pod of one of its workload's 3 peer Deployments
 * on that peer's port, 10% to kube-dns:53, 12% to a public address (a pool of 20 000; 1% of
 * them listed), 5% denied to a random pod and port, 3% Prometheus scraping a random pod. Every
 * 50th batch holds a short port scan. The learning period is the first 30 s: most of the run
 * judges. The feed: 1M entries, 85% single addresses and 15% /16–/31 blocks, in public space.
 * Deterministic (LCG). One warm-up, then the median of 5; the cases take turns every 25 batches.
 */
import { DetectCore } from '../detect/detect-core.js';
import { FeedIndex } from '../detect/feeds/feed-index.js';
import { parseFeed } from '../detect/feeds/feed-parse.js';
import { codecFor } from '../schemas/codec.js';
import { noFlowExtras } from '../schemas/defaults.js';
import type { EnrichedFlow } from '../schemas/types.js';
import { heapAfterGc, median, random } from './measure.js';
import { report, withBaseline, type Figure } from './report.js';

const totalFlows = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 200_000);
const BATCH = 200;
const CHUNK = 25;
/** Batches between two changelog writes: 5 000 flows, about what one Kafka fetch of a busy partition holds (1 MiB). */
const CHECKPOINT_BATCHES = 25;
const warmups = 1;
const samples = 5;
const PODS = 10_000;
const DEPLOYMENTS = 500;
const NAMESPACES = 50;
const PUBLIC_POOL = 20_000;
const FEED_ENTRIES = 1_000_000;
/** Event time per batch of 200 flows: 2 000 flows/s, one flow a second from each active source. */
const SLICE_MS = 100;
/** Sources of the throughput run; the memory figure uses all PODS. */
const ACTIVE = 2_000;
const T0 = 1_767_225_600_000;
const mib = 2 ** 20;
const codec = codecFor('EnrichedFlow');




interface Pod {
  readonly namespace: string;
  readonly name: string;
  readonly nameAggr: string;
  readonly workload: string;
  readonly ip: string;
  readonly deployment: number;
}

const publicIp = (n: number) => `${11 + (n % 180)}.${(n >> 8) & 255}.${(n >> 3) & 255}.${n & 255}`;

function cluster(): Pod[] {
  return Array.from({ length: PODS }, (_, p) => {
    const deployment = p % DEPLOYMENTS;
    const name = `app-${deployment}`;
    return {
      namespace: `ns-${deployment % NAMESPACES}`,
      name: `${name}-7d9f8c6b5-${p.toString(36)}`,
      nameAggr: `${name}-7d9f8c6b5-*`,
      workload: `deployment/${name}`,
      ip: `10.${64 + (p >> 16)}.${(p >> 8) & 255}.${p & 255}`,
      deployment,
    };
  });
}

function flow(source: Pod, dest: Pod | { ip: string; public: true }, port: number, proto: number, at: number, action: 'allow' | 'deny', packets: number, bytes: number): EnrichedFlow {
  const pub = 'public' in dest;
  return {
    start_time: at - 1_000,
    end_time: at,
    origin: 'conntrack',
    host: 'node-a',
    source_ip: source.ip,
    source_port: 40_000 + (at % 20_000),
    source_type: 'wep',
    source_namespace: source.namespace,
    source_name: source.name,
    source_name_aggr: source.nameAggr,
    source_labels: { app: source.nameAggr },
    source_service_account: 'default',
    source_node: 'node-a',
    source_workload: source.workload,
    source_resolution: 'inventory',
    dest_ip: dest.ip,
    dest_port: port,
    dest_type: pub ? 'net' : 'wep',
    dest_namespace: pub ? null : dest.namespace,
    dest_name: pub ? null : dest.name,
    dest_name_aggr: pub ? 'pub' : dest.nameAggr,
    dest_labels: {},
    dest_service_account: null,
    dest_node: null,
    dest_workload: pub ? null : dest.workload,
    dest_resolution: pub ? 'network' : 'inventory',
    dest_service_namespace: null,
    dest_service_name: null,
    dest_service_port: null,
    dest_service_port_num: null,
    proto,
    reporter: 'src',
    action,
    policies: [],
    bytes_in: bytes >> 1,
    bytes_out: bytes,
    packets_in: packets >> 1,
    packets_out: packets - (packets >> 1),
    num_flows: 1,
    num_flows_started: 1,
    num_flows_completed: 1,
    ...noFlowExtras,
  };
}

function flowBatches(pods: readonly Pod[], batchCount: number, active = ACTIVE, sliceMs = SLICE_MS): Buffer[] {
  const next = random(7);
  const dns = pods[0]!;
  const prometheus = pods[1]!;
  const peersOf = (deployment: number) => [1, 2, 3].map((k) => (deployment * 7 + k * 13) % DEPLOYMENTS);
  const podOf = (deployment: number) => pods[deployment + DEPLOYMENTS * Math.floor(next() * (PODS / DEPLOYMENTS))]!;
  const batches: Buffer[] = [];
  for (let b = 0; b < batchCount; b++) {
    const at = T0 + b * sliceMs;
    const flows: EnrichedFlow[] = [];
    for (let i = 0; i < BATCH; i++) {
      const source = pods[Math.floor(next() * active)]!;
      const roll = next();
      const time = at + Math.floor((i * sliceMs) / BATCH);
      if (b % 50 === 49 && i < 40) flows.push(flow(pods[7]!, pods[8]!, 1 + i, 6, time, 'allow', 1, 40));
      else if (roll < 0.7) {
        const peer = peersOf(source.deployment)[Math.floor(next() * 3)]!;
        flows.push(flow(source, podOf(peer), 8000 + (peer % 20), 6, time, 'allow', 12, 4_000));
      } else if (roll < 0.8) flows.push(flow(source, dns, 53, 17, time, 'allow', 2, 200));
      else if (roll < 0.92) flows.push(flow(source, { ip: publicIp(Math.floor(next() * PUBLIC_POOL)), public: true }, 443, 6, time, 'allow', 20, 20_000));
      else if (roll < 0.97) flows.push(flow(source, pods[Math.floor(next() * PODS)]!, 1 + Math.floor(next() * 10_000), 6, time, 'deny', 1, 60));
      else flows.push(flow(prometheus, source, 9090, 6, time, 'allow', 10, 3_000));
    }
    batches.push(codec.encodeBatch(flows));
  }
  return batches;
}

/** 1M feed lines in public space; 1% of the public pool the flows use is listed. */
function feedText(): string {
  const next = random(11);
  const lines: string[] = ['# bench feed'];
  for (let n = 0; n < PUBLIC_POOL; n += 100) lines.push(publicIp(n));
  while (lines.length < FEED_ENTRIES) {
    const a = 190 + Math.floor(next() * 33);
    const address = `${a}.${Math.floor(next() * 256)}.${Math.floor(next() * 256)}.${Math.floor(next() * 256)}`;
    if (next() < 0.85) lines.push(address);
    else {
      const prefix = 16 + Math.floor(next() * 16);
      const [w, x] = address.split('.');
      lines.push(prefix >= 24 ? `${address.split('.').slice(0, 3).join('.')}.0/${prefix === 24 ? 24 : 24}` : `${w}.${x}.0.0/16`);
    }
  }
  return lines.join('\n');
}

interface Case {
  readonly name: string;
  readonly run: (from: number, to: number) => number;
  readonly rates: number[];
}

function sampleAll(cases: readonly Case[], batchCount: number, flows: number): number[] {
  const nanos = cases.map(() => 0n);
  const counted = cases.map(() => 0);
  for (let from = 0, turn = 0; from < batchCount; from += CHUNK, turn++) {
    const to = Math.min(batchCount, from + CHUNK);
    for (let k = 0; k < cases.length; k++) {
      const i = (k + turn) % cases.length;
      const start = process.hrtime.bigint();
      counted[i]! += cases[i]!.run(from, to);
      nanos[i]! += process.hrtime.bigint() - start;
    }
  }
  return cases.map((c, i) => {
    if (counted[i] !== flows) throw new Error(`${c.name}: ${counted[i]} flows, expected ${flows}`);
    return flows / (Number(nanos[i]) / 1e9);
  });
}


function main(): void {
  const began = performance.now();
  const figures: Figure[] = [];
  const settings: Record<string, unknown> = {};
  const pods = cluster();
  const loadStart = performance.now();
  const parsed = parseFeed('bench', feedText(), 'text');
  const feeds = FeedIndex.build([parsed]);
  settings['feedEntries'] = feeds.size;
  settings['feedLoadSeconds'] = Number(((performance.now() - loadStart) / 1000).toFixed(2));
  const batchCount = Math.max(1, Math.round(totalFlows / BATCH));
  const flows = batchCount * BATCH;
  settings['flows'] = flows;
  settings['eventMinutes'] = Number(((batchCount * SLICE_MS) / 60_000).toFixed(1));
  const batches = flowBatches(pods, batchCount);
  const options = { learnMs: 30_000 };

  // Memory: one core over 5 minutes of event time from 10k sources (a flow every 10 s from each).
  const memoryBatches = flowBatches(pods, 150, PODS, 2_000).map((batch) => codec.decodeBatch(batch));
  const before = heapAfterGc();
  const measured = new DetectCore(options, () => feeds);
  for (const batch of memoryBatches) {
    measured.process(batch);
    measured.takeChanges();
  }
  const after = heapAfterGc();
  const sources = new Set(memoryBatches.flat().map((record) => record.source_ip)).size;
  figures.push({ name: 'detector memory per 10k sources', value: ((after - before) / mib) * (10_000 / sources), unit: 'MiB' });
  settings['memory'] = { sources, stateUnits: measured.state.size, openAlerts: measured.stats.openAlerts };

  let core = new DetectCore(options, () => feeds);
  let bare = new DetectCore(options, () => feeds);
  let alerts = 0;
  let changes = 0;
  const cases: Case[] = [
    {
      name: 'decode floor',
      run: (from, to) => batches.slice(from, to).reduce((sum, batch) => sum + codec.decodeBatch(batch).length, 0),
      rates: [],
    },
    {
      name: 'detect',
      run: (from, to) => {
        // A new core for each pass over the batches: event time starts again.
        if (from === 0) core = new DetectCore(options, () => feeds);
        let count = 0;
        batches.slice(from, to).forEach((batch, offset) => {
          const records = codec.decodeBatch(batch);
          alerts += core.process(records).length;
          if ((from + offset) % CHECKPOINT_BATCHES === CHECKPOINT_BATCHES - 1) changes += core.takeChanges().length;
          count += records.length;
        });
        return count;
      },
      rates: [],
    },
    {
      name: 'detect, no changelog',
      run: (from, to) => {
        if (from === 0) bare = new DetectCore(options, () => feeds);
        let count = 0;
        for (const batch of batches.slice(from, to)) {
          const records = codec.decodeBatch(batch);
          bare.process(records);
          count += records.length;
        }
        return count;
      },
      rates: [],
    },
  ];
  for (let i = 0; i < warmups; i++) sampleAll(cases, batchCount, flows);
  for (let i = 0; i < samples; i++) sampleAll(cases, batchCount, flows).forEach((rate, c) => cases[c]!.rates.push(rate));
  const [floor, detect, withoutChangelog] = cases.map((c) => median(c.rates)) as [number, number, number];
  figures.unshift(
    { name: 'decode floor', value: floor, unit: 'flows/s' },
    withBaseline('detect, every detector, 1M feed', detect, 'flows/s', 'decode floor', floor),
    withBaseline('detect, without the changelog', withoutChangelog, 'flows/s', 'decode floor', floor),
    { name: 'feed load (1M entries, parse+index)', value: settings['feedLoadSeconds'] as number, unit: 's' },
  );
  const passes = warmups + samples;
  settings['perPass'] = { alertRecords: Math.round(alerts / passes), stateChanges: Math.round(changes / passes), alertsByDetector: core.stats.alerts };
  settings['rates'] = Object.fromEntries(cases.map((c) => [c.name, c.rates.map(Math.round)]));
  settings['seconds'] = Number(((performance.now() - began) / 1000).toFixed(1));
  report('detect', figures, settings);
}

main();
