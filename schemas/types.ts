/**
 * TypeScript shapes of the records in schemas/avro/*.avsc (current versions). Field names are
 * the Avro names. Times are epoch milliseconds. Optional (`?`) fields have an Avro default: a
 * writer may leave them out, and every decoded record carries them.
 */

export type EndpointType = 'wep' | 'hep' | 'ns' | 'net';
export type FlowOrigin = 'conntrack' | 'calico' | 'vpc';
export type Reporter = 'src' | 'dst';
export type FlowAction = 'allow' | 'deny';
export type Labels = Record<string, string>;
/** How enrichment found an end's identity (EnrichedFlow since v2). */
export type IdentityResolution = 'reported' | 'inventory' | 'network' | 'unknown';

/** Process and TCP statistics a collector may add to a flow (RawFlow since v2). */
export interface FlowExtras {
  process_name?: string | null;
  process_id?: string | null;
  process_args?: string[];
  tcp_mean_send_congestion_window?: number | null;
  tcp_min_send_congestion_window?: number | null;
  tcp_mean_smooth_rtt?: number | null;
  tcp_max_smooth_rtt?: number | null;
  tcp_mean_min_rtt?: number | null;
  tcp_max_min_rtt?: number | null;
  tcp_mean_mss?: number | null;
  tcp_min_mss?: number | null;
  tcp_total_retransmissions?: number | null;
  tcp_lost_packets?: number | null;
  tcp_unrecovered_to?: number | null;
}

/** What every flow carries besides the identity of its ends. */
export interface FlowCounters {
  start_time: number;
  end_time: number;
  origin: FlowOrigin;
  host: string;
  source_ip?: string | null;
  source_port?: number | null;
  dest_ip?: string | null;
  dest_port?: number | null;
  dest_service_namespace?: string | null;
  dest_service_name?: string | null;
  dest_service_port?: string | null;
  dest_service_port_num?: number | null;
  proto: number;
  reporter: Reporter;
  action: FlowAction;
  policies?: string[];
  bytes_in: number;
  bytes_out: number;
  packets_in: number;
  packets_out: number;
  num_flows: number;
  num_flows_started: number;
  num_flows_completed: number;
}

export interface RawFlow extends FlowCounters, FlowExtras {
  source_type?: EndpointType | null;
  source_namespace?: string | null;
  source_name?: string | null;
  source_name_aggr?: string | null;
  source_labels?: Labels | null;
  dest_type?: EndpointType | null;
  dest_namespace?: string | null;
  dest_name?: string | null;
  dest_name_aggr?: string | null;
  dest_labels?: Labels | null;
}

export interface EnrichedFlow extends FlowCounters, FlowExtras {
  source_type: EndpointType;
  source_namespace?: string | null;
  source_name?: string | null;
  source_name_aggr: string;
  source_labels?: Labels;
  source_service_account?: string | null;
  source_node?: string | null;
  source_workload?: string | null;
  source_resolution?: IdentityResolution;
  dest_type: EndpointType;
  dest_namespace?: string | null;
  dest_name?: string | null;
  dest_name_aggr: string;
  dest_labels?: Labels;
  dest_service_account?: string | null;
  dest_node?: string | null;
  dest_workload?: string | null;
  dest_resolution?: IdentityResolution;
}

export interface OwnerReference {
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

export interface ServicePort {
  name?: string | null;
  port: number;
  protocol: string;
  target_port?: string | null;
}

export interface InventoryEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  kind: string;
  uid: string;
  namespace?: string | null;
  name: string;
  labels?: Labels;
  ips?: string[];
  owners?: OwnerReference[];
  node?: string | null;
  service_account?: string | null;
  host_network?: boolean;
  selector?: Labels;
  ports?: ServicePort[];
  phase?: string | null;
  resource_version?: string | null;
  observed_time: number;
}

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';
export type AlertStatus = 'open' | 'resolved';

/** One flow behind an alert, enough to find it again. */
export interface FlowSample {
  start_time: number;
  end_time: number;
  source_ip?: string | null;
  source_port?: number | null;
  dest_ip?: string | null;
  dest_port?: number | null;
  proto: number;
  action: string;
  reporter: string;
  bytes_out: number;
  bytes_in: number;
}

export interface Alert {
  alert_id: string;
  fingerprint: string;
  detector: string;
  severity: Severity;
  start_time: number;
  end_time: number;
  status?: AlertStatus;
  revision?: number;
  technique?: string | null;
  source_ip?: string | null;
  source_type?: EndpointType | null;
  source_namespace?: string | null;
  source_name?: string | null;
  source_name_aggr?: string | null;
  source_labels?: Labels;
  source_workload?: string | null;
  dest_ip?: string | null;
  dest_port?: number | null;
  dest_type?: EndpointType | null;
  dest_namespace?: string | null;
  dest_name?: string | null;
  dest_name_aggr?: string | null;
  dest_labels?: Labels;
  dest_workload?: string | null;
  proto?: number | null;
  indicator?: string | null;
  feed?: string | null;
  summary: string;
  evidence?: Record<string, string>;
  count: number;
  samples?: FlowSample[];
}

export interface ResponseTarget {
  kind: string;
  namespace?: string | null;
  name: string;
  uid?: string | null;
}

export type ResponseKind = 'quarantine' | 'notify' | 'undo';
export type ResponseStatus = 'requested' | 'applied' | 'skipped' | 'failed' | 'expired' | 'undone';

export interface ResponseAction {
  action_id: string;
  alert_id?: string | null;
  kind: ResponseKind;
  target: ResponseTarget;
  dry_run: boolean;
  status: ResponseStatus;
  reason?: string | null;
  requested_by?: string;
  requested_at: number;
  completed_at?: number | null;
  expires_at?: number | null;
  undoes_action_id?: string | null;
}

export interface DeadLetterSource {
  topic?: string | null;
  partition?: number | null;
  offset?: number | null;
  position?: string | null;
  file?: string | null;
  line?: number | null;
}

export interface DeadLetter {
  reason: string;
  message: string;
  retriable?: boolean;
  stage: string;
  record_type?: string | null;
  source: DeadLetterSource;
  original: Buffer;
  failed_at: number;
}

/** Record type by schema name. */
export interface RecordTypes {
  RawFlow: RawFlow;
  InventoryEvent: InventoryEvent;
  EnrichedFlow: EnrichedFlow;
  Alert: Alert;
  ResponseAction: ResponseAction;
  DeadLetter: DeadLetter;
}

export type SchemaName = keyof RecordTypes;

export const schemaNames: readonly SchemaName[] = [
  'RawFlow',
  'InventoryEvent',
  'EnrichedFlow',
  'Alert',
  'ResponseAction',
  'DeadLetter',
];
