/** The questions the forensic query layer answers; every store (OpenSearch, memory, ...) answers all. */
import type { EnrichedFlow } from '../../schemas/types.js';
import type { FlowFilter, GraphNode, TimelineRequest, TopTalkersRequest } from './flow-filter.js';

/** A stored flow: the record and its id (the OpenSearch document id, a hash of its content). */
export type StoredFlow = EnrichedFlow & { readonly flow_id: string };

export interface PageRequest {
  /** At most this many flows (1..10000). */
  readonly limit: number;
  /** Where the previous page ended: its `next`. */
  readonly cursor?: string;
}

export interface FlowPage {
  /** By end time, then flow id. */
  readonly flows: readonly StoredFlow[];
  /** The cursor of the next page; absent on the last one. */
  readonly next?: string;
}

/** One end as a node: its namespace (null outside the cluster) and its workload, aggregated name or address. */
export interface Party {
  readonly namespace: string | null;
  readonly name: string;
}

export interface Talker {
  readonly source?: Party;
  readonly dest?: Party;
  /** Flow records. */
  readonly flows: number;
  /** Both directions. */
  readonly bytes: number;
}

export interface GraphEdge {
  readonly source: Party;
  readonly dest: Party;
  readonly flows: number;
  readonly bytes: number;
  /** Destination ports seen, ascending (flows without a port, ICMP, add none). */
  readonly ports: readonly number[];
  /** Whether any flow on the edge was denied, and how many were. */
  readonly denied: boolean;
  readonly denied_flows: number;
}

export interface Caller {
  readonly source: { readonly ip: string | null; readonly namespace: string | null; readonly name: string | null; readonly workload: string | null };
  readonly flows: number;
  readonly bytes: number;
  readonly denied_flows: number;
  /** Earliest start and latest end of its flows, epoch ms. */
  readonly first_seen: number;
  readonly last_seen: number;
}

export interface FlowStore {
  /** Matching flows by end time then flow id, a page at a time. */
  flows(filter: FlowFilter, page: PageRequest): Promise<FlowPage>;
  /** Everything a pod did, as either end, around a moment; by time. */
  timeline(request: TimelineRequest, page: PageRequest): Promise<FlowPage>;
  /** The heaviest sources, destinations or pairs by bytes (then flows, then name). */
  topTalkers(filter: FlowFilter, request: TopTalkersRequest): Promise<readonly Talker[]>;
  /** Every edge between nodes (complete, never top-N), by source then destination. */
  serviceGraph(filter: FlowFilter, node: GraphNode): Promise<readonly GraphEdge[]>;
  /** Every source that sent flows to an address (or CIDR block), by first seen. */
  whoTalkedTo(ip: string, filter: FlowFilter): Promise<readonly Caller[]>;
  close(): Promise<void>;
}
