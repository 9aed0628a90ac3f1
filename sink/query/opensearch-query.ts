/**
 * The query model compiled to OpenSearch's query DSL, and the answers read back from responses.
 * Pure: request bodies in, response bodies out; `opensearch-flow-store.ts` sends them.
 *
 * - Filters become a `bool` of `filter` clauses (no scoring): `terms` on keyword, integer and
 *   `ip` fields (an `ip` field takes CIDR blocks in term queries), one `term` per label on the
 *   `source_label`/`dest_label` keyword lists, a `range` on `@timestamp` (the flow's end), and
 *   for `any` a `bool.should` of the same clauses on each end.
 * - Flows page with `search_after` on (`@timestamp`, `flow_id`): no deep paging, no total.
 * - Top talkers by address: a `terms` aggregation ordered by summed bytes (exact on one shard;
 *   across shards OpenSearch's usual top-N approximation, widened by `shard_size`). Everything
 *   else is a `composite` aggregation paged to its end, so graphs and caller lists are complete.
 */
import { decodeCursor, encodeCursor } from './cursor.js';
import { endFields, type EndFilter, type FlowFilter, type GraphNode, type TalkerKey, type TopTalkersRequest } from './flow-filter.js';
import type { Caller, FlowPage, PageRequest, Party, StoredFlow } from './flow-store.js';
import { QueryError } from './query-errors.js';
import { readIpOrBlock } from './query-params.js';
import { partyOf, type CallerTally, type EdgeTally, type Side, type TalkerTally } from './results.js';

export type Json = Record<string, unknown>;

const terms = (field: string, values: readonly unknown[]): Json => (values.length === 1 ? { term: { [field]: values[0] } } : { terms: { [field]: values } });

export function endClauses(side: Side, end: EndFilter): Json[] {
  const clauses: Json[] = [];
  for (const field of endFields) {
    const values = end[field];
    if (!values || values.length === 0) continue;
    if (field === 'label') clauses.push(...values.map((pair) => ({ term: { [`${side}_label`]: pair } })));
    // Addresses in the form OpenSearch accepts (an IPv4-mapped block as its IPv4 block).
    else if (field === 'ip') clauses.push(terms(`${side}_ip`, values.map((value) => readIpOrBlock(String(value)) ?? value)));
    else clauses.push(terms(`${side}_${field}`, values));
  }
  return clauses;
}

/** The `query` of a filter: a `bool` of filter clauses, or `match_all`. */
export function compileFilter(filter: FlowFilter): Json {
  const clauses: Json[] = [];
  if (filter.from !== undefined || filter.to !== undefined) {
    clauses.push({
      range: { '@timestamp': { ...(filter.from !== undefined ? { gte: filter.from } : {}), ...(filter.to !== undefined ? { lt: filter.to } : {}), format: 'epoch_millis' } },
    });
  }
  if (filter.source) clauses.push(...endClauses('source', filter.source));
  if (filter.dest) clauses.push(...endClauses('dest', filter.dest));
  for (const end of filter.any ?? []) {
    const [source, dest] = [endClauses('source', end), endClauses('dest', end)];
    if (source.length > 0) clauses.push({ bool: { should: [{ bool: { filter: source } }, { bool: { filter: dest } }], minimum_should_match: 1 } });
  }
  for (const field of ['proto', 'action', 'reporter', 'host'] as const) {
    const values = filter[field];
    if (values && values.length > 0) clauses.push(terms(field, values));
  }
  return clauses.length === 0 ? { match_all: {} } : { bool: { filter: clauses } };
}

export const flowSort = [{ '@timestamp': { order: 'asc' } }, { flow_id: { order: 'asc' } }];

/** One page of flows: `limit + 1` hits asked, so the last page is known without another request. */
export function flowsSearchBody(filter: FlowFilter, page: PageRequest): Json {
  const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
  if (page.cursor !== undefined && !after) throw QueryError.badCursor();
  return {
    size: page.limit + 1,
    track_total_hits: false,
    query: compileFilter(filter),
    sort: flowSort,
    ...(after ? { search_after: [after.time, after.flowId] } : {}),
  };
}

