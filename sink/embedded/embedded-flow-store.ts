/**
 * The flow store over the embedded SQLite file. SQL picks the candidates by the record's columns
 * (`flow-conditions.ts`; indexed: end time, addresses and blocks, namespaces), in the API's order
 * for pages; each candidate's record is then checked with `flowMatches` and summed with the
 * tallies of `results.ts`, so every answer is the one the memory and OpenSearch stores give.
 *
 * Rows are read one at a time (a statement iterator): a page holds its `limit` flows and stops
 * reading at the first match past them (that match's presence is what gives a `next` cursor). An
 * aggregation holds its tally (one entry per talker, edge or caller), never the flows: SQLite
 * sums the groups (flows, bytes, denials, first and last seen) when the filter has no label
 * condition, else each matching record is added to the tally in turn.
 */
import type { Database, Statement } from 'better-sqlite3';
import type { EnrichedFlow } from '../../schemas/types.js';
import { decodeCursor, encodeCursor } from '../query/cursor.js';
import { timelineFilter, whoTalkedToFilter, type FlowFilter, type GraphNode, type TalkerKey, type TimelineRequest, type TopTalkersRequest } from '../query/flow-filter.js';
import { flowMatches } from '../query/flow-match.js';
import type { Caller, FlowPage, FlowStore, GraphEdge, PageRequest, Party, StoredFlow, Talker } from '../query/flow-store.js';
import { QueryError } from '../query/query-errors.js';
import { CallerTally, EdgeTally, endOf, partyOf, TalkerTally, type Side } from '../query/results.js';
import { flowCondition, type FlowCondition, type SqlValue } from './flow-conditions.js';

const bytesOf = (flow: EnrichedFlow) => flow.bytes_in + flow.bytes_out;

/** The SQL of the node an end is under a key (namespace, name), as `partyOf` makes it. */
function partyColumns(side: Side, key: TalkerKey | GraphNode): readonly [namespace: string, name: string] {
  if (key === 'ip') return ['NULL', `${side}_ip`];
  return [`${side}_namespace`, key === 'workload' ? `coalesce(${side}_workload, ${side}_name_aggr)` : `${side}_name_aggr`];
}

const noParty = ['NULL', 'NULL'] as const;

/** A node from its grouped columns; undefined when the end lacks it (no address). */
const partyFrom = (namespace: string | null, name: string | null): Party | undefined => (name === null ? undefined : { namespace, name });

interface Group {
  readonly flows: number;
  readonly bytes: number;
}

/** A failure of SQLite (locked past the busy timeout, I/O, a damaged file) as the query layer's error. */
function storeFailed(error: unknown): never {
  if (error instanceof QueryError) throw error;
  const code = (error as { code?: unknown } | null)?.code;
  const busy = typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code);
  throw new QueryError('QUERY_STORE_FAILED', `embedded store: ${typeof code === 'string' ? `${code}: ` : ''}${(error as Error).message}`, busy);
}

export class EmbeddedFlowStore implements FlowStore {
  private readonly statements = new Map<string, Statement>();

  /** Over a connection it does not own: `close()` leaves it open. */
  constructor(private readonly db: Database) {}

