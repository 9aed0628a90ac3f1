import type { FlowExtras } from './types.js';

/**
 * The process and TCP fields of a flow at their defaults, for sources that do not observe them.
 * Spread it last into a flow literal: every flow then has one shape, which keeps encoding fast.
 */
export const noFlowExtras: Readonly<Required<FlowExtras>> = Object.freeze({
  process_name: null,
  process_id: null,
  process_args: [],
  tcp_mean_send_congestion_window: null,
  tcp_min_send_congestion_window: null,
  tcp_mean_smooth_rtt: null,
  tcp_max_smooth_rtt: null,
  tcp_mean_min_rtt: null,
  tcp_max_min_rtt: null,
  tcp_mean_mss: null,
  tcp_min_mss: null,
  tcp_total_retransmissions: null,
  tcp_lost_packets: null,
  tcp_unrecovered_to: null,
});

/** The identity fields of both ends, unknown: for sources that see only addresses (conntrack, VPC flow logs). */
export const noEndpointIdentity = Object.freeze({
  source_type: null,
  source_namespace: null,
  source_name: null,
  source_name_aggr: null,
  source_labels: null,
  dest_type: null,
  dest_namespace: null,
  dest_name: null,
  dest_name_aggr: null,
  dest_labels: null,
  dest_service_namespace: null,
  dest_service_name: null,
  dest_service_port: null,
  dest_service_port_num: null,
} as const);
