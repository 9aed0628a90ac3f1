/**
 * Which flow store a process queries: OpenSearch when OPENSEARCH_URL is set. (The embedded store
 * is the default to come; until then no URL is a QUERY_NO_STORE error.)
 */
import { defaultIndexNaming, type IndexNaming } from '../opensearch/documents.js';
import { openSearchClient, openSearchConnectionFromEnv } from '../opensearch/opensearch-client.js';
import type { FlowStore } from './flow-store.js';
import { OpenSearchFlowStore } from './opensearch-flow-store.js';
import { QueryError } from './query-errors.js';

/** A prefix OpenSearch takes as the first word of index names: lower case, no separators first. */
export const indexPrefixPattern = /^[a-z0-9][a-z0-9._-]{0,100}$/;

export function flowStoreFromEnv(env: NodeJS.ProcessEnv = process.env, naming: IndexNaming = defaultIndexNaming): FlowStore {
  let connection;
  try {
    connection = openSearchConnectionFromEnv(env);
  } catch (error) {
    throw new QueryError('QUERY_NO_STORE', (error as Error).message);
  }
  if (!connection) {
    throw new QueryError(
      'QUERY_NO_STORE',
      'OPENSEARCH_URL is not set: the query layer reads flows from OpenSearch (set OPENSEARCH_URL, e.g. http://localhost:9200; an embedded store is not available yet)',
    );
  }
  return new OpenSearchFlowStore({ client: openSearchClient(connection), naming });
}
