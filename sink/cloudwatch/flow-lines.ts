/**
 * Flows, alerts and actions as CloudWatch log events. Pure.
 *
 * A flow is one line, in one of two formats:
 * - `calico`: the 24-field text line Calico itself writes to CloudWatch Logs
 *   (`formatCalicoText` of ingest/calico-text.ts), so tools built for Calico's flow logs (and our
 *   own `parseCalicoText`) read it. It has no room for what enrichment added.
 * - `json`: one JSON object per line with the keys of Calico Enterprise's JSON flow logs, which
 *   are RawFlow's names (`start_time`, `source_name_aggr`, `dest_service_port`, ...), in the
 *   shapes Calico writes: times in epoch seconds (a fraction when the milliseconds are not whole),
 *   labels as `{"labels":["k=v",...]}`, policies as `{"all_policies":[...]}`. Our own
 *   `parseCalicoJson` reads such a line back to the same RawFlow. What enrichment added follows
 *   under the EnrichedFlow names (`source_workload`, `dest_service_account`, `source_resolution`,
 *   ...), which Calico's readers ignore. Every key is written, null when unknown, so the lines
 *   have one shape for CloudWatch Logs Insights.
 *
 * The event's timestamp is the flow's `end_time` (when it was reported). Alerts (timestamp
 * `end_time`) and response actions (`requested_at`) are written as their JSON records, keys as in
 * schemas/types.ts.
 */
import { formatCalicoText } from '../../ingest/calico-text.js';
import type { Alert, EnrichedFlow, Labels, ResponseAction } from '../../schemas/types.js';
import type { SinkRecord } from '../outlet.js';
import type { LogEvent } from './log-batches.js';

export type FlowLineFormat = 'calico' | 'json';

export const flowLineFormats: readonly FlowLineFormat[] = ['calico', 'json'];

const seconds = (millis: number) => millis / 1000;
const orNull = <T>(value: T | null | undefined): T | null => (value === undefined ? null : value);
const labelList = (labels: Labels | null | undefined) =>
  labels === null || labels === undefined ? null : { labels: Object.entries(labels).map(([key, value]) => `${key}=${value}`) };

/** An enriched flow as a Calico Enterprise JSON flow-log record (plus the enrichment fields). */
export function flowJsonRecord(flow: EnrichedFlow): Record<string, unknown> {
  return {
    start_time: seconds(flow.start_time),
    end_time: seconds(flow.end_time),
    host: flow.host,
    origin: flow.origin,
    source_ip: orNull(flow.source_ip),
    source_port: orNull(flow.source_port),
    source_type: flow.source_type,
    source_namespace: orNull(flow.source_namespace),
    source_name: orNull(flow.source_name),
    source_name_aggr: flow.source_name_aggr,
    source_labels: labelList(flow.source_labels),
    source_service_account: orNull(flow.source_service_account),
    source_node: orNull(flow.source_node),
    source_workload: orNull(flow.source_workload),
    source_resolution: orNull(flow.source_resolution),
    dest_ip: orNull(flow.dest_ip),
    dest_port: orNull(flow.dest_port),
    dest_type: flow.dest_type,
    dest_namespace: orNull(flow.dest_namespace),
    dest_name: orNull(flow.dest_name),
    dest_name_aggr: flow.dest_name_aggr,
    dest_labels: labelList(flow.dest_labels),
    dest_service_account: orNull(flow.dest_service_account),
    dest_node: orNull(flow.dest_node),
    dest_workload: orNull(flow.dest_workload),
    dest_resolution: orNull(flow.dest_resolution),
    dest_service_namespace: orNull(flow.dest_service_namespace),
    dest_service_name: orNull(flow.dest_service_name),
    dest_service_port: orNull(flow.dest_service_port),
    dest_service_port_num: orNull(flow.dest_service_port_num),
    proto: flow.proto,
    reporter: flow.reporter,
    action: flow.action,
    policies: { all_policies: flow.policies ?? [] },
    bytes_in: flow.bytes_in,
    bytes_out: flow.bytes_out,
    packets_in: flow.packets_in,
    packets_out: flow.packets_out,
    num_flows: flow.num_flows,
    num_flows_started: flow.num_flows_started,
    num_flows_completed: flow.num_flows_completed,
    process_name: orNull(flow.process_name),
    process_id: orNull(flow.process_id),
    process_args: flow.process_args ?? [],
    tcp_mean_send_congestion_window: orNull(flow.tcp_mean_send_congestion_window),
    tcp_min_send_congestion_window: orNull(flow.tcp_min_send_congestion_window),
    tcp_mean_smooth_rtt: orNull(flow.tcp_mean_smooth_rtt),
    tcp_max_smooth_rtt: orNull(flow.tcp_max_smooth_rtt),
    tcp_mean_min_rtt: orNull(flow.tcp_mean_min_rtt),
    tcp_max_min_rtt: orNull(flow.tcp_max_min_rtt),
    tcp_mean_mss: orNull(flow.tcp_mean_mss),
    tcp_min_mss: orNull(flow.tcp_min_mss),
    tcp_total_retransmissions: orNull(flow.tcp_total_retransmissions),
    tcp_lost_packets: orNull(flow.tcp_lost_packets),
    tcp_unrecovered_to: orNull(flow.tcp_unrecovered_to),
  };
}

const reportedLabels = (labels: Labels | null | undefined) => (labels && Object.keys(labels).length > 0 ? labels : null);

/**
 * One flow as one line in `format`, no line break. In the Calico line an empty label map is
 * written `-` (labels not reported), as Calico writes it: an EnrichedFlow always carries a map,
 * so it cannot tell an endpoint without labels from a line that left them out.
 */
export function formatFlowLine(flow: EnrichedFlow, format: FlowLineFormat): string {
  if (format === 'json') return JSON.stringify(flowJsonRecord(flow));
  return formatCalicoText({ ...flow, source_labels: reportedLabels(flow.source_labels), dest_labels: reportedLabels(flow.dest_labels) });
}

export function flowLogEvent(flow: EnrichedFlow, format: FlowLineFormat): LogEvent {
  return { timestamp: flow.end_time, message: formatFlowLine(flow, format) };
}

export function alertLogEvent(alert: Alert): LogEvent {
  return { timestamp: alert.end_time, message: JSON.stringify(alert) };
}

export function actionLogEvent(action: ResponseAction): LogEvent {
  return { timestamp: action.requested_at, message: JSON.stringify(action) };
}

/** Any sink record as its log event; `format` applies to flows. */
export function sinkRecordLogEvent(record: SinkRecord, format: FlowLineFormat): LogEvent {
  switch (record.kind) {
    case 'flow':
      return flowLogEvent(record.record, format);
    case 'alert':
      return alertLogEvent(record.record);
    case 'action':
      return actionLogEvent(record.record);
  }
}
