import type { EnrichedFlow, IdentityResolution, Labels, RawFlow } from '../schemas/types.js';
import { CidrMatcher, privateRanges } from './addresses.js';
import { buildEnrichedFlow, type DestService, type FlowEnd } from './enriched-flow.js';
import { noLabels, type IdentityTable } from './identity-table.js';

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


const serviceProtocols: Record<number, string> = { 6: 'TCP', 17: 'UDP', 132: 'SCTP' };

function networkEnd(nameAggr: string, ip: string | null, port: number | null, resolution: IdentityResolution): FlowEnd {
  return { identity: { type: 'net', namespace: null, name: null, nameAggr, labels: noLabels, serviceAccount: null, node: null, workload: null }, ip, port, resolution };
}

const noService: DestService = Object.freeze({ namespace: null, name: null, port: null, portNum: null });

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
    const source = this.resolve(flow.source_type, flow.source_ip, flow.source_port ?? null, flow.source_namespace, flow.source_name, flow.source_name_aggr, flow.source_labels, start, end, lookahead);
    const dest = this.resolve(flow.dest_type, flow.dest_ip, flow.dest_port ?? null, flow.dest_namespace, flow.dest_name, flow.dest_name_aggr, flow.dest_labels, start, end, lookahead);
    return buildEnrichedFlow(flow, source, dest, this.destService(flow, start, end));
  }

  /** The Service the record names (Calico), else the one the table knows for the destination. */
  private destService(flow: RawFlow, start: number, end: number): DestService {
    if (flow.dest_service_name) {
      return { namespace: flow.dest_service_namespace ?? null, name: flow.dest_service_name, port: flow.dest_service_port ?? null, portNum: flow.dest_service_port_num ?? null };
    }
    const found = flow.dest_ip ? this.table.serviceAt(flow.dest_ip, flow.dest_port ?? null, serviceProtocols[flow.proto], start, end) : undefined;
    if (!found) return noService;
    return { namespace: found.service.namespace, name: found.service.name, port: found.port?.name ?? null, portNum: found.port?.port ?? null };
  }

  private resolve(
    type: RawFlow['source_type'],
    ip: string | null | undefined,
    port: number | null,
    namespace: string | null | undefined,
    name: string | null | undefined,
    nameAggr: string | null | undefined,
    labels: Labels | null | undefined,
    start: number,
    end: number,
    lookahead: number,
  ): FlowEnd {
    const address = ip ?? null;
    if (type) {
      const known = ip ? this.table.endpointAt(ip, start, end) : undefined;
      // Only the same endpoint lends what the record lacks: same kind, namespace, and name (or aggregated name).
      const same =
        known !== undefined &&
        known.type === type &&
        known.namespace === (namespace ?? null) &&
        (name ? known.name === name : nameAggr ? known.nameAggr === nameAggr : false);
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
        ip: address,
        port,
        resolution: 'reported',
      };
    }
    if (!ip) {
      return networkEnd('-', null, port, 'unknown');
    }
    const held = this.table.endpointAt(ip, start, end, lookahead);
    if (held) {
      return { identity: held, ip: address, port, resolution: 'inventory' };
    }
    if (this.table.serviceOfClusterIp(ip, start, end)) {
      // A Service's virtual address: no endpoint of its own; dest_service_* names the Service.
      return networkEnd(this.named.match(ip) ?? (this.privateRanges.match(ip) ? 'pvt' : 'pub'), address, port, 'inventory');
    }
    const networkSet = this.table.networkSetOf(ip);
    if (networkSet) {
      return { identity: networkSet, ip: address, port, resolution: 'network' };
    }
    const expected = this.cluster.match(ip) !== undefined;
    const resolution: IdentityResolution = expected ? 'unknown' : 'network';
    const network = this.named.match(ip) ?? (this.privateRanges.match(ip) ? 'pvt' : 'pub');
    return networkEnd(network, address, port, resolution);
  }
}
