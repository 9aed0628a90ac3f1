import { noFlowExtras } from '../../schemas/defaults.js';
import type { EnrichedFlow } from '../../schemas/types.js';

/** One end of an enriched flow, as the enricher names it. */
export interface FlowEndSpec {
  readonly type: 'wep' | 'hep' | 'net';
  readonly ip: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly nameAggr: string;
  readonly workload?: string;
  readonly labels?: Record<string, string>;
}

/** A pod of a Deployment: `<deployment>-<hash>-<suffix>` in `namespace`. */
export function deploymentPod(namespace: string, deployment: string, ip: string, suffix = 'x1', hash = '7d9f8c6b5'): FlowEndSpec {
  return {
    type: 'wep',
    ip,
    namespace,
    name: `${deployment}-${hash}-${suffix}`,
    nameAggr: `${deployment}-${hash}-*`,
    workload: `deployment/${deployment}`,
    labels: { app: deployment },
  };
}

export const publicAddress = (ip: string): FlowEndSpec => ({ type: 'net', ip, nameAggr: 'pub' });
export const privateAddress = (ip: string): FlowEndSpec => ({ type: 'net', ip, nameAggr: 'pvt' });
export const nodeAddress = (name: string, ip: string): FlowEndSpec => ({ type: 'hep', ip, name, nameAggr: name });

export interface FlowFields {
  /** End of the flow, epoch ms; it lasted 5 s. */
  readonly at: number;
  readonly port: number | null;
  readonly proto?: number;
  readonly action?: 'allow' | 'deny';
  readonly reporter?: 'src' | 'dst';
  readonly bytesOut?: number;
  readonly packets?: number;
  readonly sourcePort?: number | null;
  readonly service?: { readonly namespace: string; readonly name: string };
}

const endFields = (end: FlowEndSpec) => ({
  type: end.type,
  namespace: end.namespace ?? null,
  name: end.name ?? null,
  nameAggr: end.nameAggr,
  labels: end.labels ?? {},
  workload: end.workload ?? null,
});

/** An enriched flow at aggregation level 0 between two ends. */
export function enrichedFlow(source: FlowEndSpec, dest: FlowEndSpec, fields: FlowFields): EnrichedFlow {
  const from = endFields(source);
  const to = endFields(dest);
  const packets = fields.packets ?? 10;
  return {
    start_time: fields.at - 5_000,
    end_time: fields.at,
    origin: 'conntrack',
    host: 'node-a',
    source_ip: source.ip,
    source_port: fields.sourcePort === undefined ? 40_000 : fields.sourcePort,
    source_type: from.type,
    source_namespace: from.namespace,
    source_name: from.name,
    source_name_aggr: from.nameAggr,
    source_labels: from.labels,
    source_service_account: null,
    source_node: null,
    source_workload: from.workload,
    source_resolution: source.type === 'net' ? 'network' : 'inventory',
    dest_ip: dest.ip,
    dest_port: fields.port,
    dest_type: to.type,
    dest_namespace: to.namespace,
    dest_name: to.name,
    dest_name_aggr: to.nameAggr,
    dest_labels: to.labels,
    dest_service_account: null,
    dest_node: null,
    dest_workload: to.workload,
    dest_resolution: dest.type === 'net' ? 'network' : 'inventory',
    dest_service_namespace: fields.service?.namespace ?? null,
    dest_service_name: fields.service?.name ?? null,
    dest_service_port: null,
    dest_service_port_num: null,
    proto: fields.proto ?? 6,
    reporter: fields.reporter ?? 'src',
    action: fields.action ?? 'allow',
    policies: [],
    bytes_in: packets * 50,
    bytes_out: fields.bytesOut ?? packets * 80,
    packets_in: Math.floor(packets / 2),
    packets_out: Math.ceil(packets / 2),
    num_flows: 1,
    num_flows_started: 1,
    num_flows_completed: 1,
    ...noFlowExtras,
  };
}
