/**
 * One realistic record per schema with every field set, taken from the shared Calico sample
 * (management-ui talking to the stars backend on 6379). Golden payloads are written from these
 * at release time; tests and benchmarks start from them too.
 */
import type { RecordTypes, SchemaName } from './types.js';

type Full<T> = { [K in keyof T]-?: Exclude<T[K], undefined> };

const START = 1530810851000;
const END = 1530811157000;

const flowExtras = {
  process_name: 'redis-cli',
  process_id: '4242',
  process_args: ['-h', 'backend', 'ping'],
  tcp_mean_send_congestion_window: 10.5,
  tcp_min_send_congestion_window: 10,
  tcp_mean_smooth_rtt: 412.25,
  tcp_max_smooth_rtt: 1870,
  tcp_mean_min_rtt: 98.5,
  tcp_max_min_rtt: 120,
  tcp_mean_mss: 1448,
  tcp_min_mss: 1448,
  tcp_total_retransmissions: 2,
  tcp_lost_packets: 1,
  tcp_unrecovered_to: 0,
};

const flowCounters = {
  start_time: START,
  end_time: END,
  origin: 'calico',
  host: 'ip-10-0-1-23.ec2.internal',
  source_ip: '10.0.1.15',
  source_port: 43122,
  dest_ip: '10.0.2.31',
  dest_port: 6379,
  dest_service_namespace: 'stars',
  dest_service_name: 'backend',
  dest_service_port: 'redis',
  dest_service_port_num: 6379,
  proto: 6,
  reporter: 'src',
  action: 'allow',
  policies: ['0|default|stars/knp.default.backend-policy|allow'],
  bytes_in: 38100,
  bytes_out: 28140,
  packets_in: 300,
  packets_out: 300,
  num_flows: 85,
  num_flows_started: 83,
  num_flows_completed: 61,
} as const;

export const sampleRawFlow: Full<RecordTypes['RawFlow']> = {
  ...flowCounters,
  ...flowExtras,
  policies: [...flowCounters.policies],
  source_type: 'wep',
  source_namespace: 'management-ui',
  source_name: 'management-ui-5d8b7c9f4-x2k9q',
  source_name_aggr: 'management-ui-5d8b7c9f4-*',
  source_labels: { role: 'management-ui' },
  dest_type: 'wep',
  dest_namespace: 'stars',
  dest_name: 'backend-6b9c8d7f5-7qp4z',
  dest_name_aggr: 'backend-6b9c8d7f5-*',
  dest_labels: { role: 'backend' },
};

export const sampleEnrichedFlow: Full<RecordTypes['EnrichedFlow']> = {
  ...flowCounters,
  ...flowExtras,
  policies: [...flowCounters.policies],
  source_type: 'wep',
  source_namespace: 'management-ui',
  source_name: 'management-ui-5d8b7c9f4-x2k9q',
  source_name_aggr: 'management-ui-5d8b7c9f4-*',
  source_labels: { role: 'management-ui', 'app.kubernetes.io/part-of': 'stars-demo' },
  source_service_account: 'management-ui',
  source_node: 'ip-10-0-1-23.ec2.internal',
  source_workload: 'deployment/management-ui',
  source_resolution: 'inventory',
  dest_type: 'wep',
  dest_namespace: 'stars',
  dest_name: 'backend-6b9c8d7f5-7qp4z',
  dest_name_aggr: 'backend-6b9c8d7f5-*',
  dest_labels: { role: 'backend' },
  dest_service_account: 'default',
  dest_node: 'ip-10-0-2-88.ec2.internal',
  dest_workload: 'deployment/backend',
  dest_resolution: 'inventory',
};

