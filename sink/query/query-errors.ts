/** Errors of the query layer, with codes; `retriable` says whether asking again may succeed. */
export type QueryErrorCode = 'QUERY_BAD_REQUEST' | 'QUERY_BAD_CURSOR' | 'QUERY_STORE_FAILED' | 'QUERY_NO_STORE';

export const queryErrorCodes: Readonly<Record<QueryErrorCode, string>> = {
  QUERY_BAD_REQUEST: 'a parameter or flag is invalid; every problem is listed',
  QUERY_BAD_CURSOR: 'the cursor is not one this API gave',
  QUERY_STORE_FAILED: 'the store (OpenSearch) failed to answer',
  QUERY_NO_STORE: 'no store: OPENSEARCH_URL unset and no embedded store file',
};

export class QueryError extends Error {
  override readonly name = 'QueryError';
  constructor(
    readonly code: QueryErrorCode,
    message: string,
    readonly retriable = false,
    readonly problems: readonly string[] = [],
  ) {
    super(message);
  }

  static badCursor(): QueryError {
    return new QueryError('QUERY_BAD_CURSOR', 'cursor: not a cursor this API gave (use the `next` of the previous page)');
  }
}
