/**
 * What both stores share to turn flows (memory) or aggregation buckets (OpenSearch) into
 * answers: the node an end stands for, the accumulators of each question and their orders. Pure.
 */
import { parseCidr } from '../../enrich/addresses.js';
import type { EnrichedFlow } from '../../schemas/types.js';
import type { GraphNode, TalkerKey, TalkerSide } from './flow-filter.js';
import type { Caller, GraphEdge, Party, Talker } from './flow-store.js';

export type Side = 'source' | 'dest';

/** The identity fields of one end of a flow, as stored. */
export interface EndIdentity {
  readonly ip: string | null;
  readonly namespace: string | null;
  readonly name: string | null;
  readonly name_aggr: string | null;
  readonly workload: string | null;
}

export function endOf(flow: EnrichedFlow, side: Side): EndIdentity {
  return side === 'source'
    ? { ip: flow.source_ip ?? null, namespace: flow.source_namespace ?? null, name: flow.source_name ?? null, name_aggr: flow.source_name_aggr ?? null, workload: flow.source_workload ?? null }
    : { ip: flow.dest_ip ?? null, namespace: flow.dest_namespace ?? null, name: flow.dest_name ?? null, name_aggr: flow.dest_name_aggr ?? null, workload: flow.dest_workload ?? null };
}

/**
 * The node an end is under a key: its address; its aggregated name; or its workload, else (an
 * address outside the cluster, a host) its aggregated name. Undefined when the end lacks it.
 */
export function partyOf(end: EndIdentity, key: TalkerKey | GraphNode): Party | undefined {
  if (key === 'ip') return end.ip === null ? undefined : { namespace: null, name: end.ip };
  const name = key === 'workload' ? (end.workload ?? end.name_aggr) : end.name_aggr;
  return name === null ? undefined : { namespace: end.namespace, name };
}

const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** An address as a 128-bit number (IPv4 as IPv4-mapped IPv6), the order of OpenSearch `ip` fields. */
function ipOrder(ip: string): bigint {
  try {
    const parsed = parseCidr(ip);
    return parsed.bits === 32 ? 0xffff00000000n + parsed.network : parsed.network;
  } catch {
    return -1n;
  }
}

export function compareIp(a: string, b: string): number {
  const [x, y] = [ipOrder(a), ipOrder(b)];
  return x < y ? -1 : x > y ? 1 : compareText(a, b);
}

export function compareParty(a: Party | undefined, b: Party | undefined, key: TalkerKey | GraphNode): number {
  if (!a || !b) return a ? 1 : b ? -1 : 0;
  if (key === 'ip') return compareIp(a.name, b.name);
  return compareText(a.namespace ?? '', b.namespace ?? '') || compareText(a.name, b.name);
}

const partyKey = (party: Party | undefined) => (party ? `${party.namespace ?? ''}\u0000${party.name}` : '');

/** Sums flows and bytes per source, destination or pair. */
export class TalkerTally {
  private readonly talkers = new Map<string, { source?: Party; dest?: Party; flows: number; bytes: number }>();

  add(source: Party | undefined, dest: Party | undefined, flows: number, bytes: number): void {
    const id = `${partyKey(source)}\u0001${partyKey(dest)}`;
    const talker = this.talkers.get(id);
    if (talker) {
      talker.flows += flows;
      talker.bytes += bytes;
    } else {
      this.talkers.set(id, { ...(source ? { source } : {}), ...(dest ? { dest } : {}), flows, bytes });
    }
  }

  /** Each flow under its source, destination or pair (`by`), named by `key`; flows whose end has no such name count for none. */
  addFlows(flows: Iterable<EnrichedFlow>, by: TalkerSide, key: TalkerKey): this {
    for (const flow of flows) {
      const source = by === 'dest' ? undefined : partyOf(endOf(flow, 'source'), key);
      const dest = by === 'source' ? undefined : partyOf(endOf(flow, 'dest'), key);
      if ((by !== 'dest' && !source) || (by !== 'source' && !dest)) continue;
      this.add(source, dest, 1, flow.bytes_in + flow.bytes_out);
    }
    return this;
  }

  /** The first `limit` by bytes, then flows (both descending), then source and destination. */
  top(key: TalkerKey, limit: number): Talker[] {
    return [...this.talkers.values()].sort((a, b) => rankTalkers(a, b, key)).slice(0, limit);
  }
}

export function rankTalkers(a: Talker, b: Talker, key: TalkerKey): number {
  return b.bytes - a.bytes || b.flows - a.flows || compareParty(a.source, b.source, key) || compareParty(a.dest, b.dest, key);
}

/** Flows, bytes, ports and denials per edge. */
export class EdgeTally {
  private readonly edges = new Map<string, { source: Party; dest: Party; flows: number; bytes: number; ports: Set<number>; denied_flows: number }>();

  add(source: Party, dest: Party, port: number | null, flows: number, bytes: number, deniedFlows: number): void {
    const id = `${partyKey(source)}\u0001${partyKey(dest)}`;
    let edge = this.edges.get(id);
    if (!edge) this.edges.set(id, (edge = { source, dest, flows: 0, bytes: 0, ports: new Set(), denied_flows: 0 }));
    edge.flows += flows;
    edge.bytes += bytes;
    if (port !== null) edge.ports.add(port);
    edge.denied_flows += deniedFlows;
  }

  /** Every edge, by source then destination (namespace, then name). */
  edgesInOrder(node: GraphNode): GraphEdge[] {
    return [...this.edges.values()]
      .sort((a, b) => compareParty(a.source, b.source, node) || compareParty(a.dest, b.dest, node))
      .map(({ ports, denied_flows, ...edge }) => ({ ...edge, ports: [...ports].sort((x, y) => x - y), denied: denied_flows > 0, denied_flows }));
  }
}

type CallerSource = Caller['source'];

/** Flows, bytes, denials and first and last seen per source. */
export class CallerTally {
  private readonly callers = new Map<string, { -readonly [K in keyof Caller]: Caller[K] }>();

  add(source: CallerSource, flows: number, bytes: number, deniedFlows: number, firstSeen: number, lastSeen: number): void {
    const id = [source.ip, source.namespace, source.name, source.workload].map((part) => part ?? '').join('\u0000');
    const caller = this.callers.get(id);
    if (!caller) {
      this.callers.set(id, { source, flows, bytes, denied_flows: deniedFlows, first_seen: firstSeen, last_seen: lastSeen });
      return;
    }
    caller.flows += flows;
    caller.bytes += bytes;
    caller.denied_flows += deniedFlows;
    caller.first_seen = Math.min(caller.first_seen, firstSeen);
    caller.last_seen = Math.max(caller.last_seen, lastSeen);
  }

  /** By first seen, then address, namespace and name. */
  callersInOrder(): Caller[] {
    return [...this.callers.values()].sort(
      (a, b) =>
        a.first_seen - b.first_seen ||
        compareIp(a.source.ip ?? '', b.source.ip ?? '') ||
        compareText(a.source.namespace ?? '', b.source.namespace ?? '') ||
        compareText(a.source.name ?? '', b.source.name ?? ''),
    );
  }
}
