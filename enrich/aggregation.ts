import type { EnrichedFlow, Labels } from '../schemas/types.js';
import { buildEnrichedFlow, destServiceOf, endOf, type FlowEnd } from './enriched-flow.js';

/**
 * Calico's flow-log aggregation levels, applied to the enriched output of one collector interval:
 * 0 none; 1 source ports; 2 also addresses and names, by aggregated name or network;
 * 3 also destination ports.
 *
 * One departure from Calico: public addresses and addresses the inventory did not know are kept
 * at every level, because threat-feed matching and "who talked to this public IP" need them.
 */
export type AggregationLevel = 0 | 1 | 2 | 3;

export interface AggregationLevels {
  readonly allowed: AggregationLevel;
  readonly denied: AggregationLevel;
}

export const defaultAggregationLevels: AggregationLevels = { allowed: 2, denied: 1 };

export function parseAggregationLevel(text: string, option: string): AggregationLevel {
  if (!/^[0-3]$/.test(text)) throw new Error(`${option}: expected an aggregation level 0, 1, 2 or 3, found '${text}'`);
  return Number(text) as AggregationLevel;
}

/** An end keeps its address at level 2 and above only when the address itself is the identity. */
function keepsAddress(type: EnrichedFlow['source_type'], nameAggr: string, resolution: EnrichedFlow['source_resolution']): boolean {
  return resolution === 'unknown' || (type === 'net' && nameAggr !== 'pvt');
}

/** One end with what the level aggregates away set to null. */
function maskedEnd(flow: EnrichedFlow, side: 'source' | 'dest', level: AggregationLevel): FlowEnd {
  const end = endOf(flow, side);
  const keepAddress = level < 2 || keepsAddress(end.identity.type, end.identity.nameAggr, end.resolution);
  const port = side === 'source' || level >= 3 ? null : end.port;
  if (keepAddress) return { ...end, port };
  return { identity: { ...end.identity, name: null }, ip: null, port, resolution: end.resolution };
}

/** The flow with what its level aggregates away set to null (a new record; the input is not changed). */
function masked(flow: EnrichedFlow, level: AggregationLevel): EnrichedFlow {
  return buildEnrichedFlow(flow, maskedEnd(flow, 'source', level), maskedEnd(flow, 'dest', level), destServiceOf(flow));
}

/** What makes two masked flows one record: everything but counters, process and TCP statistics. */
function keyOf(flow: EnrichedFlow): string {
  return [
    flow.host, flow.start_time, flow.end_time, flow.origin, flow.proto, flow.reporter, flow.action, (flow.policies ?? []).join(','),
    flow.source_ip, flow.source_port, flow.source_type, flow.source_namespace, flow.source_name, flow.source_name_aggr,
    flow.source_service_account, flow.source_workload, flow.source_resolution,
    flow.dest_ip, flow.dest_port, flow.dest_type, flow.dest_namespace, flow.dest_name, flow.dest_name_aggr,
    flow.dest_service_account, flow.dest_workload, flow.dest_resolution,
    // A pod's node is a key only while the pod is (below level 2); aggregated ends keep a node all their pods share.
    flow.source_name === null ? '' : flow.source_node, flow.dest_name === null ? '' : flow.dest_node,
    flow.dest_service_namespace, flow.dest_service_name, flow.dest_service_port, flow.dest_service_port_num,
  ].join('|');
}

function commonLabels(a: Labels | undefined, b: Labels | undefined): Labels {
  const common: Labels = {};
  for (const [key, value] of Object.entries(a ?? {})) if (b?.[key] === value) common[key] = value;
  return common;
}

const sumOrNull = (a: number | null | undefined, b: number | null | undefined) => (a == null ? (b ?? null) : b == null ? a : a + b);
const minOrNull = (a: number | null | undefined, b: number | null | undefined) => (a == null ? (b ?? null) : b == null ? a : Math.min(a, b));
const maxOrNull = (a: number | null | undefined, b: number | null | undefined) => (a == null ? (b ?? null) : b == null ? a : Math.max(a, b));