/** Fields the documents add to the record (`documents.ts`), left out of answers. */
const derivedFields = ['@timestamp', 'source_label', 'dest_label', 'bytes', 'packets'];

export function flowOfSource(source: Json): StoredFlow {
  const flow = { ...source };
  for (const field of derivedFields) delete flow[field];
  return flow as unknown as StoredFlow;
}

interface Hit {
  readonly _source?: Json;
}

export function flowPageOf(response: Json, page: PageRequest): FlowPage {
  const hits = ((response.hits as { hits?: Hit[] } | undefined)?.hits ?? []).map((hit) => flowOfSource(hit._source ?? {}));
  if (hits.length <= page.limit) return { flows: hits };
  const flows = hits.slice(0, page.limit);
  const last = flows[flows.length - 1]!;
  return { flows, next: encodeCursor({ time: last.end_time, flowId: last.flow_id }) };
}

// ---------------------------------------------------------------------------------------------
// Aggregations

export const compositePageSize = 1_000;

type Composite = Record<string, { terms: { field: string; missing_bucket?: boolean } }>;
const source = (field: string): Composite[string] => ({ terms: { field, missing_bucket: true } });

/** The composite sources naming an end under a key (`s_ns`, `s_wl`, `s_aggr` or `s_ip`). */
function partySources(side: Side, key: TalkerKey | GraphNode): Composite[] {
  const tag = side === 'source' ? 's' : 'd';
  if (key === 'ip') return [{ [`${tag}_ip`]: source(`${side}_ip`) }];
  return [
    { [`${tag}_ns`]: source(`${side}_namespace`) },
    ...(key === 'workload' ? [{ [`${tag}_wl`]: source(`${side}_workload`) }] : []),
    { [`${tag}_aggr`]: source(`${side}_name_aggr`) },
  ];
}

type BucketKey = Record<string, string | number | null>;
interface Bucket {
  readonly key: BucketKey;
  readonly doc_count: number;
  readonly bytes?: { value: number | null };
  readonly first?: { value: number | null };
  readonly last?: { value: number | null };
  readonly denied?: { doc_count: number };
}
export interface CompositeResult {
  readonly buckets: readonly Bucket[];
  readonly after?: BucketKey;
}

const text = (value: string | number | null | undefined) => (value === null || value === undefined ? null : String(value));

function partyOfKey(key: BucketKey, side: Side, by: TalkerKey | GraphNode): Party | undefined {
  const tag = side === 'source' ? 's' : 'd';
  return partyOf(
    { ip: text(key[`${tag}_ip`]), namespace: text(key[`${tag}_ns`]), name: null, name_aggr: text(key[`${tag}_aggr`]), workload: text(key[`${tag}_wl`]) },
    by,
  );
}

function compositeBody(filter: FlowFilter, sources: Composite[], aggs: Json, after: BucketKey | undefined): Json {
  return {
    size: 0,
    track_total_hits: false,
    query: compileFilter(filter),
    aggs: { groups: { composite: { size: compositePageSize, sources, ...(after ? { after } : {}) }, aggs } },
  };
}

export function compositeResultOf(response: Json): CompositeResult {
  const groups = (response.aggregations as { groups?: { buckets?: Bucket[]; after_key?: BucketKey } } | undefined)?.groups;
  const buckets = groups?.buckets ?? [];
  return { buckets, ...(buckets.length > 0 && groups?.after_key ? { after: groups.after_key } : {}) };
}

const sumBytes = { bytes: { sum: { field: 'bytes' } } };

/** Top talkers by address, from one side: one `terms` aggregation, ordered as the answer is. */
export function talkersTermsBody(filter: FlowFilter, request: TopTalkersRequest & { by: Side }): Json {
  return {
    size: 0,
    track_total_hits: false,
    query: compileFilter(filter),
    aggs: {
      talkers: {
        terms: { field: `${request.by}_ip`, size: request.limit, shard_size: Math.max(request.limit * 5, 500), order: [{ bytes: 'desc' }, { _count: 'desc' }, { _key: 'asc' }] },
        aggs: sumBytes,
      },
    },
  };
}

