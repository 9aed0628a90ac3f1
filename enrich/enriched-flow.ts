import type { EnrichedFlow, FlowCounters, FlowExtras, IdentityResolution } from '../schemas/types.js';
import type { EndpointIdentity } from './identity-table.js';

/** One end of an enriched flow: who it was, at which address and port, and how that was found. */
export interface FlowEnd {
  readonly identity: EndpointIdentity;
  readonly ip: string | null;
  readonly port: number | null;
  readonly resolution: IdentityResolution;
}

/** The Service a flow addressed. */
export interface DestService {
  readonly namespace: string | null;
  readonly name: string | null;
  readonly port: string | null;
  readonly portNum: number | null;
}

/**
 * The one place an EnrichedFlow is built: a single object literal with every field in schema
 * order, so every record has the same hidden class and Avro encodes it fast (see schemas/README.md).
 * Counters, process and TCP fields come from `flow`.
 */
export function buildEnrichedFlow(flow: FlowCounters & FlowExtras, source: FlowEnd, dest: FlowEnd, service: DestService): EnrichedFlow {
  const s = source.identity;
  const d = dest.identity;
  return {
    start_time: flow.start_time,
    end_time: flow.end_time,
    origin: flow.origin,
    host: flow.host,
    source_ip: source.ip,
    source_port: source.port,
    source_type: s.type,
    source_namespace: s.namespace,
    source_name: s.name,
    source_name_aggr: s.nameAggr,
    source_labels: s.labels,
    source_service_account: s.serviceAccount,
    source_node: s.node,
    source_workload: s.workload,
    source_resolution: source.resolution,
    dest_ip: dest.ip,
    dest_port: dest.port,
    dest_type: d.type,
    dest_namespace: d.namespace,
    dest_name: d.name,
    dest_name_aggr: d.nameAggr,
    dest_labels: d.labels,
    dest_service_account: d.serviceAccount,
    dest_node: d.node,
    dest_workload: d.workload,
    dest_resolution: dest.resolution,
    dest_service_namespace: service.namespace,
    dest_service_name: service.name,
    dest_service_port: service.port,
    dest_service_port_num: service.portNum,
    proto: flow.proto,
    reporter: flow.reporter,
    action: flow.action,
    policies: flow.policies ?? [],
    bytes_in: flow.bytes_in,
    bytes_out: flow.bytes_out,
    packets_in: flow.packets_in,
    packets_out: flow.packets_out,
    num_flows: flow.num_flows,
    num_flows_started: flow.num_flows_started,
    num_flows_completed: flow.num_flows_completed,
    process_name: flow.process_name ?? null,
    process_id: flow.process_id ?? null,
    process_args: flow.process_args ?? [],
    tcp_mean_send_congestion_window: flow.tcp_mean_send_congestion_window ?? null,
    tcp_min_send_congestion_window: flow.tcp_min_send_congestion_window ?? null,
    tcp_mean_smooth_rtt: flow.tcp_mean_smooth_rtt ?? null,
    tcp_max_smooth_rtt: flow.tcp_max_smooth_rtt ?? null,
    tcp_mean_min_rtt: flow.tcp_mean_min_rtt ?? null,
    tcp_max_min_rtt: flow.tcp_max_min_rtt ?? null,
    tcp_mean_mss: flow.tcp_mean_mss ?? null,
    tcp_min_mss: flow.tcp_min_mss ?? null,
    tcp_total_retransmissions: flow.tcp_total_retransmissions ?? null,
    tcp_lost_packets: flow.tcp_lost_packets ?? null,
    tcp_unrecovered_to: flow.tcp_unrecovered_to ?? null,
  };
}

/** One end of an enriched record, as it stands. */
export function endOf(flow: EnrichedFlow, side: 'source' | 'dest'): FlowEnd {
  const source = side === 'source';
  return {
    identity: {
      type: source ? flow.source_type : flow.dest_type,
      namespace: (source ? flow.source_namespace : flow.dest_namespace) ?? null,
      name: (source ? flow.source_name : flow.dest_name) ?? null,
      nameAggr: source ? flow.source_name_aggr : flow.dest_name_aggr,
      labels: (source ? flow.source_labels : flow.dest_labels) ?? {},
      serviceAccount: (source ? flow.source_service_account : flow.dest_service_account) ?? null,
      node: (source ? flow.source_node : flow.dest_node) ?? null,
      workload: (source ? flow.source_workload : flow.dest_workload) ?? null,
    },
    ip: (source ? flow.source_ip : flow.dest_ip) ?? null,
    port: (source ? flow.source_port : flow.dest_port) ?? null,
    resolution: (source ? flow.source_resolution : flow.dest_resolution) ?? 'reported',
  };
}

export function destServiceOf(flow: EnrichedFlow): DestService {
  return {
    namespace: flow.dest_service_namespace ?? null,
    name: flow.dest_service_name ?? null,
    port: flow.dest_service_port ?? null,
    portNum: flow.dest_service_port_num ?? null,
  };
}
