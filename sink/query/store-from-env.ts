/**
 * Which flow store a process queries: OpenSearch when OPENSEARCH_URL is set; otherwise the
 * embedded store `flowsentry run` writes, at FLOWSENTRY_STORE_PATH (default
 * `.flowsentry/store.db` under the current directory), opened read-only. No store file there
 * is a QUERY_NO_STORE error saying where it looked.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { openEmbeddedFlowStore } from '../embedded/embedded-store.js';
import { defaultIndexNaming, type IndexNaming } from '../opensearch/documents.js';
import { openSearchClient, openSearchConnectionFromEnv } from '../opensearch/opensearch-client.js';
import type { FlowStore } from './flow-store.js';
import { OpenSearchFlowStore } from './opensearch-flow-store.js';
import { QueryError } from './query-errors.js';

/** A prefix OpenSearch takes as the first word of index names: lower case, no separators first. */
export const indexPrefixPattern = /^[a-z0-9][a-z0-9._-]{0,100}$/;

/** Where the embedded store lives when FLOWSENTRY_STORE_PATH does not say: relative to the current directory. */
export const defaultEmbeddedStorePath = '.flowsentry/store.db';

/** The embedded store's file: FLOWSENTRY_STORE_PATH (when set and not empty) or the default, as an absolute path. */
export function embeddedStorePath(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  return resolve(cwd, env.FLOWSENTRY_STORE_PATH || defaultEmbeddedStorePath);
}

export function flowStoreFromEnv(env: NodeJS.ProcessEnv = process.env, naming: IndexNaming = defaultIndexNaming): FlowStore {
  let connection;
  try {
    connection = openSearchConnectionFromEnv(env);
  } catch (error) {
    throw new QueryError('QUERY_NO_STORE', (error as Error).message);
  }
  if (connection) return new OpenSearchFlowStore({ client: openSearchClient(connection), naming });

  const path = embeddedStorePath(env);
  if (!existsSync(path)) {
    throw new QueryError(
      'QUERY_NO_STORE',
      `OPENSEARCH_URL is not set and there is no embedded store at ${path} (FLOWSENTRY_STORE_PATH, default ${defaultEmbeddedStorePath} under the current directory): ` +
        'run `flowsentry run` (or `npm start`) first to fill it, or set OPENSEARCH_URL (e.g. http://localhost:9200) to query OpenSearch',
    );
  }
  try {
    return openEmbeddedFlowStore(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new QueryError('QUERY_STORE_FAILED', `embedded store ${path}: ${typeof code === 'string' ? `${code}: ` : ''}${(error as Error).message}`);
  }
}
