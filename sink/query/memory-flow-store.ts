/**
 * The flow store in memory: EnrichedFlow records evaluated with the query model in plain
 * TypeScript. The fake the contract suite checks against the real stores, and the embedded
 * default for small deployments and replays. Flow ids are the OpenSearch document ids.
 */
import { flowIdOf } from '../opensearch/documents.js';
import type { EnrichedFlow } from '../../schemas/types.js';
import { compareFlowPosition, decodeCursor, encodeCursor } from './cursor.js';
import { timelineFilter, whoTalkedToFilter, type FlowFilter, type GraphNode, type TimelineRequest, type TopTalkersRequest } from './flow-filter.js';
import { flowMatches } from './flow-match.js';
import type { Caller, FlowPage, FlowStore, GraphEdge, PageRequest, StoredFlow, Talker } from './flow-store.js';
import { CallerTally, EdgeTally, endOf, partyOf, TalkerTally } from './results.js';
import { QueryError } from './query-errors.js';

const positionOf = (flow: StoredFlow) => ({ time: flow.end_time, flowId: flow.flow_id });
const bytesOf = (flow: EnrichedFlow) => flow.bytes_in + flow.bytes_out;

export class MemoryFlowStore implements FlowStore {
  private readonly byId = new Map<string, StoredFlow>();
  private sorted: StoredFlow[] | undefined = [];

  constructor(flows: Iterable<EnrichedFlow> = []) {
    this.add(flows);
  }

  /** Adds flows; one already held (same content) is kept once. */
  add(flows: Iterable<EnrichedFlow>): void {
    for (const flow of flows) {
      const flow_id = flowIdOf(flow);
      if (this.byId.has(flow_id)) continue;
      this.byId.set(flow_id, { ...flow, flow_id });
      this.sorted = undefined;
    }
  }

  get size(): number {
    return this.byId.size;
  }

  private inOrder(): StoredFlow[] {
    this.sorted ??= [...this.byId.values()].sort((a, b) => compareFlowPosition(positionOf(a), positionOf(b)));
    return this.sorted;
  }

  private *matching(filter: FlowFilter): Iterable<StoredFlow> {
    for (const flow of this.inOrder()) if (flowMatches(flow, filter)) yield flow;
  }

  async flows(filter: FlowFilter, page: PageRequest): Promise<FlowPage> {
    const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
    if (page.cursor !== undefined && !after) throw QueryError.badCursor();
    const flows: StoredFlow[] = [];
    for (const flow of this.matching(filter)) {
      if (after && compareFlowPosition(positionOf(flow), after) <= 0) continue;
      if (flows.length === page.limit) return { flows, next: encodeCursor(positionOf(flows[flows.length - 1]!)) };
      flows.push(flow);
    }
    return { flows };
  }

  timeline(request: TimelineRequest, page: PageRequest): Promise<FlowPage> {
    return this.flows(timelineFilter(request), page);
  }

  async topTalkers(filter: FlowFilter, request: TopTalkersRequest): Promise<readonly Talker[]> {
    return new TalkerTally().addFlows(this.matching(filter), request.by, request.key).top(request.key, request.limit);
  }

  async serviceGraph(filter: FlowFilter, node: GraphNode): Promise<readonly GraphEdge[]> {
    const tally = new EdgeTally();
    for (const flow of this.matching(filter)) {
      const source = partyOf(endOf(flow, 'source'), node);
      const dest = partyOf(endOf(flow, 'dest'), node);
      if (source && dest) tally.add(source, dest, flow.dest_port ?? null, 1, bytesOf(flow), flow.action === 'deny' ? 1 : 0);
    }
    return tally.edgesInOrder(node);
  }

  async whoTalkedTo(ip: string, filter: FlowFilter): Promise<readonly Caller[]> {
    const tally = new CallerTally();
    for (const flow of this.matching(whoTalkedToFilter(ip, filter))) {
      const { ip: sourceIp, namespace, name, workload } = endOf(flow, 'source');
      tally.add({ ip: sourceIp, namespace, name, workload }, 1, bytesOf(flow), flow.action === 'deny' ? 1 : 0, flow.start_time, flow.end_time);
    }
    return tally.callersInOrder();
  }

  async close(): Promise<void> {}
}