/** Mean of two means, weighted by their flow counts. */
function meanOrNull(a: number | null | undefined, weightA: number, b: number | null | undefined, weightB: number): number | null {
  if (a == null) return b ?? null;
  if (b == null) return a;
  const total = weightA + weightB;
  return total > 0 ? (a * weightA + b * weightB) / total : (a + b) / 2;
}

/** Adds `other` into `into` (both masked with the same key). */
function merge(into: EnrichedFlow, other: EnrichedFlow): void {
  const weightA = into.num_flows;
  const weightB = other.num_flows;
  if (into.source_node !== other.source_node) into.source_node = null;
  if (into.dest_node !== other.dest_node) into.dest_node = null;
  into.source_labels = commonLabels(into.source_labels, other.source_labels);
  into.dest_labels = commonLabels(into.dest_labels, other.dest_labels);
  into.bytes_in += other.bytes_in;
  into.bytes_out += other.bytes_out;
  into.packets_in += other.packets_in;
  into.packets_out += other.packets_out;
  into.num_flows += other.num_flows;
  into.num_flows_started += other.num_flows_started;
  into.num_flows_completed += other.num_flows_completed;
  if (into.process_name !== other.process_name) into.process_name = '*';
  if (into.process_id !== other.process_id) into.process_id = '*';
  if ((into.process_args ?? []).join('\0') !== (other.process_args ?? []).join('\0')) into.process_args = ['*'];
  into.tcp_mean_send_congestion_window = meanOrNull(into.tcp_mean_send_congestion_window, weightA, other.tcp_mean_send_congestion_window, weightB);
  into.tcp_min_send_congestion_window = minOrNull(into.tcp_min_send_congestion_window, other.tcp_min_send_congestion_window);
  into.tcp_mean_smooth_rtt = meanOrNull(into.tcp_mean_smooth_rtt, weightA, other.tcp_mean_smooth_rtt, weightB);
  into.tcp_max_smooth_rtt = maxOrNull(into.tcp_max_smooth_rtt, other.tcp_max_smooth_rtt);
  into.tcp_mean_min_rtt = meanOrNull(into.tcp_mean_min_rtt, weightA, other.tcp_mean_min_rtt, weightB);
  into.tcp_max_min_rtt = maxOrNull(into.tcp_max_min_rtt, other.tcp_max_min_rtt);
  into.tcp_mean_mss = meanOrNull(into.tcp_mean_mss, weightA, other.tcp_mean_mss, weightB);
  into.tcp_min_mss = minOrNull(into.tcp_min_mss, other.tcp_min_mss);
  into.tcp_total_retransmissions = sumOrNull(into.tcp_total_retransmissions, other.tcp_total_retransmissions);
  into.tcp_lost_packets = sumOrNull(into.tcp_lost_packets, other.tcp_lost_packets);
  into.tcp_unrecovered_to = sumOrNull(into.tcp_unrecovered_to, other.tcp_unrecovered_to);
}

/**
 * Aggregates enriched flows of the same node and interval by the level of their action. Output
 * order is the order of each record's first flow. Level 0 flows pass through unchanged.
 */
export function aggregateFlows(flows: readonly EnrichedFlow[], levels: AggregationLevels): EnrichedFlow[] {
  if (levels.allowed === 0 && levels.denied === 0) return [...flows];
  const out: EnrichedFlow[] = [];
  const byKey = new Map<string, EnrichedFlow>();
  for (const flow of flows) {
    const level = flow.action === 'deny' ? levels.denied : levels.allowed;
    if (level === 0) {
      out.push(flow);
      continue;
    }
    const record = masked(flow, level);
    const key = keyOf(record);
    const existing = byKey.get(key);
    if (existing) merge(existing, record);
    else {
      byKey.set(key, record);
      out.push(record);
    }
  }
  return out;
}
