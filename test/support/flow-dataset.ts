/**
 * A known set of enriched flows for the query layer's contract: the stars demo's namespaces
 * (stars, client, kube-system, data), a backend rolled out to a second ReplicaSet (one workload,
 * two aggregated names), a node, two public addresses (one a known-bad one), denied flows,
 * UDP and ICMP, two reporters and three hosts, across a UTC midnight (two daily indices).
 *
 * Each flow has a short name; a flow's bytes are `packets * 50 + bytesOut` (see `enrichedFlow`),
 * written beside it so the contract's expected answers can be checked by hand.
 */
import type { EnrichedFlow } from '../../schemas/types.js';
import { deploymentPod, enrichedFlow, nodeAddress, publicAddress, type FlowEndSpec, type FlowFields } from './enriched-flows.js';

/** Ten minutes before midnight UTC: flows after T0 + 10 min land in the next day's index. */
export const T0 = Date.UTC(2026, 10, 27, 23, 50, 0);
export const minute = 60_000;

export const ends = {
  frontend: { ...deploymentPod('stars', 'frontend', '10.0.1.11', 'f4x2k'), labels: { app: 'frontend', tier: 'web' } },
  backendOld: { ...deploymentPod('stars', 'backend', '10.0.1.21', 'b1q2w', '5c8d7f9b6'), labels: { app: 'backend', tier: 'api' } },
  backendNew: { ...deploymentPod('stars', 'backend', '10.0.1.31', 'n5t6y', '6f7b9c8d4'), labels: { app: 'backend', tier: 'api' } },
  client: deploymentPod('client', 'client', '10.0.2.11', 'c9o0p'),
  dns: deploymentPod('kube-system', 'coredns', '10.0.0.10', 'd3f4g', '5d7c9b8f6'),
  postgres: { type: 'wep', ip: '10.0.4.11', namespace: 'data', name: 'postgres-0', nameAggr: 'postgres-*', workload: 'statefulset/postgres', labels: { app: 'postgres' } },
  knownBad: publicAddress('203.0.113.66'),
  internet: publicAddress('198.51.100.7'),
  node: nodeAddress('node-a', '10.0.0.5'),
} satisfies Record<string, FlowEndSpec>;

export const frontendPod = { namespace: 'stars', name: ends.frontend.name! };

type Spec = [from: FlowEndSpec, to: FlowEndSpec, fields: Omit<FlowFields, 'at'> & { readonly minutes: number; readonly host?: string }];

const { frontend: fe, backendOld: be, backendNew: be2, client, dns, postgres: pg, knownBad: bad, internet, node } = ends;

/** name: [source, dest, fields]; bytes in the comment. */
const specs = {
  c1: [client, fe, { minutes: 1, port: 80, packets: 10, bytesOut: 1_000 }], // 1500
  d1: [fe, dns, { minutes: 1.5, port: 53, proto: 17, packets: 2, bytesOut: 100 }], // 200
  f1: [fe, be, { minutes: 2, port: 6379, packets: 10, bytesOut: 2_000 }], // 2500
  c2: [client, fe, { minutes: 3, port: 80, packets: 20, bytesOut: 3_000 }], // 4000
  d2: [be, dns, { minutes: 4, port: 53, proto: 17, packets: 2, bytesOut: 120 }], // 220
  s1: [fe, be, { minutes: 5, port: 22, action: 'deny', reporter: 'dst', host: 'node-b', packets: 2, bytesOut: 0 }], // 100
  s2: [fe, be, { minutes: 5, port: 3389, action: 'deny', reporter: 'dst', host: 'node-b', packets: 2, bytesOut: 0 }], // 100
  s3: [fe, pg, { minutes: 6, port: 22, packets: 40, bytesOut: 8_000 }], // 10000
  x1: [fe, bad, { minutes: 7, port: 443, packets: 30, bytesOut: 50_000 }], // 51500
  i1: [internet, fe, { minutes: 8, port: 443, reporter: 'dst', host: 'node-c', sourcePort: 55_555, packets: 10, bytesOut: 900 }], // 1400
  n1: [node, dns, { minutes: 9, port: 53, proto: 17, packets: 2, bytesOut: 80 }], // 180
  p1: [fe, be, { minutes: 11, port: null, proto: 1, sourcePort: null, packets: 2, bytesOut: 64 }], // 164
  f2: [fe, be2, { minutes: 12, port: 6379, packets: 10, bytesOut: 500 }], // 1000
  b1: [be2, pg, { minutes: 13, port: 5432, packets: 10, bytesOut: 4_000 }], // 4500
  x2: [pg, bad, { minutes: 14, port: 443, packets: 10, bytesOut: 700 }], // 1200
  x3: [client, bad, { minutes: 15, port: 8080, action: 'deny', packets: 2, bytesOut: 0 }], // 100
  x4: [fe, bad, { minutes: 16, port: 443, packets: 10, bytesOut: 300 }], // 800
} satisfies Record<string, Spec>;

export type FlowName = keyof typeof specs;

function build([from, to, { minutes, host, ...fields }]: Spec): EnrichedFlow {
  const flow = enrichedFlow(from, to, { ...fields, at: T0 + minutes * minute });
  return host ? { ...flow, host } : flow;
}

/** Every flow of the dataset by name. */
export const datasetFlows: Readonly<Record<FlowName, EnrichedFlow>> = Object.fromEntries(
  Object.entries(specs).map(([name, spec]) => [name, build(spec as Spec)]),
) as Record<FlowName, EnrichedFlow>;

export const flowNames = Object.keys(specs) as FlowName[];

/** The whole dataset, in the order written (not the time order). */
export const dataset = (): EnrichedFlow[] => flowNames.map((name) => datasetFlows[name]);
