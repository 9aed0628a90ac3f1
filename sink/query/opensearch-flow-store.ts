/**
 * The flow store over OpenSearch: the flows the sink wrote (`flowDocument`, daily indices
 * `<prefix>-flows-*`), asked with the bodies of `opensearch-query.ts`. Indices that do not exist
 * yet are no error: the answer is empty.
 */
import type { Client } from '@opensearch-project/opensearch';
import { defaultIndexNaming, indexPatternOf, type IndexNaming } from '../opensearch/documents.js';
import { timelineFilter, whoTalkedToFilter, type FlowFilter, type GraphNode, type TimelineRequest, type TopTalkersRequest } from './flow-filter.js';
import type { Caller, FlowPage, FlowStore, GraphEdge, PageRequest, Talker } from './flow-store.js';
import {
  callersBody,
  compositeResultOf,
  flowPageOf,
  flowsSearchBody,
  graphBody,
  readCallers,
  readGraph,
  readTalkersComposite,
  readTalkersTerms,
  talkersCompositeBody,
  talkersTermsBody,
  talkersUseTerms,
  type CompositeResult,
  type Json,
} from './opensearch-query.js';
import { QueryError } from './query-errors.js';
import { CallerTally, EdgeTally, TalkerTally } from './results.js';

export interface OpenSearchFlowStoreOptions {
  readonly client: Client;
  /** The prefix the sink writes under (default `flowsentry`). */
  readonly naming?: IndexNaming;
  /** Whether `close` closes the client (default true). */
  readonly ownsClient?: boolean;
}

const retriableStatus = (status: number | undefined) => status === undefined || status === 429 || status >= 500;

export class OpenSearchFlowStore implements FlowStore {
  private readonly client: Client;
  private readonly index: string;
  private readonly ownsClient: boolean;

  constructor(options: OpenSearchFlowStoreOptions) {
    this.client = options.client;
    this.index = indexPatternOf('flow', options.naming ?? defaultIndexNaming);
    this.ownsClient = options.ownsClient ?? true;
  }

  private async search(body: Json): Promise<Json> {
    try {
      const response = await this.client.search({ index: this.index, ignore_unavailable: true, allow_no_indices: true, body: body as never });
      return response.body as unknown as Json;
    } catch (error) {
      const status = (error as { meta?: { statusCode?: number } }).meta?.statusCode;
      const reason = (error as { meta?: { body?: { error?: { reason?: string; root_cause?: { reason?: string }[] } } } }).meta?.body?.error;
      const detail = reason?.root_cause?.[0]?.reason ?? reason?.reason ?? (error as Error).message;
      throw new QueryError('QUERY_STORE_FAILED', `OpenSearch ${this.index}: ${status ?? 'no response'}: ${detail}`, retriableStatus(status));
    }
  }

  /** Every page of a composite aggregation, each handed to `read`. */
  private async eachComposite(body: (after: CompositeResult['after']) => Json, read: (result: CompositeResult) => void): Promise<void> {
    let after: CompositeResult['after'];
    do {
      const result = compositeResultOf(await this.search(body(after)));
      read(result);
      after = result.after;
    } while (after);
  }

  async flows(filter: FlowFilter, page: PageRequest): Promise<FlowPage> {
    return flowPageOf(await this.search(flowsSearchBody(filter, page)), page);
  }

  timeline(request: TimelineRequest, page: PageRequest): Promise<FlowPage> {
    return this.flows(timelineFilter(request), page);
  }

  async topTalkers(filter: FlowFilter, request: TopTalkersRequest): Promise<readonly Talker[]> {
    const tally = new TalkerTally();
    if (talkersUseTerms(request)) readTalkersTerms(await this.search(talkersTermsBody(filter, request)), request, tally);
    else await this.eachComposite((after) => talkersCompositeBody(filter, request, after), (result) => readTalkersComposite(result, request, tally));
    return tally.top(request.key, request.limit);
  }

  async serviceGraph(filter: FlowFilter, node: GraphNode): Promise<readonly GraphEdge[]> {
    const tally = new EdgeTally();
    await this.eachComposite((after) => graphBody(filter, node, after), (result) => readGraph(result, node, tally));
    return tally.edgesInOrder(node);
  }

  async whoTalkedTo(ip: string, filter: FlowFilter): Promise<readonly Caller[]> {
    const tally = new CallerTally();
    const toIp = whoTalkedToFilter(ip, filter);
    await this.eachComposite((after) => callersBody(toIp, after), (result) => readCallers(result, tally));
    return tally.callersInOrder();
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.close();
  }
}
