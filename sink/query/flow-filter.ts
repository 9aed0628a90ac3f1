/**
 * The query model: which flows a question is about. Pure data; the parsers build it
 * (`query-params.ts`), `flow-match.ts` evaluates it in memory and `opensearch-query.ts` compiles
 * it to OpenSearch's query DSL.
 *
 * Semantics, the same in every store:
 * - Times are a flow's `end_time` (epoch ms): `from` inclusive, `to` exclusive.
 * - Within a field, the values are alternatives (any of them); across fields, all must hold.
 *   Labels are the exception: every `key=value` given must be on the end.
 * - `source` and `dest` constrain that end. Each element of `any` must hold, all its fields on
 *   the same end (source or dest): `{ namespace: ['data'], workload: ['statefulset/postgres'] }`
 *   is a flow to or from that workload, never one from `data` to some other postgres.
 * - `ip` values are addresses or CIDR blocks (`10.0.1.0/24`).
 */
import type { FlowAction, Reporter } from '../../schemas/types.js';

export const endFields = ['namespace', 'name', 'name_aggr', 'workload', 'label', 'ip', 'port'] as const;
export type EndField = (typeof endFields)[number];

/** Conditions on one end of a flow. */
export interface EndFilter {
  readonly namespace?: readonly string[];
  readonly name?: readonly string[];
  readonly name_aggr?: readonly string[];
  readonly workload?: readonly string[];
  /** `key=value`; every one must be on the end. */
  readonly label?: readonly string[];
  /** Addresses or CIDR blocks. */
  readonly ip?: readonly string[];
  readonly port?: readonly number[];
}

export interface FlowFilter {
  /** Epoch ms, inclusive, on `end_time`. */
  readonly from?: number;
  /** Epoch ms, exclusive, on `end_time`. */
  readonly to?: number;
  readonly source?: EndFilter;
  readonly dest?: EndFilter;
  /** Each holds on one end or the other (all of its fields on the same end). */
  readonly any?: readonly EndFilter[];
  /** IP protocol numbers: 6 tcp, 17 udp, 1 icmp. */
  readonly proto?: readonly number[];
  readonly action?: readonly FlowAction[];
  readonly reporter?: readonly Reporter[];
  readonly host?: readonly string[];
}

export const protocolNumbers: Readonly<Record<string, number>> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132 };

/** The name of a protocol number (`tcp`), or the number as text. */
export function protocolName(proto: number): string {
  return Object.entries(protocolNumbers).find(([, number]) => number === proto)?.[0] ?? String(proto);
}

/** Whether an end filter has any condition. */
export const endFilterIsEmpty = (end: EndFilter | undefined): boolean => !end || endFields.every((field) => (end[field]?.length ?? 0) === 0);

/** A pod by namespace and name, or an address. */
export type PodRef = { readonly namespace: string; readonly name: string } | { readonly ip: string };

export const podRefText = (pod: PodRef): string => ('ip' in pod ? pod.ip : `${pod.namespace}/${pod.name}`);

/** The end conditions that pick a pod out. */
export const podEnd = (pod: PodRef): EndFilter => ('ip' in pod ? { ip: [pod.ip] } : { namespace: [pod.namespace], name: [pod.name] });

export interface TimelineRequest {
  readonly pod: PodRef;
  /** The moment looked at (an alert's time), epoch ms. */
  readonly at: number;
  /** How far back and forward from `at`, in ms. */
  readonly before: number;
  readonly after: number;
  /** More conditions (its time range is replaced by the window). */
  readonly filter?: FlowFilter;
}

/**
 * A timeline as a filter: flows with the pod at either end that ended in
 * [at - before, at + after] (both inclusive), and the extra conditions.
 */
export function timelineFilter(request: TimelineRequest): FlowFilter {
  const extra = { ...request.filter };
  delete extra.from;
  delete extra.to;
  return { ...extra, from: request.at - request.before, to: request.at + request.after + 1, any: [...(extra.any ?? []), podEnd(request.pod)] };
}

export type TalkerSide = 'source' | 'dest' | 'pair';
/** What a talker is: its workload (else its aggregated name), its aggregated name, or its address. */
export type TalkerKey = 'workload' | 'name_aggr' | 'ip';
export type GraphNode = 'workload' | 'name_aggr';

export interface TopTalkersRequest {
  readonly by: TalkerSide;
  readonly key: TalkerKey;
  readonly limit: number;
}

/** Who talked to an address (or block): flows to it, with the other conditions (its own destination address replaced). */
export function whoTalkedToFilter(ip: string, filter: FlowFilter): FlowFilter {
  return { ...filter, dest: { ...filter.dest, ip: [ip] } };
}
