import type { Alert, EnrichedFlow, FlowSample } from '../schemas/types.js';

export type Side = 'source' | 'dest';

/**
 * Who an end of a flow is, for detection: the pod (or address) that acts, and the stable
 * workload its baselines belong to, so a rollout (new ReplicaSet hash, new IPs) keeps them.
 */
export interface FlowEndKeys {
  /** The acting entity: `<ns>/<pod>` for a pod, else its address, else `<ns>/<aggregated name>`. */
  readonly entity: string;
  /** What baselines are learned for: `<ns>/<kind>/<name>` for a workload, `<type>:<network or name>` otherwise. */
  readonly workload: string;
}

/** A ReplicaSet's pods are named `<deployment>-<pod-template-hash>-*`; the hash alphabet has no vowels. */
const replicaSetAggr = /^(.+)-[bcdfghjklmnpqrstvwxz2456789]{5,10}-\*$/;

/**
 * The stable workload of an end as `kind/name`: the enricher's when it found one; for identities
 * reported by Calico (which carry only the aggregated name) the Deployment is read off the
 * ReplicaSet name; else the aggregated name itself.
 */
export function stableWorkloadOf(flow: EnrichedFlow, side: Side): string {
  const workload = side === 'source' ? flow.source_workload : flow.dest_workload;
  if (workload) return workload;
  const aggr = side === 'source' ? flow.source_name_aggr : flow.dest_name_aggr;
  const deployment = replicaSetAggr.exec(aggr);
  return deployment ? `deployment/${deployment[1]}` : aggr;
}

export function endKeysOf(flow: EnrichedFlow, side: Side): FlowEndKeys {
  const source = side === 'source';
  const type = source ? flow.source_type : flow.dest_type;
  const namespace = (source ? flow.source_namespace : flow.dest_namespace) ?? '';
  const name = source ? flow.source_name : flow.dest_name;
  const ip = source ? flow.source_ip : flow.dest_ip;
  const aggr = source ? flow.source_name_aggr : flow.dest_name_aggr;
  const workload = type === 'wep' ? `${namespace}/${stableWorkloadOf(flow, side)}` : `${type}:${type === 'hep' ? '*' : aggr}`;
  if (type === 'wep' && name) return { entity: `${namespace}/${name}`, workload };
  if (ip) return { entity: ip, workload };
  return { entity: `${namespace}/${aggr}`, workload };
}

/** Whether the destination is outside the cluster and the private networks: public, or a named network not listed as internal. */
export function isPublicDest(flow: EnrichedFlow, internalNetworks: ReadonlySet<string>): boolean {
  return flow.dest_type === 'net' && flow.dest_name_aggr !== 'pvt' && !internalNetworks.has(flow.dest_name_aggr);
}

export function isDenied(flow: EnrichedFlow): boolean {
  return flow.action === 'deny';
}

/** A flow that carried almost nothing: a probe (SYN answered by RST, one UDP datagram). */
export function isShortFlow(flow: EnrichedFlow): boolean {
  const flows = Math.max(1, flow.num_flows);
  return (flow.packets_in + flow.packets_out) / flows <= 3;
}

export function sampleOf(flow: EnrichedFlow): FlowSample {
  return {
    start_time: flow.start_time,
    end_time: flow.end_time,
    source_ip: flow.source_ip ?? null,
    source_port: flow.source_port ?? null,
    dest_ip: flow.dest_ip ?? null,
    dest_port: flow.dest_port ?? null,
    proto: flow.proto,
    action: flow.action,
    reporter: flow.reporter,
    bytes_out: flow.bytes_out,
    bytes_in: flow.bytes_in,
  };
}

/** The fields of an alert that name both ends, copied from a flow (the alert's subject is usually its source). */
export type AlertEnds = Pick<
  Alert,
  | 'source_ip'
  | 'source_type'
  | 'source_namespace'
  | 'source_name'
  | 'source_name_aggr'
  | 'source_labels'
  | 'source_workload'
  | 'dest_ip'
  | 'dest_port'
  | 'dest_type'
  | 'dest_namespace'
  | 'dest_name'
  | 'dest_name_aggr'
  | 'dest_labels'
  | 'dest_workload'
  | 'proto'
>;

export function alertEndsOf(flow: EnrichedFlow): AlertEnds {
  return {
    source_ip: flow.source_ip ?? null,
    source_type: flow.source_type,
    source_namespace: flow.source_namespace ?? null,
    source_name: flow.source_name ?? null,
    source_name_aggr: flow.source_name_aggr,
    source_labels: flow.source_labels,
    source_workload: flow.source_type === 'wep' ? stableWorkloadOf(flow, 'source') : (flow.source_workload ?? null),
    dest_ip: flow.dest_ip ?? null,
    dest_port: flow.dest_port ?? null,
    dest_type: flow.dest_type,
    dest_namespace: flow.dest_namespace ?? null,
    dest_name: flow.dest_name ?? null,
    dest_name_aggr: flow.dest_name_aggr,
    dest_labels: flow.dest_labels,
    dest_workload: flow.dest_type === 'wep' ? stableWorkloadOf(flow, 'dest') : (flow.dest_workload ?? null),
    proto: flow.proto,
  };
}
