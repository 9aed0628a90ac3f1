import type { EnrichedFlow, IdentityResolution, Labels, RawFlow } from '../schemas/types.js';
import { CidrMatcher, privateRanges } from './addresses.js';
import type { EndpointIdentity, IdentityTable } from './identity-table.js';

export interface EnricherOptions {
  /** Named network sets, CIDR blocks by name (`aws: [52.94.0.0/22, …]`): such addresses are `net` with that name. */
  readonly networks?: Readonly<Record<string, readonly string[]>>;
  /**
   * Where the inventory is expected to know every address (pod, node and service ranges). An
   * address there that the table does not know is worth waiting for; after the grace it goes out
   * as `unknown`. Default: the private ranges.
   */
  readonly clusterCidrs?: readonly string[];
}

export interface EnricherStats {
  /** Ends resolved, by how. */
  readonly reported: number;
  readonly inventory: number;
  readonly network: number;
  /** Ends in the cluster ranges the inventory did not know, even after the grace. */
  readonly unknown: number;
}

/** One end of a flow, resolved. */
interface ResolvedEnd {
  readonly identity: EndpointIdentity;
  readonly resolution: IdentityResolution;
}

const serviceProtocols: Record<number, string> = { 6: 'TCP', 17: 'UDP', 132: 'SCTP' };
const noLabels: Labels = Object.freeze({}) as Labels;

function networkEnd(nameAggr: string, resolution: IdentityResolution): ResolvedEnd {
  return { identity: { type: 'net', namespace: null, name: null, nameAggr, labels: noLabels, serviceAccount: null, node: null, workload: null }, resolution };
}

const noAddress = networkEnd('-', 'unknown');

/**
 * Joins a RawFlow with who both ends were at the flow's time. Pure over the identity table it is
 * given: the same table and flow give the same record.
 *
 * Each end, in order: identity the record already carries (Calico flow logs) is kept, and only
 * what it lacks (service account, node, workload) is filled from the table; else the table's
 * answer for the address during [start_time, end_time]; else a Calico network set, a configured
 * named network, or `pvt`/`pub` by range.
 */
export class Enricher {
  private readonly named = new CidrMatcher<string>();
  private readonly cluster = new CidrMatcher<true>();
  private readonly privateRanges = new CidrMatcher<true>();

  constructor(
    private readonly table: IdentityTable,
    options: EnricherOptions = {},
  ) {
    for (const [name, cidrs] of Object.entries(options.networks ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
      for (const cidr of cidrs) this.named.add(cidr, name);
    }
    for (const cidr of privateRanges) this.privateRanges.add(cidr, true);
    for (const cidr of options.clusterCidrs ?? privateRanges) this.cluster.add(cidr, true);
  }

  /**
   * The EnrichedFlow. `lookahead` (milliseconds) also accepts an object the inventory saw up to
   * that long after the flow ended: the grace a caller waited.
   */
  enrich(flow: RawFlow, lookahead = 0): EnrichedFlow {
    const start = flow.start_time;
    const end = flow.end_time;
    const source = this.resolve(flow.source_type, flow.source_ip, flow.source_namespace, flow.source_name, flow.source_name_aggr, flow.source_labels, start, end, lookahead);
    const dest = this.resolve(flow.dest_type, flow.dest_ip, flow.dest_namespace, flow.dest_name, flow.dest_name_aggr, flow.dest_labels, start, end, lookahead);
    let serviceNamespace = flow.dest_service_namespace ?? null;
    let serviceName = flow.dest_service_name ?? null;
    let servicePort = flow.dest_service_port ?? null;
    let servicePortNum = flow.dest_service_port_num ?? null;
    if (serviceName === null && flow.dest_ip) {
      const found = this.table.serviceAt(flow.dest_ip, flow.dest_port ?? null, serviceProtocols[flow.proto], start, end);
      if (found) {
        serviceNamespace = found.service.namespace;
        serviceName = found.service.name;
        servicePort = found.port?.name ?? null;
        servicePortNum = found.port?.port ?? null;
      }
    }
    const s = source.identity;
    const d = dest.identity;
    return {
      start_time: start,
      end_time: end,
      origin: flow.origin,
      host: flow.host,
      source_ip: flow.source_ip ?? null,
      source_port: flow.source_port ?? null,
      source_type: s.type,
      source_namespace: s.namespace,
      source_name: s.name,
      source_name_aggr: s.nameAggr,
      source_labels: s.labels,
      source_service_account: s.serviceAccount,
      source_node: s.node,
      source_workload: s.workload,
      source_resolution: source.resolution,
      dest_ip: flow.dest_ip ?? null,
      dest_port: flow.dest_port ?? null,
      dest_type: d.type,
      dest_namespace: d.namespace,
      dest_name: d.name,
      dest_name_aggr: d.nameAggr,
      dest_labels: d.labels,
      dest_service_account: d.serviceAccount,
      dest_node: d.node,
      dest_workload: d.workload,
      dest_resolution: dest.resolution,
      dest_service_namespace: serviceNamespace,
      dest_service_name: serviceName,
      dest_service_port: servicePort,
      dest_service_port_num: servicePortNum,
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

  private resolve(
    type: RawFlow['source_type'],
    ip: string | null | undefined,
    namespace: string | null | undefined,
    name: string | null | undefined,
    nameAggr: string | null | undefined,
    labels: Labels | null | undefined,
    start: number,
    end: number,
    lookahead: number,
  ): ResolvedEnd {
    if (type) {
      const known = ip ? this.table.endpointAt(ip, start, end) : undefined;
      const same = known !== undefined && known.type === type && known.namespace === (namespace ?? null);
      return {
        identity: {
          type,
          namespace: namespace ?? null,
          name: name ?? null,
          nameAggr: nameAggr ?? name ?? '-',
          labels: labels ?? (same ? known.labels : noLabels),
          serviceAccount: same ? known.serviceAccount : null,
          node: same ? known.node : null,
          workload: same ? known.workload : null,
        },
        resolution: 'reported',
      };
    }
    if (!ip) {
      return noAddress;
    }
    const held = this.table.endpointAt(ip, start, end, lookahead);
    if (held) {
      return { identity: held, resolution: 'inventory' };
    }
    if (this.table.serviceOfClusterIp(ip, start, end)) {
      // A Service's virtual address: no endpoint of its own; dest_service_* names the Service.
      return networkEnd(this.named.match(ip) ?? (this.privateRanges.match(ip) ? 'pvt' : 'pub'), 'inventory');
    }
    const networkSet = this.table.networkSetOf(ip);
    if (networkSet) {
      return { identity: networkSet, resolution: 'network' };
    }
    const expected = this.cluster.match(ip) !== undefined;
    const resolution: IdentityResolution = expected ? 'unknown' : 'network';
    const network = this.named.match(ip) ?? (this.privateRanges.match(ip) ? 'pvt' : 'pub');
    return networkEnd(network, resolution);
  }
}