  private statement(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      // Filters differ in how many values they give; keep the last few hundred shapes prepared.
      if (this.statements.size >= 256) this.statements.clear();
      this.statements.set(sql, (statement = this.db.prepare(sql)));
    }
    return statement;
  }

  /**
   * The flows a filter matches, parsed: in the API's order from after a position, or in no order
   * (aggregations with label conditions). SQL selects (and sorts, when no index gives the order)
   * ids and keys only; each record is read by its id as it is reached.
   */
  private *matching(filter: FlowFilter, order?: { readonly after?: { time: number; flowId: string } }): Generator<StoredFlow> {
    const condition = flowCondition(filter);
    const params: SqlValue[] = [...condition.params];
    let sql = `SELECT id, flow_id FROM flows WHERE ${condition.sql}`;
    if (order?.after) {
      sql += ' AND (end_time, flow_id) > (?, ?)';
      params.push(order.after.time, order.after.flowId);
    }
    if (order) sql += ' ORDER BY end_time, flow_id';
    const recordOf = this.statement('SELECT record FROM flow_records WHERE id = ?').pluck();
    for (const row of this.statement(sql).iterate(params) as IterableIterator<{ id: number; flow_id: string }>) {
      const flow = this.parse(recordOf.get(row.id) as string, row.flow_id, filter);
      if (flow) yield flow;
    }
  }

  /** A stored record with its id, when it matches the filter. */
  private parse(record: string, flowId: string, filter: FlowFilter): StoredFlow | undefined {
    const flow = JSON.parse(record) as EnrichedFlow & { flow_id: string };
    if (!flowMatches(flow, filter)) return undefined;
    flow.flow_id = flowId;
    return flow;
  }

  async flows(filter: FlowFilter, page: PageRequest): Promise<FlowPage> {
    const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
    if (page.cursor !== undefined && !after) throw QueryError.badCursor();
    try {
      const flows: StoredFlow[] = [];
      for (const flow of this.matching(filter, after ? { after } : {})) {
        if (flows.length === page.limit) {
          const last = flows[flows.length - 1]!;
          return { flows, next: encodeCursor({ time: last.end_time, flowId: last.flow_id }) };
        }
        flows.push(flow);
      }
      return { flows };
    } catch (error) {
      return storeFailed(error);
    }
  }

  timeline(request: TimelineRequest, page: PageRequest): Promise<FlowPage> {
    return this.flows(timelineFilter(request), page);
  }

  /** Groups of flows summed by SQLite: the rows of `SELECT <columns>, <sums> ... GROUP BY` the columns. */
  private groups<T>(condition: FlowCondition, columns: readonly string[], sums: string): IterableIterator<T> {
    const groupBy = columns.map((_, i) => i + 1).join(', ');
    const sql = `SELECT ${columns.map((column, i) => `${column} AS c${i}`).join(', ')}, ${sums} FROM flows WHERE ${condition.sql} GROUP BY ${groupBy}`;
    return this.statement(sql).iterate([...condition.params]) as IterableIterator<T>;
  }

  async topTalkers(filter: FlowFilter, request: TopTalkersRequest): Promise<readonly Talker[]> {
    try {
      const tally = new TalkerTally();
      const condition = flowCondition(filter);
      if (condition.exact) {
        const source = request.by === 'dest' ? noParty : partyColumns('source', request.key);
        const dest = request.by === 'source' ? noParty : partyColumns('dest', request.key);
        type Row = Group & { c0: string | null; c1: string | null; c2: string | null; c3: string | null };
        for (const row of this.groups<Row>(condition, [...source, ...dest], 'count(*) AS flows, sum(bytes) AS bytes')) {
          const from = partyFrom(row.c0, row.c1);
          const to = partyFrom(row.c2, row.c3);
          if ((request.by !== 'dest' && !from) || (request.by !== 'source' && !to)) continue;
          tally.add(from, to, row.flows, row.bytes);
        }
        return tally.top(request.key, request.limit);
      }
      return tally.addFlows(this.matching(filter), request.by, request.key).top(request.key, request.limit);
    } catch (error) {
      return storeFailed(error);
    }
  }

  async serviceGraph(filter: FlowFilter, node: GraphNode): Promise<readonly GraphEdge[]> {
    try {
      const tally = new EdgeTally();
      const condition = flowCondition(filter);
      if (condition.exact) {
        type Row = Group & { c0: string | null; c1: string | null; c2: string | null; c3: string | null; c4: number | null; denied: number };
        const columns = [...partyColumns('source', node), ...partyColumns('dest', node), 'dest_port'];
        for (const row of this.groups<Row>(condition, columns, "count(*) AS flows, sum(bytes) AS bytes, sum(action = 'deny') AS denied")) {
          const source = partyFrom(row.c0, row.c1);
          const dest = partyFrom(row.c2, row.c3);
          if (source && dest) tally.add(source, dest, row.c4, row.flows, row.bytes, row.denied);
        }
        return tally.edgesInOrder(node);
      }
      for (const flow of this.matching(filter)) {
        const source = partyOf(endOf(flow, 'source'), node);
        const dest = partyOf(endOf(flow, 'dest'), node);
        if (source && dest) tally.add(source, dest, flow.dest_port ?? null, 1, bytesOf(flow), flow.action === 'deny' ? 1 : 0);
      }
      return tally.edgesInOrder(node);
    } catch (error) {
      return storeFailed(error);
    }
  }

  async whoTalkedTo(ip: string, filter: FlowFilter): Promise<readonly Caller[]> {
    try {
      const tally = new CallerTally();
      const asked = whoTalkedToFilter(ip, filter);
      const condition = flowCondition(asked);
      if (condition.exact) {
        type Row = Group & { c0: string | null; c1: string | null; c2: string | null; c3: string | null; denied: number; first: number; last: number };
        const sums = "count(*) AS flows, sum(bytes) AS bytes, sum(action = 'deny') AS denied, min(start_time) AS first, max(end_time) AS last";
        for (const row of this.groups<Row>(condition, ['source_ip', 'source_namespace', 'source_name', 'source_workload'], sums)) {
          tally.add({ ip: row.c0, namespace: row.c1, name: row.c2, workload: row.c3 }, row.flows, row.bytes, row.denied, row.first, row.last);
        }
        return tally.callersInOrder();
      }
      for (const flow of this.matching(asked)) {
        const { ip: sourceIp, namespace, name, workload } = endOf(flow, 'source');
        tally.add({ ip: sourceIp, namespace, name, workload }, 1, bytesOf(flow), flow.action === 'deny' ? 1 : 0, flow.start_time, flow.end_time);
      }
      return tally.callersInOrder();
    } catch (error) {
      return storeFailed(error);
    }
  }

  async close(): Promise<void> {
    this.statements.clear();
  }
}