export const sampleInventoryEvent: Full<RecordTypes['InventoryEvent']> = {
  type: 'ADDED',
  kind: 'Pod',
  uid: '5f0c2a9e-3a4b-4c1d-9e8f-0a1b2c3d4e5f',
  namespace: 'stars',
  name: 'backend-6b9c8d7f5-7qp4z',
  labels: { role: 'backend', 'pod-template-hash': '6b9c8d7f5' },
  ips: ['10.0.2.31'],
  owners: [{ kind: 'ReplicaSet', name: 'backend-6b9c8d7f5', uid: '8d2e6f1a-7b3c-4d5e-8f9a-1b2c3d4e5f60', controller: true }],
  node: 'ip-10-0-2-88.ec2.internal',
  service_account: 'default',
  host_network: false,
  selector: {},
  ports: [{ name: 'redis', port: 6379, protocol: 'TCP', target_port: '6379' }],
  phase: 'Running',
  resource_version: '184467',
  observed_time: START - 60000,
};

export const sampleAlert: Full<RecordTypes['Alert']> = {
  alert_id: 'ioc:8f3a1c0d9e2b4a17:1530810851000',
  fingerprint: 'ioc:8f3a1c0d9e2b4a17',
  detector: 'ioc',
  severity: 'high',
  start_time: START,
  end_time: END,
  status: 'open',
  revision: 2,
  technique: 'T1071',
  source_ip: '10.0.1.15',
  source_type: 'wep',
  source_namespace: 'management-ui',
  source_name: 'management-ui-5d8b7c9f4-x2k9q',
  source_name_aggr: 'management-ui-5d8b7c9f4-*',
  source_labels: { role: 'management-ui' },
  source_workload: 'deployment/management-ui',
  dest_ip: '203.0.113.66',
  dest_port: 443,
  dest_type: 'net',
  dest_namespace: null,
  dest_name: null,
  dest_name_aggr: 'pub',
  dest_labels: {},
  dest_workload: null,
  proto: 6,
  indicator: '203.0.113.0/24',
  feed: 'example-blocklist',
  summary: 'management-ui-5d8b7c9f4-* sent 68874 bytes to 203.0.113.66:443, listed by example-blocklist (203.0.113.0/24)',
  evidence: { matched_end: 'dest', bytes_out: '68874' },
  count: 11,
  samples: [
    {
      start_time: START,
      end_time: START + 10_000,
      source_ip: '10.0.1.15',
      source_port: 51234,
      dest_ip: '203.0.113.66',
      dest_port: 443,
      proto: 6,
      action: 'allow',
      reporter: 'src',
      bytes_out: 6260,
      bytes_in: 1032,
    },
  ],
};

export const sampleResponseAction: Full<RecordTypes['ResponseAction']> = {
  action_id: 'quarantine:5f0c2a9e:1530811160000',
  alert_id: sampleAlert.alert_id,
  kind: 'quarantine',
  target: { kind: 'Pod', namespace: 'management-ui', name: 'management-ui-5d8b7c9f4-x2k9q', uid: '5f0c2a9e-3a4b-4c1d-9e8f-0a1b2c3d4e60' },
  dry_run: true,
  status: 'applied',
  reason: 'alert ioc severity high',
  requested_by: 'detector:ioc',
  requested_at: END + 3000,
  completed_at: END + 3400,
  expires_at: END + 3000 + 3600000,
  undoes_action_id: null,
};

export const sampleDeadLetter: Full<RecordTypes['DeadLetter']> = {
  reason: 'INGEST_BAD_LINE',
  message: 'expected 24 fields, found 23',
  retriable: false,
  stage: 'ingest',
  record_type: 'RawFlow',
  source: { topic: null, partition: null, offset: null, position: null, file: 'calico-cloudwatch-flowlogs.txt', line: 3 },
  original: Buffer.from('1530810851 1530811157 hep - eth0.* - net - pub - - - 17 - 123 3 3 2 out 3 3 228 228'),
  failed_at: END + 1000,
};

export const samples: { readonly [N in SchemaName]: Full<RecordTypes[N]> } = {
  RawFlow: sampleRawFlow,
  InventoryEvent: sampleInventoryEvent,
  EnrichedFlow: sampleEnrichedFlow,
  Alert: sampleAlert,
  ResponseAction: sampleResponseAction,
  DeadLetter: sampleDeadLetter,
};
