/**
 * Index templates with explicit mappings, one per record kind, and the retention policy. Pure:
 * the bodies only; `opensearch-setup.ts` puts them.
 *
 * Mappings: `ip` for addresses (so `10.0.0.0/16` matches as a CIDR), `keyword` for names,
 * namespaces, labels and enums, `date` (epoch milliseconds) for times, `integer`/`long` for ports
 * and counters. `dynamic: false`: a field the template does not know (a newer record version)
 * stays in `_source` but is not indexed, and never fails a write. Label maps are kept unindexed;
 * their `key=value` lists (`source_label`, `dest_label`) are the searchable form.
 */
import type { SinkRecordKind } from '../outlet.js';
import { defaultIndexNaming, indexPatternOf, indexWords, type IndexNaming } from './documents.js';

type Mapping = Record<string, unknown>;

const date: Mapping = { type: 'date', format: 'epoch_millis' };
const ip: Mapping = { type: 'ip' };
const keyword: Mapping = { type: 'keyword' };
const integer: Mapping = { type: 'integer' };
const long: Mapping = { type: 'long' };
const double: Mapping = { type: 'double' };
const unindexed: Mapping = { type: 'object', enabled: false };

const fieldsOf = (type: Mapping, names: readonly string[]): Record<string, Mapping> => Object.fromEntries(names.map((name) => [name, type]));

/** The fields both ends of a flow (and an alert's subject) have, for `source` and `dest`. */
function endFields(side: 'source' | 'dest'): Record<string, Mapping> {
  return {
    [`${side}_ip`]: ip,
    ...fieldsOf(keyword, ['type', 'namespace', 'name', 'name_aggr', 'workload', 'label'].map((field) => `${side}_${field}`)),
    [`${side}_labels`]: unindexed,
  };
}

const flowProperties: Record<string, Mapping> = {
  ...fieldsOf(date, ['@timestamp', 'start_time', 'end_time']),
  ...endFields('source'),
  ...endFields('dest'),
  ...fieldsOf(keyword, [
    'flow_id',
    'origin',
    'host',
    'source_service_account',
    'source_node',
    'source_resolution',
    'dest_service_account',
    'dest_node',
    'dest_resolution',
    'dest_service_namespace',
    'dest_service_name',
    'dest_service_port',
    'reporter',
    'action',
    'policies',
    'process_name',
    'process_id',
    'process_args',
  ]),
  ...fieldsOf(integer, ['source_port', 'dest_port', 'dest_service_port_num', 'proto']),
  ...fieldsOf(long, [
    'bytes',
    'packets',
    'bytes_in',
    'bytes_out',
    'packets_in',
    'packets_out',
    'num_flows',
    'num_flows_started',
    'num_flows_completed',
    'tcp_min_send_congestion_window',
    'tcp_max_smooth_rtt',
    'tcp_max_min_rtt',
    'tcp_min_mss',
    'tcp_total_retransmissions',
    'tcp_lost_packets',
    'tcp_unrecovered_to',
  ]),
  ...fieldsOf(double, ['tcp_mean_send_congestion_window', 'tcp_mean_smooth_rtt', 'tcp_mean_min_rtt', 'tcp_mean_mss']),
};

const alertProperties: Record<string, Mapping> = {
  ...fieldsOf(date, ['@timestamp', 'start_time', 'end_time', 'opened_at']),
  ...endFields('source'),
  ...endFields('dest'),
  ...fieldsOf(keyword, ['alert_id', 'fingerprint', 'detector', 'severity', 'status', 'technique', 'indicator', 'feed']),
  ...fieldsOf(integer, ['revision', 'dest_port', 'proto']),
  count: long,
  summary: { type: 'text', fields: { raw: { type: 'keyword', ignore_above: 1024 } } },
  evidence: unindexed,
  samples: {
    type: 'object',
    properties: {
      ...fieldsOf(date, ['start_time', 'end_time']),
      ...fieldsOf(ip, ['source_ip', 'dest_ip']),
      ...fieldsOf(integer, ['source_port', 'dest_port', 'proto']),
      ...fieldsOf(keyword, ['action', 'reporter']),
      ...fieldsOf(long, ['bytes_out', 'bytes_in']),
    },
  },
};

const actionProperties: Record<string, Mapping> = {
  ...fieldsOf(date, ['@timestamp', 'requested_at', 'completed_at', 'expires_at']),
  ...fieldsOf(keyword, ['action_id', 'alert_id', 'kind', 'status', 'requested_by', 'undoes_action_id']),
  dry_run: { type: 'boolean' },
  reason: { type: 'text', fields: { raw: { type: 'keyword', ignore_above: 1024 } } },
  target: { type: 'object', properties: fieldsOf(keyword, ['kind', 'namespace', 'name', 'uid']) },
};

export const mappingsOf: Readonly<Record<SinkRecordKind, Record<string, Mapping>>> = {
  flow: flowProperties,
  alert: alertProperties,
  action: actionProperties,
};

export interface TemplateSettings {
  readonly shards: number;
  readonly replicas: number;
  /** How soon a write is searchable; longer is cheaper. Default `5s`. */
  readonly refreshInterval: string;
}

export const defaultTemplateSettings: TemplateSettings = { shards: 1, replicas: 1, refreshInterval: '5s' };

/** `flowsentry-flows` ...: the template's (and the retention policy's) name for a kind. */
export function templateNameOf(kind: SinkRecordKind, naming: IndexNaming = defaultIndexNaming): string {
  return `${naming.prefix}-${indexWords[kind]}`;
}

/** The body of `PUT _index_template/<name>` for a kind. */
export function indexTemplateOf(kind: SinkRecordKind, settings: TemplateSettings = defaultTemplateSettings, naming: IndexNaming = defaultIndexNaming) {
  return {
    index_patterns: [indexPatternOf(kind, naming)],
    priority: 100,
    template: {
      settings: {
        number_of_shards: settings.shards,
        number_of_replicas: settings.replicas,
        refresh_interval: settings.refreshInterval,
      },
      mappings: { dynamic: false, properties: mappingsOf[kind] },
    },
    _meta: { managed_by: 'flowsentry', kind },
  };
}

/**
 * The body of `PUT _plugins/_ism/policies/<name>`: indices of the kind are deleted `days` after
 * they were created, and the policy attaches itself to every new index of the kind.
 */
export function retentionPolicyOf(kind: SinkRecordKind, days: number, naming: IndexNaming = defaultIndexNaming) {
  return {
    policy: {
      description: `flowsentry: delete ${indexWords[kind]} indices after ${days} days`,
      default_state: 'hot',
      states: [
        { name: 'hot', actions: [], transitions: [{ state_name: 'delete', conditions: { min_index_age: `${days}d` } }] },
        { name: 'delete', actions: [{ delete: {} }], transitions: [] },
      ],
      ism_template: [{ index_patterns: [indexPatternOf(kind, naming)], priority: 100 }],
    },
  };
}