export function readTalkersTerms(response: Json, request: TopTalkersRequest & { by: Side }, tally: TalkerTally): void {
  const buckets = (response.aggregations as { talkers?: { buckets?: { key: string; doc_count: number; bytes: { value: number | null } }[] } } | undefined)?.talkers?.buckets ?? [];
  for (const bucket of buckets) {
    const party: Party = { namespace: null, name: bucket.key };
    tally.add(request.by === 'source' ? party : undefined, request.by === 'dest' ? party : undefined, bucket.doc_count, bucket.bytes.value ?? 0);
  }
}

/** Whether top talkers are a single `terms` aggregation (by address, one side) or composite pages. */
export const talkersUseTerms = (request: TopTalkersRequest): request is TopTalkersRequest & { by: Side } => request.key === 'ip' && request.by !== 'pair';

export function talkersCompositeBody(filter: FlowFilter, request: TopTalkersRequest, after?: BucketKey): Json {
  const sides: Side[] = request.by === 'pair' ? ['source', 'dest'] : [request.by];
  return compositeBody(filter, sides.flatMap((side) => partySources(side, request.key)), sumBytes, after);
}

export function readTalkersComposite(result: CompositeResult, request: TopTalkersRequest, tally: TalkerTally): void {
  for (const bucket of result.buckets) {
    const source = request.by === 'dest' ? undefined : partyOfKey(bucket.key, 'source', request.key);
    const dest = request.by === 'source' ? undefined : partyOfKey(bucket.key, 'dest', request.key);
    if ((request.by !== 'dest' && !source) || (request.by !== 'source' && !dest)) continue;
    tally.add(source, dest, bucket.doc_count, bucket.bytes?.value ?? 0);
  }
}

const deniedCount = { denied: { filter: { term: { action: 'deny' } } } };

/** The graph: one bucket per (source node, destination node, port), complete; denied flows counted in each. */
export function graphBody(filter: FlowFilter, node: GraphNode, after?: BucketKey): Json {
  const sources: Composite[] = [...partySources('source', node), ...partySources('dest', node), { port: source('dest_port') }];
  return compositeBody(filter, sources, { ...sumBytes, ...deniedCount }, after);
}

export function readGraph(result: CompositeResult, node: GraphNode, tally: EdgeTally): void {
  for (const bucket of result.buckets) {
    const from = partyOfKey(bucket.key, 'source', node);
    const to = partyOfKey(bucket.key, 'dest', node);
    const port = bucket.key.port;
    if (from && to) tally.add(from, to, typeof port === 'number' ? port : null, bucket.doc_count, bucket.bytes?.value ?? 0, bucket.denied?.doc_count ?? 0);
  }
}

/** Who talked to an address: one bucket per source (address, namespace, name, workload), complete. */
export function callersBody(filter: FlowFilter, after?: BucketKey): Json {
  const sources: Composite[] = [{ s_ip: source('source_ip') }, { s_ns: source('source_namespace') }, { s_name: source('source_name') }, { s_wl: source('source_workload') }];
  const aggs = {
    ...sumBytes,
    first: { min: { field: 'start_time' } },
    last: { max: { field: 'end_time' } },
    ...deniedCount,
  };
  return compositeBody(filter, sources, aggs, after);
}

export function readCallers(result: CompositeResult, tally: CallerTally): void {
  for (const { key, doc_count, bytes, first, last, denied } of result.buckets) {
    const caller: Caller['source'] = { ip: text(key.s_ip), namespace: text(key.s_ns), name: text(key.s_name), workload: text(key.s_wl) };
    tally.add(caller, doc_count, bytes?.value ?? 0, denied?.doc_count ?? 0, first?.value ?? 0, last?.value ?? 0);
  }
}
